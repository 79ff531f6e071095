/**
 * The WAL stays bounded under many small streamed commits, is truncated to zero after a delete
 * and at close, and no other connection can hold a snapshot that would let it grow without bound.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DB_FILE_NAME, JOURNAL_SIZE_LIMIT_BYTES, openStore, WAL_AUTOCHECKPOINT_PAGES } from '../../../main/core/store/store.js';
import { tempDataDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDataDir()));
afterEach(() => cleanup());

describe('WAL size', () => {
  test('bounded while streaming, zero after a delete and after close', () => {
    const wal = path.join(dir, `${DB_FILE_NAME}-wal`);
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const store = openStore({ dataDir: dir, flushChars: 64 });
    const pageSize = 4096;
    // What one commit can add past the autocheckpoint threshold, generously.
    const bound = Math.max(JOURNAL_SIZE_LIMIT_BYTES, WAL_AUTOCHECKPOINT_PAGES * pageSize) + 64 * pageSize;

    let commits = 0;
    let maxWal = 0;
    const conversations: number[] = [];
    for (let c = 0; c < 8; c++) {
      const conv = store.createConversation(`c${c}`);
      conversations.push(conv.id);
      const w = store.beginAssistantMessage(conv.id, 'm');
      for (let i = 0; i < 150; i++) {
        w.append(`token${i} `.padEnd(64, 'x'));
        commits++;
        if (i % 25 === 0) maxWal = Math.max(maxWal, walSize());
      }
      w.complete();
    }
    maxWal = Math.max(maxWal, walSize());
    // Each batch rewrites the growing message and its index entries; without
    // checkpoints this workload leaves a WAL many times the bound.
    assert.equal(commits, 1200);
    assert.ok(maxWal > bound / 4, `the workload reached the checkpoint regime (max WAL ${maxWal} bytes)`);
    assert.ok(maxWal <= bound, `max WAL ${maxWal} bytes exceeds ${bound}`);

    assert.equal(store.deleteConversations(conversations.slice(0, 4)), 4);
    assert.equal(walSize(), 0, 'truncated after the delete');
    store.addMessage(conversations[4]!, { role: 'user', content: 'one more' });
    assert.ok(walSize() > 0);
    store.close();
    assert.equal(walSize(), 0, 'truncated or removed at close');
  });

  test('another connection cannot hold a read snapshot while the store is open, so inserts cannot pin the log', () => {
    const file = path.join(dir, DB_FILE_NAME);
    const wal = `${file}-wal`;
    const walSize = () => (existsSync(wal) ? statSync(wal).size : 0);
    const store = openStore({ dataDir: dir });
    const conv = store.createConversation('w');
    const reader = new Database(file, { readonly: true, timeout: 0 });
    try {
      // What a database browser or backup tool would do: start a read and keep it.
      assert.throws(() => reader.prepare('SELECT count(*) FROM messages').get(), { code: 'SQLITE_BUSY' });
      let maxWal = 0;
      for (let i = 0; i < 3000; i++) {
        store.addMessage(conv.id, { role: 'user', content: `message ${i} with some words to index` });
        if (i % 100 === 0) {
          assert.throws(() => reader.prepare('SELECT count(*) FROM messages').get(), { code: 'SQLITE_BUSY' });
          maxWal = Math.max(maxWal, walSize());
        }
      }
      const bound = Math.max(JOURNAL_SIZE_LIMIT_BYTES, WAL_AUTOCHECKPOINT_PAGES * 4096) + 64 * 4096;
      assert.ok(maxWal > 0 && maxWal <= bound, `max WAL ${maxWal} bytes within ${bound}`);
    } finally {
      store.close();
    }
    // Once the store has closed, the file reads normally.
    assert.equal(reader.prepare('SELECT count(*) FROM messages').pluck().get(), 3000);
    reader.close();
  });
});
