/**
 * Hardening of the API service against requests a page or an HTTP client may send: keys that name
 * Object.prototype's members, wrong types and sizes, a request that is not an object; a damaged
 * history database is reported (stderr and app.notices), and an attachment keeps its file name
 * once the message is sent.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import { readSettingsFile, settingProblem } from '../../../main/core/settings.js';
import { DB_FILE_NAME } from '../../../main/core/store/index.js';
import { TINY_MODEL_DIR } from '../../fixtures/reference-cases.js';

async function withService(fn: (service: ApiService, dataDir: string) => Promise<void>, options: { modelDir?: string; dataDir?: string } = {}): Promise<void> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'omnifusion-hardening-')));
  const service = await createApiService({ dataDir, readImageText: false, platform: 'linux', ...(options.modelDir ? { modelDir: options.modelDir } : {}) });
  try {
    await fn(service, dataDir);
  } finally {
    await service.close();
    if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

/** The error payload a call ends with (the transports send exactly this). */
async function failure(service: ApiService, name: string, request: unknown): Promise<{ code: string; message: string }> {
  try {
    await service.call(name as never, request as never);
  } catch (err) {
    return service.describeError(err);
  }
  return assert.fail(`${name} accepted ${JSON.stringify(request)}`);
}

function png(): Promise<Uint8Array> {
  return sharp({ create: { width: 24, height: 16, channels: 3, background: '#c33' } }).png().toBuffer().then((b) => new Uint8Array(b));
}

test('settingProblem: keys of Object.prototype are unknown settings, not a crash', () => {
  for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    assert.equal(settingProblem(key, { theme: 'dark' }), `unknown setting "${key}"`);
  }
  assert.equal(settingProblem('theme', 'dark'), undefined);
});

test('settings.set with __proto__ or constructor is a bad_request naming the key; the settings stay', async () => {
  await withService(async (service) => {
    const before = await service.call('settings.get', {});
    for (const body of ['{"__proto__":{"theme":"dark"}}', '{"constructor":{"theme":"dark"}}', '{"toString":"x"}', '{"theme":"dark","__proto__":{}}']) {
      const patch = JSON.parse(body) as Record<string, unknown>;
      const key = Object.keys(patch).find((k) => k !== 'theme')!;
      assert.deepEqual(await failure(service, 'settings.set', patch), { code: 'bad_request', message: `unknown setting "${key}"` }, body);
    }
    assert.deepEqual(await service.call('settings.get', {}), before);
    assert.deepEqual(Object.getPrototypeOf(await service.call('settings.get', {})), Object.prototype);
  });
});

test('a settings file with __proto__ or constructor keys is read with notes, never polluted', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-hardening-settings-'));
  try {
    const file = path.join(dir, 'settings.json');
    await writeFile(file, '{"__proto__":{"theme":"dark"},"constructor":{"x":1},"theme":"light"}');
    const { settings, notes } = await readSettingsFile(file, { theme: 'system', systemPrompt: null, maxNewTokens: 512, greedy: true, temperature: null, top_p: null, captureHotkey: 'Control+Alt+Shift+M', captureMode: 'ask', captureOpens: 'quick-ask', device: 'auto' });
    assert.equal(settings.theme, 'light');
    assert.deepEqual(notes, ['settings.json: unknown setting "__proto__"; using the default', 'settings.json: unknown setting "constructor"; using the default']);
    assert.equal(Object.getPrototypeOf(settings), Object.prototype);
    assert.equal(({} as Record<string, unknown>)['theme'], undefined, 'Object.prototype untouched');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a call named after an Object.prototype member is an unknown call', async () => {
  await withService(async (service) => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.deepEqual(await failure(service, name, {}), { code: 'bad_request', message: `unknown call "${name}"` });
    }
  });
});

test('a request that is not an object: the request must be a JSON object', async () => {
  await withService(async (service) => {
    for (const request of [null, 'x', 5, [], true]) {
      assert.deepEqual(await failure(service, 'conversations.get', request), { code: 'bad_request', message: 'the request must be a JSON object' }, JSON.stringify(request));
    }
    assert.deepEqual(await service.call('conversations.list', undefined as never), [], 'an absent request is an empty one');
  });
});

test('attachments.add: the name must be text of at most 255 characters without control characters', async () => {
  await withService(async (service) => {
    const bytes = await png();
    assert.deepEqual(await failure(service, 'attachments.add', { name: 123, bytes }), { code: 'bad_request', message: 'name must be text (the file name)' });
    assert.deepEqual(await failure(service, 'attachments.add', { name: { a: 1 }, bytes }), { code: 'bad_request', message: 'name must be text (the file name)' });
    assert.deepEqual(await failure(service, 'attachments.add', { name: 'x'.repeat(256), bytes }), { code: 'bad_request', message: 'name is longer than 255 characters' });
    assert.deepEqual(await failure(service, 'attachments.add', { name: 'a\nb.png', bytes }), { code: 'bad_request', message: 'name has control characters' });
    assert.equal((await service.call('attachments.add', { name: 'é'.repeat(255), bytes })).name, 'é'.repeat(255));
    assert.equal((await service.call('attachments.add', { bytes } as never)).name, '', 'no name: none');
  });
});

