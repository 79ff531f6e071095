/**
 * Upgrades: a database written by schema v1 opens with today's code, keeps its data and
 * stays searchable; one of v5 gains the answer options per conversation (all inheriting); a
 * database from a newer app is refused and left untouched.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { StoreError } from '../../../main/core/store/errors.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../../main/core/store/migrations.js';
import { DB_FILE_NAME, openStore } from '../../../main/core/store/store.js';
import { tempDataDir, withRawDb } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDataDir()));
afterEach(() => cleanup());

const dbFile = () => path.join(dir, DB_FILE_NAME);

describe('migrations', () => {
  test('ids are 1…N without gaps, and the latest is what a new database gets', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.id),
      Array.from({ length: MIGRATIONS.length }, (_, i) => i + 1),
    );
    assert.ok(LATEST_SCHEMA_VERSION >= 2);
    const store = openStore({ dataDir: dir });
    store.close();
    withRawDb(dbFile(), (db) => assert.equal(db.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION));
    // No upgrade happened, so no pre-upgrade backup either.
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.bak')), []);
  });

  test('a v1 database is upgraded with its data intact, searchable, and backed up first', () => {
    const png = Buffer.from('pretend this is a PNG');
    const sha = createHash('sha256').update(png).digest('hex');
    mkdirSync(path.join(dir, 'attachments', sha.slice(0, 2)), { recursive: true });
    writeFileSync(path.join(dir, 'attachments', sha.slice(0, 2), sha), png);

    withRawDb(dbFile(), (db) => {
      db.pragma('journal_mode = WAL');
      db.transaction(() => {
        MIGRATIONS[0]!.up(db);
        db.pragma('user_version = 1');
      })();
      // Data exactly as the v1 app wrote it: its own SQL, no column added later.
      db.exec(`
        INSERT INTO conversations (id, title, created_at, updated_at) VALUES
          (1, 'Integrals', 1000, 5000), (2, 'Уравнения', 2000, 4000);
        INSERT INTO messages (id, conversation_id, role, content, status, model, timings, created_at, updated_at) VALUES
          (1, 1, 'user', 'What is the integral of x squared?', 'complete', NULL, NULL, 1000, 1000),
          (2, 2, 'user', 'Решите квадратное уравнение', 'complete', NULL, NULL, 2000, 2000),
          (3, 1, 'assistant', 'It is x cubed over three.', 'complete', 'tiny-llm', '{"totalMs":120}', 3000, 3000),
          (4, 2, 'assistant', 'Дискриминант равен', 'partial', 'tiny-llm', NULL, 4000, 4000),
          (5, 1, 'user', 'And the derivative?', 'complete', NULL, NULL, 5000, 5000);
        INSERT INTO attachments (sha256, mime, byte_size, width, height, created_at)
          VALUES ('${sha}', 'image/png', ${png.length}, 640, 480, 1000);
        INSERT INTO message_attachments (message_id, position, sha256) VALUES (1, 0, '${sha}');
        INSERT INTO attachment_text (sha256, source, text, created_at) VALUES ('${sha}', 'ocr', 'x^2 dx', 1000);
      `);
    });

    const store = openStore({ dataDir: dir });
    try {
      assert.equal(store.recovered, null);

      const a = store.getConversation(1)!;
      assert.equal(a.title, 'Integrals');
      assert.equal(a.pinned, false);
      assert.equal(a.folder, null);
      assert.equal(a.ocrTokens, 'auto', 'v4: OCR tokens follow the images until the user chooses');
      assert.deepEqual(store.getAttachmentText(sha, 'ocr'), { text: 'x^2 dx', layout: null, createdAt: 1000 }, 'v4: text read before layouts has none');
      assert.deepEqual(
        a.messages.map((m) => [m.id, m.role, m.content, m.status, m.parentId]),
        [
          [1, 'user', 'What is the integral of x squared?', 'complete', null],
          // Interleaved with conversation 2, yet the backfilled chain stays inside conversation 1.
          [3, 'assistant', 'It is x cubed over three.', 'complete', 1],
          [5, 'user', 'And the derivative?', 'complete', 3],
        ],
      );
      assert.deepEqual(a.messages[1]!.timings, { totalMs: 120 });
      assert.equal(a.messages[1]!.model, 'tiny-llm');
      assert.deepEqual(a.messages[0]!.attachments, [
        { sha256: sha, mime: 'image/png', byteSize: png.length, width: 640, height: 480, createdAt: 1000 },
      ]);
      assert.ok(existsSync(store.attachmentPath(sha)), 'a referenced attachment file survives the upgrade');

      const b = store.getConversation(2)!;
      // The reply cut by a crash under v1 is still marked partial.
      assert.deepEqual(
        b.messages.map((m) => [m.id, m.status, m.parentId]),
        [
          [2, 'complete', null],
          [4, 'partial', 2],
        ],
      );

      assert.deepEqual(
        store.search('integral').map((h) => h.messageId),
        [1],
      );
      assert.deepEqual(
        store.search('уравнение').map((h) => [h.conversationId, h.messageId]),
        [[2, 2]],
      );
      assert.deepEqual(
        store.search('dx').map((h) => [h.messageId, h.source]),
        [[1, 'attachment']],
      );

      // The upgraded schema is fully usable: v2 columns and the FTS triggers.
      assert.equal(store.setPinned(2, true), true);
      store.addMessage(1, { role: 'assistant', content: 'Two x, the derivative of x squared.' });
      assert.deepEqual(
        store.listConversations().map((c) => [c.id, c.pinned]),
        [
          [2, true],
          [1, false],
        ],
      );
      assert.deepEqual(store.search('derivative').map((h) => h.messageId).sort(), [5, 6]);
      // v3 rebuilt both indexes with prefix indexes; 2-3 letter prefixes still find the v1 data.
      assert.deepEqual(store.search('de').map((h) => h.messageId).sort(), [5, 6]);
      assert.deepEqual(store.search('уравн').map((h) => h.messageId), [2]);
      assert.deepEqual(store.search('dx').map((h) => h.source), ['attachment']);
    } finally {
      store.close();
    }

    withRawDb(dbFile(), (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION);
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      // Throws when the index disagrees with the messages it indexes.
      db.exec(`INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')`);
      db.exec(`INSERT INTO attachment_text_fts(attachment_text_fts) VALUES ('integrity-check')`);
      for (const t of ['messages_fts', 'attachment_text_fts']) {
        const sql = db.prepare<[string], string>('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(t)!;
        assert.match(sql, /prefix = '2 3'/, t);
      }
    });
    // The copy taken before upgrading is the untouched v1 database.
    withRawDb(`${dbFile()}.v1.bak`, (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), 1);
      assert.equal(db.prepare('SELECT count(*) FROM messages').pluck().get(), 5);
    });
  });

  test('a v5 database gains answer options per conversation, all inheriting; they round-trip and the schema refuses impossible values', () => {
    withRawDb(dbFile(), (db) => {
      db.pragma('journal_mode = WAL');
      for (const m of MIGRATIONS.filter((m) => m.id <= 5)) {
        db.transaction(() => {
          m.up(db);
          db.pragma(`user_version = ${m.id}`);
        })();
      }
      db.exec(`
        INSERT INTO conversations (id, title, created_at, updated_at, pinned, folder, ocr_tokens) VALUES
          (1, 'Receipts', 1000, 3000, 1, 'Work', 'on'), (2, 'Math', 2000, 2000, 0, NULL, 'auto');
        INSERT INTO messages (id, conversation_id, parent_id, role, content, status, created_at, updated_at) VALUES
          (1, 1, NULL, 'user', 'What is the total?', 'complete', 1000, 1000);
      `);
    });
    const inherit = { systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null };
    const store = openStore({ dataDir: dir });
    try {
      const a = store.getConversation(1)!;
      assert.deepEqual([a.title, a.pinned, a.folder, a.ocrTokens, a.messages.length], ['Receipts', true, 'Work', 'on', 1], 'v5 data kept');
      assert.deepEqual(a.options, inherit);
      assert.deepEqual(store.listConversations().map((c) => c.options), [inherit, inherit]);

      const own = { systemPrompt: 'Réponds en français.\n', temperature: 0.7, top_p: 0.95, max_new_tokens: 300, greedy: false };
      assert.equal(store.setConversationOptions(2, own), true);
      assert.deepEqual(store.getConversation(2)!.options, own);
      assert.deepEqual(store.listConversations().find((c) => c.id === 2)!.options, own);
      assert.equal(store.setConversationOptions(2, { ...inherit, systemPrompt: '', greedy: true }), true);
      assert.deepEqual(store.getConversation(2)!.options, { ...inherit, systemPrompt: '', greedy: true }, "'' and true are stored as such, not as NULL");
      assert.equal(store.setConversationOptions(99, own), false, 'no such conversation');
      assert.throws(() => store.setConversationOptions(2, { ...inherit, temperature: '0.7' as unknown as number }), (e: unknown) => e instanceof StoreError && e.code === 'invalid_argument');
    } finally {
      store.close();
    }
    withRawDb(dbFile(), (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), LATEST_SCHEMA_VERSION);
      for (const bad of ['temperature = 0', 'top_p = 1.5', 'max_new_tokens = 0', 'greedy = 2']) {
        assert.throws(() => db.exec(`UPDATE conversations SET ${bad} WHERE id = 1`), /CHECK constraint failed/, bad);
      }
    });
    withRawDb(`${dbFile()}.v5.bak`, (db) => assert.equal(db.pragma('user_version', { simple: true }), 5));
  });

  test('a database from a newer app is refused with one line and left untouched', () => {
    const store = openStore({ dataDir: dir });
    store.addMessage(store.createConversation('Keep me').id, { role: 'user', content: 'hello' });
    store.close();
    const newer = LATEST_SCHEMA_VERSION + 1;
    withRawDb(dbFile(), (db) => db.pragma(`user_version = ${newer}`));

    assert.throws(
      () => openStore({ dataDir: dir }),
      (err: unknown) => {
        assert.ok(err instanceof StoreError);
        assert.equal(err.code, 'newer_schema');
        assert.ok(!err.message.includes('\n'));
        assert.match(err.message, new RegExp(`^history\\.sqlite3 .*schema ${newer}.*${LATEST_SCHEMA_VERSION}`));
        return true;
      },
    );
    // Not mistaken for damage: nothing moved aside, nothing backed up, nothing changed.
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(DB_FILE_NAME)).sort(), [DB_FILE_NAME]);
    withRawDb(dbFile(), (db) => {
      assert.equal(db.pragma('user_version', { simple: true }), newer);
      assert.equal(db.prepare('SELECT content FROM messages').pluck().get(), 'hello');
    });
  });
});
