/** lockDataDir on a folder that cannot be used: one-line StoreError, not a raw file-system error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lockDataDir } from '../../main/core/store/data-lock.js';
import { StoreError } from '../../main/core/store/index.js';

test('an empty path is refused', async () => {
  await assert.rejects(lockDataDir(''), (err: unknown) => err instanceof StoreError && err.message === 'the data folder path is empty');
});

test('a folder where nothing can be created (/proc/1): "cannot use /proc/1: …"', { skip: process.platform !== 'linux' && 'Linux /proc' }, async () => {
  await assert.rejects(lockDataDir('/proc/1'), (err: unknown) => err instanceof StoreError && /^cannot use \/proc\/1: .+ \(E[A-Z]+\)$/.test(err.message));
});
