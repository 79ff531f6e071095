/**
 * Crash safety: a process streaming a reply is killed with SIGKILL. The database is
 * intact, finished messages are whole, and the reply is 'partial' holding exactly the
 * batches that were committed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DB_FILE_NAME, openStore } from '../../../main/core/store/store.js';
import { BATCHES, chunk, COMPLETE_HISTORY, FLUSH_CHARS } from './crash-child.js';
import { tempDataDir, withRawDb } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDataDir()));
afterEach(() => cleanup());

/**
 * Runs the child until `until` accepts a `flushed <n>` count, then SIGKILLs it.
 * Returns the ids it reported and the last count seen.
 */
async function streamAndKill(mode: 'stop' | 'run', until: (flushed: number) => boolean) {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'crash-child.ts'), dir, mode], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let conversationId = -1;
  let messageId = -1;
  let flushed = -1;
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const [event, a, b] = line.split(' ');
      if (event === 'setup') [conversationId, messageId] = [Number(a), Number(b)];
      if (event === 'flushed' && until((flushed = Number(a)))) break;
    }
  } finally {
    child.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the child must die by the signal, not finish on its own');
  assert.ok(messageId > 0 && flushed >= 0, 'the child reported its progress');
  return { conversationId, messageId, flushed };
}

/** Integrity as a fresh SQLite connection sees it, before the store touches the file. */
function assertIntact() {
  withRawDb(path.join(dir, DB_FILE_NAME), (db) => {
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.exec(`INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')`);
  });
}

describe('crash while streaming', () => {
  test('SIGKILL after a known number of batches: the reply holds exactly those batches, marked partial', async () => {
    const { conversationId, messageId } = await streamAndKill('stop', (n) => n === BATCHES);
    assertIntact();

    const store = openStore({ dataDir: dir });
    try {
      assert.equal(store.recovered, null);
      const messages = store.getConversation(conversationId)!.messages;
      assert.deepEqual(
        messages.slice(0, 2).map((m) => [m.content, m.status]),
        COMPLETE_HISTORY.map((c) => [c, 'complete']),
      );
      const reply = messages.find((m) => m.id === messageId)!;
      assert.equal(reply.status, 'partial');
      assert.equal(reply.content, Array.from({ length: BATCHES }, (_, i) => chunk(i)).join(''));
      assert.deepEqual(store.search('b000024').map((h) => h.messageId), [messageId], 'the partial text is searchable');
      // Still partial after a clean reopen: nothing "repairs" it into looking complete.
      store.close();
      const again = openStore({ dataDir: dir });
      assert.equal(again.getConversation(conversationId)!.messages.find((m) => m.id === messageId)!.status, 'partial');
      again.close();
    } finally {
      store.close();
    }
  });

  test('SIGKILL at an arbitrary moment of continuous writing: the reply is a whole-batch prefix', async () => {
    const { conversationId, messageId, flushed } = await streamAndKill('run', (n) => n >= 200);
    assertIntact();

    const store = openStore({ dataDir: dir });
    try {
      const reply = store.getConversation(conversationId)!.messages.find((m) => m.id === messageId)!;
      assert.equal(reply.status, 'partial');
      assert.equal(reply.content.length % FLUSH_CHARS, 0, 'no torn batch');
      const batches = reply.content.length / FLUSH_CHARS;
      assert.ok(batches >= flushed, `${batches} batches persisted, ${flushed} were reported committed`);
      assert.equal(reply.content, Array.from({ length: batches }, (_, i) => chunk(i)).join(''));
      const side = store.listConversations().find((c) => c.title === 'side')!;
      const sideMessages = store.getConversation(side.id)!.messages;
      assert.ok(sideMessages.length >= Math.floor(flushed / 7));
      sideMessages.forEach((m, k) => assert.deepEqual([m.content, m.status], [`side ${7 * (k + 1)}`, 'complete']));
    } finally {
      store.close();
    }
  });
});
