/**
 * The store's API: conversations, messages and branches, the streaming writer's
 * batching, attachments (dedupe, cleanup, hash validation).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../../../main/core/store/errors.js';
import { DB_FILE_NAME, openStore, type ConversationStore, type OpenStoreOptions } from '../../../main/core/store/store.js';
import { tempDataDir, withRawDb } from './helpers.js';

let dir: string;
let cleanup: () => void;
let store: ConversationStore;
const open = (opts: Partial<OpenStoreOptions> = {}) => (store = openStore({ dataDir: dir, ...opts }));

beforeEach(() => ({ dir, cleanup } = tempDataDir()));
afterEach(() => {
  store?.close();
  cleanup();
});

function storeError(code: StoreError['code']) {
  return (err: unknown) => err instanceof StoreError && err.code === code && !err.message.includes('\n');
}

/** The message as persisted in the database (not the writer's buffer). */
function persisted(conversationId: number, messageId: number) {
  return store.getConversation(conversationId)!.messages.find((m) => m.id === messageId)!;
}

describe('conversations', () => {
  test('list: pinned first, then by last activity, with a one-line preview of the newest message', async () => {
    open();
    const a = store.createConversation('A');
    await sleep(2);
    const b = store.createConversation('B');
    await sleep(2);
    const c = store.createConversation();
    assert.equal(c.title, '');
    await sleep(2);
    store.addMessage(a.id, { role: 'user', content: 'first\n\nline   two ' + 'x'.repeat(400) });

    let list = store.listConversations();
    assert.deepEqual(
      list.map((s) => s.title),
      ['A', '', 'B'],
    );
    assert.equal(list[0]!.lastMessage!.preview, 'first line two ' + 'x'.repeat(160 - 'first\n\nline   two '.length));
    assert.equal(list[0]!.lastMessage!.role, 'user');
    assert.equal(list[1]!.lastMessage, null);

    assert.equal(store.setPinned(b.id, true), true);
    assert.equal(store.setFolder(b.id, 'Physics'), true);
    assert.equal(store.renameConversation(c.id, 'C'), true);
    list = store.listConversations();
    assert.deepEqual(
      list.map((s) => [s.title, s.pinned, s.folder]),
      [
        ['B', true, 'Physics'],
        ['A', false, null],
        ['C', false, null],
      ],
    );
    assert.equal(store.setFolder(b.id, null), true);
    assert.equal(store.getConversation(b.id)!.folder, null);
  });

  test('OCR tokens per conversation: auto by default, then the user\'s choice; bad values refused', () => {
    open();
    const c = store.createConversation('page');
    assert.equal(c.ocrTokens, 'auto');
    assert.equal(store.setOcrTokens(c.id, 'off'), true);
    assert.equal(store.getConversation(c.id)!.ocrTokens, 'off');
    assert.equal(store.listConversations().find((x) => x.id === c.id)!.ocrTokens, 'off');
    assert.equal(store.setOcrTokens(c.id + 1000, 'on'), false);
    assert.throws(() => store.setOcrTokens(c.id, 'maybe' as never), (err: unknown) => err instanceof StoreError && /auto, on or off/.test(err.message));
  });

  test('operations on a missing conversation report it instead of throwing', () => {
    open();
    assert.equal(store.getConversation(99), null);
    assert.equal(store.renameConversation(99, 'x'), false);
    assert.equal(store.setPinned(99, true), false);
    assert.equal(store.deleteConversation(99), false);
    assert.throws(() => store.addMessage(99, { role: 'user', content: 'hi' }), storeError('not_found'));
    assert.throws(() => store.beginAssistantMessage(99, 'm'), storeError('not_found'));
  });

  test('ids of deleted conversations are never reused', () => {
    open();
    const a = store.createConversation('a');
    store.deleteConversation(a.id);
    assert.ok(store.createConversation('b').id > a.id);
  });

  test('a conversation whose reply chain is deeper than SQLite\'s trigger limit (1000) deletes', () => {
    open();
    const c = store.createConversation('long');
    for (let i = 0; i < 1100; i++) store.addMessage(c.id, { role: i % 2 ? 'assistant' : 'user', content: `m${i}` });
    assert.equal(store.getConversation(c.id)!.messages.at(-1)!.parentId, store.getConversation(c.id)!.messages.at(-2)!.id);
    assert.equal(store.deleteConversation(c.id), true);
    assert.equal(store.getConversation(c.id), null);
  });

  test('bulk delete removes only the named conversations', () => {
    open();
    const ids = ['a', 'b', 'c'].map((t) => store.createConversation(t).id);
    for (const id of ids) store.addMessage(id, { role: 'user', content: `hello ${id}` });
    assert.equal(store.deleteConversations([ids[0]!, ids[2]!, 1234]), 2);
    assert.deepEqual(
      store.listConversations().map((c) => c.title),
      ['b'],
    );
  });
});

