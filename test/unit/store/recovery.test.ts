/**
 * Damage at open: a corrupt database is moved aside (kept for rescue) and a fresh one
 * starts, instead of the app failing on every launch. Failures that are not damage are
 * thrown and move nothing.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DB_FILE_NAME, openStore, type StoreRecovery } from '../../../main/core/store/store.js';
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
    assert.deepEqual(store.listConversations(), []);
    const c = store.createConversation('after');
    store.addMessage(c.id, { role: 'user', content: 'fresh start' });
    assert.equal(store.search('fresh').length, 1);
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
      assert.deepEqual(again.listConversations().map((c) => c.title), ['after']);
    } finally {
      again.close();
    }
    assert.equal(statSync(movedTo).isFile(), true);
  });

  test('a damaged index page, which opening does not read, is caught by the integrity check', () => {
    seed();
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
});
