/**
 * Damage at open: a corrupt database is moved aside (kept for rescue) and a fresh one
 * starts, instead of the app failing on every launch. Failures that are not damage are
 * thrown and move nothing.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DB_FILE_NAME, IN_USE_SUFFIX, openStore, type StoreRecovery } from '../../../main/core/store/store.js';
import type { ConversationOptions } from '../../../main/core/store/types.js';
import { tempDataDir, withRawDb } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDataDir()));
afterEach(() => cleanup());

const dbFile = () => path.join(dir, DB_FILE_NAME);

/** A closed history database with some pages of content. */
function seed(): void {
  const store = openStore({ dataDir: dir });
  for (let i = 0; i < 20; i++) {
    const c = store.createConversation(`c${i}`);
    store.addMessage(c.id, { role: 'user', content: `message ${i} ${'lorem ipsum '.repeat(200)}` });
  }
  store.close();
}

function overwrite(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Opens after damage and checks the recovery path; returns what `recovered` reported. */
function openAndExpectRecovery(): StoreRecovery {
  const damagedSize = statSync(dbFile()).size;
  const store = openStore({ dataDir: dir });
  try {
    assert.ok(store.recovered, 'recovery is reported');
    assert.ok(!store.recovered.reason.includes('\n'));
    assert.match(path.basename(store.recovered.movedTo), /^history\.sqlite3\.corrupt-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    assert.equal(path.dirname(store.recovered.movedTo), dir);
    assert.equal(statSync(store.recovered.movedTo).size, damagedSize, 'the damaged copy is kept as it was');
    // The fresh store works.
    const before = store.listConversations().length;
    const c = store.createConversation('after');
    store.addMessage(c.id, { role: 'user', content: 'fresh start' });
    assert.equal(store.search('fresh').length, 1);
    assert.equal(store.listConversations().length, before + 1);
    return store.recovered;
  } finally {
    store.close();
  }
}

describe('recovery at open', () => {
  test('a destroyed header: moved aside, fresh database, and the next open is normal', () => {
    seed();
    overwrite(dbFile(), 0, Buffer.alloc(100, 0x5a));
    const { movedTo, reason } = openAndExpectRecovery();
    assert.match(reason, /^SQLITE_NOTADB/);
    assert.equal(
      readdirSync(dir).filter((f) => f.includes('.corrupt-')).length,
      1,
    );
    const again = openStore({ dataDir: dir });
    try {
      assert.equal(again.recovered, null, 'no loop: the fresh database is healthy');
      assert.deepEqual(again.listConversations().map((c) => c.title), ['after'], 'a destroyed header: nothing could be read');
    } finally {
      again.close();
    }
    assert.equal(statSync(movedTo).isFile(), true);
  });

  test('after an unclean shutdown, a damaged index page, which opening does not read, is caught by the integrity check', () => {
    seed();
    writeFileSync(dbFile() + IN_USE_SUFFIX, '1\n'); // the last run did not close the store
    const [pageSize, root] = withRawDb(dbFile(), (db) => [
      db.pragma('page_size', { simple: true }) as number,
      db.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'messages_conversation'`).pluck().get() as number,
    ]);
    overwrite(dbFile(), (root - 1) * pageSize, Buffer.alloc(pageSize, 0xa7));
    assert.match(openAndExpectRecovery().reason, /^integrity check failed: .*page/);
  });

  test('garbage in every page behind a valid header: SQLite reports corruption', () => {
    seed();
    const pageSize = withRawDb(dbFile(), (db) => db.pragma('page_size', { simple: true }) as number);
    const size = statSync(dbFile()).size;
    overwrite(dbFile(), pageSize, Buffer.alloc(size - pageSize, 0xa7));
    assert.match(openAndExpectRecovery().reason, /^SQLITE_CORRUPT/);
  });

  test('a failure that is not damage is thrown and moves nothing', () => {
    // The database path is a folder: SQLite cannot open it, which is no reason to discard anything.
    mkdirSync(dbFile());
    assert.throws(() => openStore({ dataDir: dir }), { code: 'SQLITE_CANTOPEN' });
    assert.deepEqual(readdirSync(dir), [DB_FILE_NAME]);
  });

  test('a clean close leaves no in-use marker, so the next open skips the integrity check; an open store has one', () => {
    const store = openStore({ dataDir: dir });
    assert.equal(existsSync(dbFile() + IN_USE_SUFFIX), true);
    store.close();
    assert.equal(existsSync(dbFile() + IN_USE_SUFFIX), false);
  });
});

describe('salvage of a damaged database', () => {
  for (const where of ['in the middle of the file', 'over the pages holding conversation 150\'s messages'] as const) test(`8 KiB overwritten ${where}: every conversation and message on readable pages comes back, exactly`, () => {
    // Many conversations with messages of varied sizes, so the tables span many pages.
    const written = new Map<number, { title: string; messages: string[]; options: ConversationOptions }>();
    const store = openStore({ dataDir: dir });
    for (let i = 0; i < 300; i++) {
      const c = store.createConversation(`conversation ${i}`);
      // Every third conversation has answer options of its own (schema v6): salvaged with it.
      const options: ConversationOptions =
        i % 3 === 0 ? { systemPrompt: `system ${i}`, temperature: 0.5 + i / 1000, top_p: 0.9, max_new_tokens: 100 + i, greedy: i % 2 === 0 } : { systemPrompt: null, temperature: null, top_p: null, max_new_tokens: null, greedy: null };
      store.setConversationOptions(c.id, options);
      const messages: string[] = [];
      for (let j = 0; j < 8; j++) {
        const content = `c${i} m${j} ${'word '.repeat(20 + ((i * 7 + j * 13) % 300))}`;
        store.addMessage(c.id, { role: j % 2 ? 'assistant' : 'user', content });
        messages.push(content);
      }
      written.set(c.id, { title: c.title, messages, options });
    }
    store.close();
    const size = statSync(dbFile()).size;
    const at = where === 'in the middle of the file' ? size / 2 : readFileSync(dbFile()).indexOf('c150 m3 ');
    assert.ok(at > 0);
    overwrite(dbFile(), Math.floor(at / 4096) * 4096, Buffer.alloc(8192, 0xa7));
    writeFileSync(dbFile() + IN_USE_SUFFIX, '1\n');

    const after = openStore({ dataDir: dir });
    try {
      const recovered = after.recovered;
      assert.ok(recovered, 'the damage was found');
      const { salvaged } = recovered;
      const totalMessages = 300 * 8;
      const conversations = after.listConversations();
      let messages = 0;
      for (const summary of conversations) {
        const c = after.getConversation(summary.id)!;
        const original = written.get(c.id);
        assert.ok(original, `conversation ${c.id} was written`);
        if (c.title !== 'Recovered conversation') {
          assert.equal(c.title, original.title);
          assert.deepEqual(c.options, original.options, `conversation ${c.id}'s answer options`);
        }
        for (const m of c.messages) assert.ok(original.messages.includes(m.content), `message ${m.id} is exactly as written`);
        messages += c.messages.length;
      }
      assert.equal(salvaged.messages, messages, 'the count told is the count kept');
      assert.equal(salvaged.conversations, conversations.length);
      const lost = totalMessages - messages;
      // Two pages of 4 KiB hold at most a few dozen of these rows (and an index page loses none).
      assert.ok(messages >= totalMessages - 60, `kept ${messages} of ${totalMessages} messages (lost ${lost})`);
      assert.equal(salvaged.expected.messages, totalMessages, 'the damaged copy said how many there were');
      // Search works on what was salvaged.
      assert.ok(after.search('word').length > 0);
      if (where !== 'in the middle of the file') assert.ok(lost > 0, 'rows on the overwritten pages are gone');
      process.stdout.write(`# salvage (${where}): kept ${messages} of ${totalMessages} messages, ${conversations.length} of 300 conversations\n`);
    } finally {
      after.close();
    }
  });
});