describe('messages', () => {
  test('a linear chat chains parents; edit-and-resend adds a sibling branch and keeps the old reply', () => {
    open();
    const c = store.createConversation('t');
    const q1 = store.addMessage(c.id, { role: 'user', content: 'q1' });
    const a1 = store.addMessage(c.id, { role: 'assistant', content: 'a1', model: 'm', timings: { totalMs: 12, completionTokens: 3 } });
    assert.equal(q1.parentId, null);
    assert.equal(a1.parentId, q1.id);
    assert.deepEqual(a1.timings, { totalMs: 12, completionTokens: 3 });

    const edited = store.addMessage(c.id, { role: 'user', content: 'q1 edited', parentId: q1.parentId });
    assert.equal(edited.parentId, null);
    const w = store.beginAssistantMessage(c.id, 'm');
    w.complete();
    const regenerated = store.beginAssistantMessage(c.id, 'm', { parentId: q1.id });
    regenerated.complete();

    assert.deepEqual(
      store.getConversation(c.id)!.messages.map((m) => [m.content, m.parentId]),
      [
        ['q1', null],
        ['a1', q1.id],
        ['q1 edited', null],
        ['', edited.id],
        ['', q1.id],
      ],
    );
    const other = store.createConversation('other');
    assert.throws(() => store.addMessage(other.id, { role: 'user', content: 'x', parentId: q1.id }), storeError('not_found'));
  });

  test('addMessage with an unknown attachment is refused and writes nothing', () => {
    open();
    const c = store.createConversation('t');
    assert.throws(
      () => store.addMessage(c.id, { role: 'user', content: 'look', attachments: ['a'.repeat(64)] }),
      storeError('not_found'),
    );
    assert.deepEqual(store.getConversation(c.id)!.messages, []);
  });

  test('malformed stored timings read as null instead of breaking the conversation', () => {
    open();
    const c = store.createConversation('t');
    const m = store.addMessage(c.id, { role: 'assistant', content: 'x', timings: { totalMs: 1 } });
    store.close();
    withRawDb(path.join(dir, DB_FILE_NAME), (db) => db.prepare(`UPDATE messages SET timings = '{oops' WHERE id = ?`).run(m.id));
    open();
    assert.equal(store.getConversation(c.id)!.messages[0]!.timings, null);
  });
});

describe('streaming writer', () => {
  test('persists in batches of flushChars; the message is partial until complete', () => {
    open({ flushChars: 10, flushIntervalMs: 60_000 });
    const c = store.createConversation('t');
    store.addMessage(c.id, { role: 'user', content: 'q' });
    const w = store.beginAssistantMessage(c.id, 'tiny');
    assert.deepEqual(
      [persisted(c.id, w.messageId).status, persisted(c.id, w.messageId).content, persisted(c.id, w.messageId).model],
      ['partial', '', 'tiny'],
    );
    w.append('12345');
    w.append('6789');
    assert.equal(persisted(c.id, w.messageId).content, '', 'below flushChars stays buffered');
    w.append('0ab');
    assert.equal(persisted(c.id, w.messageId).content, '1234567890ab');
    w.append('cd');
    w.flush();
    assert.equal(persisted(c.id, w.messageId).content, '1234567890abcd');
    w.append('ef');
    w.complete({ timeToFirstTokenMs: 5, totalMs: 40 });
    const m = persisted(c.id, w.messageId);
    assert.deepEqual([m.content, m.status, m.timings], ['1234567890abcdef', 'complete', { timeToFirstTokenMs: 5, totalMs: 40 }]);
    assert.throws(() => w.append('more'), storeError('writer_finished'));
    assert.throws(() => w.complete(), storeError('writer_finished'));
  });

  test('persists buffered text after flushIntervalMs even when no more tokens come', async () => {
    open({ flushChars: 1000, flushIntervalMs: 20 });
    const c = store.createConversation('t');
    const w = store.beginAssistantMessage(c.id, 'm');
    w.append('slow ');
    w.append('model');
    assert.equal(persisted(c.id, w.messageId).content, '');
    await sleep(80);
    assert.equal(persisted(c.id, w.messageId).content, 'slow model');
    w.interrupt();
  });

  test('fail marks error with the reason; interrupt leaves partial; both keep the text', () => {
    open({ flushChars: 1000 });
    const c = store.createConversation('t');
    const failed = store.beginAssistantMessage(c.id, 'm');
    failed.append('half an ans');
    failed.fail(new Error('engine exited with code 3'));
    const stopped = store.beginAssistantMessage(c.id, 'm');
    stopped.append('stopped here');
    stopped.interrupt();
    const [f, s] = store.getConversation(c.id)!.messages;
    assert.deepEqual([f!.content, f!.status, f!.error], ['half an ans', 'error', 'engine exited with code 3']);
    assert.deepEqual([s!.content, s!.status, s!.error], ['stopped here', 'partial', null]);
  });

  test('a surrogate pair split across batches is stored whole', () => {
    open({ flushChars: 1 });
    const c = store.createConversation('t');
    const w = store.beginAssistantMessage(c.id, 'm');
    const smile = '😀';
    w.append('a' + smile[0]);
    assert.equal(persisted(c.id, w.messageId).content, 'a', 'the high surrogate waits for its pair');
    w.append(smile[1]! + 'b');
    w.complete();
    assert.equal(persisted(c.id, w.messageId).content, 'a😀b');
  });

  test('close persists what is buffered and leaves the reply partial', () => {
    open({ flushChars: 1000, flushIntervalMs: 60_000 });
    const c = store.createConversation('t');
    const w = store.beginAssistantMessage(c.id, 'm');
    w.append('unsaved tail');
    store.close();
    open();
    const m = store.getConversation(c.id)!.messages[0]!;
    assert.deepEqual([m.content, m.status], ['unsaved tail', 'partial']);
  });

  test('deleting the conversation mid-stream makes the writer a no-op, not an error', () => {
    open({ flushChars: 2 });
    const c = store.createConversation('t');
    const w = store.beginAssistantMessage(c.id, 'm');
    w.append('abc');
    store.deleteConversation(c.id);
    w.append('def');
    w.complete();
    assert.equal(store.getConversation(c.id), null);
  });
});

