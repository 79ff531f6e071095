/**
 * The API service holds its data folder exclusively (core/store/data-lock.ts): a second service on
 * the same folder is refused with StoreError 'locked' naming the holder, as a one-line API error;
 * close() gives the folder back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createApiService } from '../../../main/core/api-service.js';
import { LOCK_NAME, LOCK_PID_FILE, StoreError } from '../../../main/core/store/index.js';

test('a second service on the same data folder is refused; close() releases the folder', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-service-lock-'));
  try {
    const first = await createApiService({ dataDir, readImageText: false, platform: 'linux' });
    assert.ok((await stat(path.join(dataDir, LOCK_NAME))).isDirectory());
    assert.deepEqual(JSON.parse(await readFile(path.join(dataDir, LOCK_PID_FILE), 'utf8')), { pid: process.pid, host: os.hostname() });
    const err = await createApiService({ dataDir, readImageText: false, platform: 'linux' }).then(
      () => assert.fail('the second service opened'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof StoreError);
    assert.equal(err.code, 'locked');
    assert.equal(err.message, `${dataDir} is already used by another OmniFusion process (pid ${process.pid}); stop it first, or use another data folder`);
    assert.deepEqual(first.describeError(err), { code: 'bad_request', message: err.message });
    // The first one keeps working.
    await first.call('conversations.create', { title: 'still mine' });
    await first.close();
    await assert.rejects(stat(path.join(dataDir, LOCK_NAME)), { code: 'ENOENT' });
    await assert.rejects(stat(path.join(dataDir, LOCK_PID_FILE)), { code: 'ENOENT' });

    const second = await createApiService({ dataDir, readImageText: false, platform: 'linux' });
    try {
      assert.deepEqual((await second.call('conversations.list', {})).map((c) => c.title), ['still mine']);
    } finally {
      await second.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