test('conversation titles are capped at 200 characters (rename and create); the old title stays', async () => {
  await withService(async (service) => {
    const c = await service.call('conversations.create', { title: 'kept' });
    assert.deepEqual(await failure(service, 'conversations.rename', { id: c.id, title: 'x'.repeat(100_000) }), { code: 'bad_request', message: 'the title is longer than 200 characters' });
    assert.deepEqual(await failure(service, 'conversations.create', { title: 'x'.repeat(201) }), { code: 'bad_request', message: 'the title is longer than 200 characters' });
    assert.equal((await service.call('conversations.rename', { id: c.id, title: 'y'.repeat(200) })).title, 'y'.repeat(200));
    assert.deepEqual((await service.call('conversations.list', {})).map((x) => x.title), ['y'.repeat(200)]);
  });
});

test('a damaged history database: a note on stderr, and app.notices tells the UI where it was moved', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-hardening-damaged-'));
  const original = process.stderr.write.bind(process.stderr);
  let stderr = '';
  try {
    await writeFile(path.join(dataDir, DB_FILE_NAME), Buffer.alloc(8192, 'this is not an SQLite database '));
    process.stderr.write = ((chunk: string | Uint8Array) => {
      stderr += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    let service: ApiService;
    try {
      service = await createApiService({ dataDir, readImageText: false, platform: 'linux' });
    } finally {
      process.stderr.write = original;
    }
    try {
      const moved = (await readdir(dataDir)).find((f) => f.startsWith(`${DB_FILE_NAME}.corrupt-`));
      assert.ok(moved, 'the damaged file was kept');
      const message = `the history database was damaged and nothing in it could be read; it was moved to ${path.join(dataDir, moved)} and a new one started`;
      assert.match(stderr, new RegExp(`^note: ${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
      assert.deepEqual(await service.call('app.notices', {}), [{ code: 'history_recovered', message }]);
      assert.deepEqual(await service.call('conversations.list', {}), [], 'a new database works');
    } finally {
      await service.close();
    }
    // The next start has nothing to tell.
    await withService(async (again) => assert.deepEqual(await again.call('app.notices', {}), []), { dataDir });
  } finally {
    process.stderr.write = original;
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a sent attachment keeps its file name: in the reply, conversations.get, after a restart and an edit', { timeout: 120_000 }, async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-hardening-names-'));
  try {
    let conversationId = '';
    let userMessageId = '';
    await withService(
      async (service) => {
        await service.call('settings.set', { maxNewTokens: 2 });
        const added = await service.call('attachments.add', { name: 'formula one.png', bytes: await png() });
        assert.equal(added.name, 'formula one.png');
        assert.equal((await service.call('attachments.get', { sha256: added.sha256 })).name, 'formula one.png');
        const c = await service.call('conversations.create', { title: 'names' });
        conversationId = c.id;
        const sent = await service.call('generation.send', { conversationId: c.id, text: 'What is it?', attachments: [added.sha256] });
        userMessageId = sent.userMessage.id;
        assert.deepEqual(sent.userMessage.attachments.map((a) => a.name), ['formula one.png']);
        await waitDone(service, sent.assistantMessage.id);
        const got = await service.call('conversations.get', { id: c.id });
        assert.deepEqual(got.messages.find((m) => m.id === sent.userMessage.id)!.attachments.map((a) => a.name), ['formula one.png']);
      },
      { dataDir, modelDir: TINY_MODEL_DIR },
    );
    await withService(
      async (service) => {
        const got = await service.call('conversations.get', { id: conversationId });
        assert.deepEqual(got.messages.find((m) => m.id === userMessageId)!.attachments.map((a) => a.name), ['formula one.png'], 'stored, not only remembered');
        const edited = await service.call('generation.editAndResend', { messageId: userMessageId, text: 'And now?' });
        assert.deepEqual(edited.userMessage.attachments.map((a) => a.name), ['formula one.png'], 'an edit keeps the names');
        await waitDone(service, edited.assistantMessage.id);
      },
      { dataDir, modelDir: TINY_MODEL_DIR },
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

/** Resolves once the answer `messageId` has ended (it may have ended already). */
async function waitDone(service: ApiService, messageId: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const message = await findMessage(service, messageId);
    if (message && message.status !== 'partial') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`answer ${messageId} did not end`);
}

async function findMessage(service: ApiService, messageId: string) {
  for (const c of await service.call('conversations.list', {})) {
    const m = (await service.call('conversations.get', { id: c.id })).messages.find((x) => x.id === messageId);
    if (m) return m;
  }
  return undefined;
}
