/**
 * Pins and folders through the API service: conversations.setPinned / conversations.setFolder
 * answer the updated summary, the list puts pinned conversations first (then last activity, which
 * pinning and filing do not change), folder names are NFC-normalised, trimmed and checked (1–60
 * characters, no control, invisible or direction-changing characters, no slashes) with a one-line
 * bad_request, and an unknown id is not_found.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ApiErrorPayload } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';

let dataDir: string;
let service: ApiService;

before(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-service-organise-'));
  service = await createApiService({ dataDir, readImageText: false, platform: 'linux' });
});

after(async () => {
  await service?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<ApiErrorPayload> {
  return promise.then(
    () => assert.fail('the call succeeded'),
    (err: unknown) => service.describeError(err),
  );
}

const titles = async (): Promise<string[]> => (await service.call('conversations.list', {})).map((c) => c.title);

test('a new conversation is unpinned and in no folder, in the list and when opened', async () => {
  const c = await service.call('conversations.create', { title: 'fresh' });
  assert.equal(c.pinned, false);
  assert.equal(c.folder, null);
  const got = await service.call('conversations.get', { id: c.id });
  assert.equal(got.pinned, false);
  assert.equal(got.folder, null);
  await service.call('conversations.delete', { id: c.id });
});

test('pinning puts a conversation first and unpinning restores the order by last activity', async () => {
  const a = await service.call('conversations.create', { title: 'A' });
  await new Promise((r) => setTimeout(r, 5));
  const b = await service.call('conversations.create', { title: 'B' });
  await new Promise((r) => setTimeout(r, 5));
  await service.call('conversations.create', { title: 'C' });
  assert.deepEqual(await titles(), ['C', 'B', 'A']);

  const pinned = await service.call('conversations.setPinned', { id: a.id, pinned: true });
  assert.equal(pinned.id, a.id);
  assert.equal(pinned.pinned, true);
  assert.equal(pinned.updatedAt, a.updatedAt, 'pinning is not activity');
  assert.deepEqual(await titles(), ['A', 'C', 'B']);
  assert.equal((await service.call('conversations.get', { id: a.id })).pinned, true);

  // Pinning twice is harmless.
  assert.equal((await service.call('conversations.setPinned', { id: a.id, pinned: true })).pinned, true);

  assert.equal((await service.call('conversations.setPinned', { id: a.id, pinned: false })).pinned, false);
  assert.deepEqual(await titles(), ['C', 'B', 'A']);

  // Filing keeps the order too.
  const filed = await service.call('conversations.setFolder', { id: b.id, folder: 'Receipts' });
  assert.equal(filed.folder, 'Receipts');
  assert.equal(filed.updatedAt, b.updatedAt, 'filing is not activity');
  assert.deepEqual(await titles(), ['C', 'B', 'A']);
  await service.call('conversations.setFolder', { id: b.id, folder: null });
});

test('a folder name is trimmed; null takes a conversation out of its folder', async () => {
  const c = await service.call('conversations.create', { title: 'filed' });
  assert.equal((await service.call('conversations.setFolder', { id: c.id, folder: '  Tax 2026  ' })).folder, 'Tax 2026');
  const listed = (await service.call('conversations.list', {})).find((s) => s.id === c.id)!;
  assert.equal(listed.folder, 'Tax 2026');
  assert.equal((await service.call('conversations.get', { id: c.id })).folder, 'Tax 2026');
  const sixty = 'é'.repeat(60);
  assert.equal((await service.call('conversations.setFolder', { id: c.id, folder: sixty })).folder, sixty, '60 characters are allowed');
  assert.equal((await service.call('conversations.setFolder', { id: c.id, folder: 'Квитанции 🧾' })).folder, 'Квитанции 🧾');
  assert.equal((await service.call('conversations.setFolder', { id: c.id, folder: null })).folder, null);
  assert.equal((await service.call('conversations.get', { id: c.id })).folder, null);
});

test('bad folder names are refused with one line naming the problem, and change nothing', async () => {
  const c = await service.call('conversations.create', { title: 'kept' });
  await service.call('conversations.setFolder', { id: c.id, folder: 'Before' });
  const cases: [unknown, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['a/b', /slash/],
    ['a\\b', /slash/],
    ['tab\there', /control characters/],
    ['line\nbreak', /control characters/],
    ['x'.repeat(61), /longer than 60 characters/],
    [42, /folder must be text/],
    [undefined, /folder must be text/],
  ];
  for (const [folder, problem] of cases) {
    const err = await failure(service.call('conversations.setFolder', { id: c.id, folder: folder as string }));
    assert.equal(err.code, 'bad_request', JSON.stringify(folder));
    assert.match(err.message, problem, JSON.stringify(folder));
    assert.doesNotMatch(err.message, /\n/, 'one line');
  }
  assert.equal((await service.call('conversations.get', { id: c.id })).folder, 'Before');
});

test('folder names are NFC-normalised, so look-alike spellings are one folder', async () => {
  const a = await service.call('conversations.create', { title: 'composed' });
  const b = await service.call('conversations.create', { title: 'decomposed' });
  const composed = (await service.call('conversations.setFolder', { id: a.id, folder: 'R\u00e9ceipts' })).folder;
  const decomposed = (await service.call('conversations.setFolder', { id: b.id, folder: 'Re\u0301ceipts' })).folder;
  assert.equal(composed, 'R\u00e9ceipts');
  assert.equal(decomposed, 'R\u00e9ceipts', 'e + combining acute is stored as é');
  assert.equal((await service.call('conversations.get', { id: b.id })).folder, 'R\u00e9ceipts');
  // 60 characters are counted after normalising: 60 × (e + U+0301) is 60 × é.
  assert.equal((await service.call('conversations.setFolder', { id: b.id, folder: 'e\u0301'.repeat(60) })).folder, '\u00e9'.repeat(60));
  // Emoji joined by a zero-width joiner are one picture, not a hidden character.
  const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467} Family';
  assert.equal((await service.call('conversations.setFolder', { id: b.id, folder: family })).folder, family);
  await service.call('conversations.delete', { id: a.id });
  await service.call('conversations.delete', { id: b.id });
});

test('folder names with invisible or direction-changing characters are refused with one line', async () => {
  const c = await service.call('conversations.create', { title: 'sneaky' });
  await service.call('conversations.setFolder', { id: c.id, folder: 'Receipts' });
  const names = [
    '\u200B', // zero-width space alone: a blank folder
    'Receipts\u200B', // looks like "Receipts"
    '\u200BReceipts',
    'Rece\u200Cipts', // zero-width non-joiner
    'Rece\u2060ipts', // word joiner
    '\u202Eevil.exe', // right-to-left override: shows as "exe.live"
    'abc\u202Ddef', // left-to-right override
    '\u2066x\u2069', // isolates
    'x\u200F', // right-to-left mark
    '\uFEFF', // zero-width no-break space (BOM)
    'Re\u00ADceipts', // soft hyphen
    'a\u200Db', // a joiner between letters joins nothing visible
  ];
  for (const folder of names) {
    const err = await failure(service.call('conversations.setFolder', { id: c.id, folder }));
    assert.equal(err.code, 'bad_request', JSON.stringify(folder));
    assert.equal(err.message, 'the folder name has invisible or direction-changing characters', JSON.stringify(folder));
  }
  assert.equal((await service.call('conversations.get', { id: c.id })).folder, 'Receipts', 'nothing changed');
  await service.call('conversations.delete', { id: c.id });
});

test('pinned must be a boolean', async () => {
  const c = await service.call('conversations.create', { title: 'strict' });
  for (const pinned of ['true', 1, null, undefined]) {
    const err = await failure(service.call('conversations.setPinned', { id: c.id, pinned: pinned as unknown as boolean }));
    assert.deepEqual(err, { code: 'bad_request', message: 'pinned must be true or false' });
  }
  assert.equal((await service.call('conversations.get', { id: c.id })).pinned, false);
});

test('an unknown conversation is not_found; a malformed id is bad_request', async () => {
  assert.deepEqual(await failure(service.call('conversations.setPinned', { id: '999999', pinned: true })), {
    code: 'not_found',
    message: 'conversation 999999 does not exist',
  });
  assert.deepEqual(await failure(service.call('conversations.setFolder', { id: '999999', folder: 'Receipts' })), {
    code: 'not_found',
    message: 'conversation 999999 does not exist',
  });
  assert.equal((await failure(service.call('conversations.setFolder', { id: 'nope', folder: null }))).code, 'bad_request');
  assert.equal((await failure(service.call('conversations.setPinned', { id: 'nope', pinned: false }))).code, 'bad_request');
});