describe('attachments', () => {
  const png = Buffer.from('not really a png, but bytes are bytes');

  test('content-addressed and deduplicated', () => {
    open();
    const sha = store.putAttachment(png, { mime: 'image/png', width: 32, height: 16 });
    assert.equal(sha, createHash('sha256').update(png).digest('hex'));
    assert.equal(store.attachmentPath(sha), path.join(dir, 'attachments', sha.slice(0, 2), sha));
    assert.deepEqual(readFileSync(store.attachmentPath(sha)), png);
    assert.equal(store.putAttachment(Buffer.from(png), { mime: 'image/png', width: 32, height: 16 }), sha);
    assert.deepEqual(readdirSync(path.join(dir, 'attachments', sha.slice(0, 2))), [sha], 'one file, no temporaries');

    const c = store.createConversation('t');
    const m = store.addMessage(c.id, { role: 'user', content: 'two of the same', attachments: [sha, sha] });
    assert.deepEqual(
      m.attachments.map((a) => [a.sha256, a.mime, a.byteSize, a.width, a.height]),
      [
        [sha, 'image/png', png.length, 32, 16],
        [sha, 'image/png', png.length, 32, 16],
      ],
    );
    assert.deepEqual(store.getAttachment(sha)!.byteSize, png.length);
  });

  test('a hash that is not 64 hex digits never becomes a path', () => {
    open();
    for (const bad of ['../../etc/passwd', 'A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(62)}/x`]) {
      assert.throws(() => store.attachmentPath(bad), storeError('invalid_argument'), bad);
      assert.throws(() => store.getAttachment(bad), storeError('invalid_argument'), bad);
    }
  });

  test('files are removed once no message references them', () => {
    open();
    const shared = store.putAttachment(png, { mime: 'image/png' });
    const own = store.putAttachment(Buffer.from('only in a'), { mime: 'application/pdf' });
    const a = store.createConversation('a');
    const b = store.createConversation('b');
    store.addMessage(a.id, { role: 'user', content: 'x', attachments: [shared, own] });
    store.addMessage(b.id, { role: 'user', content: 'y', attachments: [shared] });

    store.deleteConversation(a.id);
    assert.equal(existsSync(store.attachmentPath(own)), false);
    assert.equal(store.getAttachment(own), null);
    assert.equal(existsSync(store.attachmentPath(shared)), true, 'still used by b');

    store.deleteConversation(b.id);
    assert.equal(existsSync(store.attachmentPath(shared)), false);
    assert.equal(store.getAttachment(shared), null);
  });

  test('at open, attachments no message took and stray files are swept', () => {
    open();
    const kept = store.putAttachment(png, { mime: 'image/png' });
    const c = store.createConversation('t');
    store.addMessage(c.id, { role: 'user', content: 'x', attachments: [kept] });
    const orphan = store.putAttachment(Buffer.from('put, then the app died'), { mime: 'image/png' });
    store.close();
    const stray = 'f'.repeat(64);
    mkdirSync(path.join(dir, 'attachments', 'ff'), { recursive: true });
    writeFileSync(path.join(dir, 'attachments', 'ff', stray), 'x');
    writeFileSync(path.join(dir, 'attachments', 'ff', `.tmp-${stray}-123`), 'half');

    open();
    assert.equal(existsSync(store.attachmentPath(kept)), true);
    assert.equal(existsSync(store.attachmentPath(orphan)), false);
    assert.equal(store.getAttachment(orphan), null);
    assert.deepEqual(readdirSync(path.join(dir, 'attachments', 'ff')), []);
  });

  test('a file deleted behind the store is written again by the next put', () => {
    open();
    const sha = store.putAttachment(png, { mime: 'image/png' });
    const c = store.createConversation('t');
    store.addMessage(c.id, { role: 'user', content: 'x', attachments: [sha] });
    writeFileSync(store.attachmentPath(sha), 'truncated');
    store.putAttachment(png, { mime: 'image/png' });
    assert.deepEqual(readFileSync(store.attachmentPath(sha)), png);
  });
});
