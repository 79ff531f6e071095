/**
 * The API service's models.* calls against a local stand-in of the Hub (test/helpers/hub-server.ts)
 * and a test catalog, with a fake engine process (so models.use loads without onnxruntime):
 * models.pull emits monotonic progress and ends installed; cancel keeps the bytes and a second pull
 * resumes; a half-downloaded model is never listed as installed; failures end the progress with a
 * one-line error; remove; import; use (remembered in the settings, loaded at the next start).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ApiEvents, ModelProgress, ModelStatus, ModelsCatalog } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import type { Catalog, CatalogModel } from '../../../main/core/models/catalog.js';
import { fakeEngine, type FakeEngine } from '../../helpers/fake-engine.js';
import { HubServer } from '../../helpers/hub-server.js';
import { CONTENT, DECODER, REPO, REV, TOTAL_BYTES, testModel } from '../models/fixture.js';

function catalogOf(...models: CatalogModel[]): Catalog {
  return { format: 'omnifusion-model-catalog', format_version: 1, models };
}

interface Env {
  hub: HubServer;
  root: string;
  dataDir: string;
  modelsDir: string;
  catalogPath: string;
  engine: FakeEngine;
  service: ApiService;
  events: { [E in keyof ApiEvents]?: ApiEvents[E][] };
  open(): Promise<ApiService>;
  cleanup(): Promise<void>;
}

async function makeEnv(): Promise<Env> {
  const hub = await HubServer.start(Object.entries(CONTENT).map(([p, content]) => ({ repo: REPO, revision: REV, path: p, content })));
  const root = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-service-models-'));
  const dataDir = path.join(root, 'data');
  await mkdir(dataDir, { recursive: true });
  const modelsDir = path.join(root, 'models');
  const catalogPath = path.join(root, 'catalog.json');
  const missing: CatalogModel = { ...testModel({}, 'missing-vlm'), name: 'Missing VLM', source: { kind: 'hub', repo: 'test-org/missing', revision: REV } };
  const exported: CatalogModel = { ...testModel({}, 'exported'), name: 'Exported', source: { kind: 'export', exporter: 'python export.py', checkpoints: ['x/y'] } };
  await writeFile(catalogPath, JSON.stringify(catalogOf({ ...testModel({ sizes: true }), strengths: ['documents', 'handwriting'] }, missing, exported)));
  const engine = fakeEngine({ family: 'idefics3' });
  const env = {
    hub,
    root,
    dataDir,
    modelsDir,
    catalogPath,
    engine,
    events: {},
  } as Env;
  env.open = async () => {
    const service = await createApiService({
      dataDir,
      modelsDir,
      catalogPath,
      hubUrl: hub.url,
      launcher: engine.launcher,
      readImageText: false,
      platform: 'linux',
      ramBytes: 16e9,
      download: { progressIntervalMs: 0, sleep: async () => {}, random: () => 1, statfs: async () => ({ bavail: 1e12, bsize: 1 }) },
    });
    for (const name of ['models.progress', 'models.installed', 'models.status'] as const) {
      service.on(name, (p) => void ((env.events[name] ??= []) as unknown[]).push(p));
    }
    env.service = service;
    return service;
  };
  env.cleanup = async () => {
    await env.service?.close();
    await hub.close();
    await rm(root, { recursive: true, force: true });
  };
  await env.open();
  return env;
}

function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      const v = check();
      if (v !== undefined && v !== false) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

const progressOf = (env: Env, id: string): ModelProgress[] => (env.events['models.progress'] ?? []).filter((p) => p.id === id);
const ended = (env: Env, id: string) => () => progressOf(env, id).find((p) => p.phase === 'done' || p.phase === 'failed' || p.phase === 'cancelled');

function checkMonotonic(events: ModelProgress[]): void {
  assert.ok(events.length > 3, `${events.length} progress events`);
  for (let i = 1; i < events.length; i++) {
    const a = events[i - 1]!;
    const b = events[i]!;
    assert.ok(b.bytesDone >= a.bytesDone, `bytesDone went back at ${i}: ${a.bytesDone} → ${b.bytesDone}`);
    assert.ok(b.bytesTotal >= a.bytesTotal, `bytesTotal went back at ${i}`);
    assert.ok(b.bytesDone <= b.bytesTotal || b.bytesTotal === 0, `done > total at ${i}`);
    assert.ok(b.rateBytesPerSec >= 0 && (b.etaSec === null || b.etaSec >= 0));
  }
}

async function refusal(env: Env, promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    const payload = env.service.describeError(err);
    assert.ok(!payload.message.includes('\n'), 'one line');
    return payload;
  }
  assert.fail('expected a refusal');
}

test('models.catalog lists the catalog with the default choice, its reason and size; nothing installed', async () => {
  const env = await makeEnv();
  try {
    const view: ModelsCatalog = await env.service.call('models.catalog', {});
    assert.deepEqual(view.models.map((m) => m.id), ['tiny-vlm', 'missing-vlm', 'exported']);
    assert.equal(view.default?.id, 'tiny-vlm');
    assert.equal(view.default?.dtype, 'fp32');
    assert.equal(view.default?.downloadBytes, TOTAL_BYTES);
    assert.equal(view.default?.memoryBytes, 10_000_000);
    assert.match(view.default!.reason, /reads documents and handwriting and fits this machine \(CPU, 16\.0 GB RAM/);
    assert.equal(view.activeId, null);
    assert.equal(view.modelsDir, env.modelsDir);
    const tiny = view.models[0]!;
    assert.equal(tiny.installed, null);
    assert.equal(tiny.pulling, null);
    assert.equal(tiny.source, 'hub');
    assert.equal(tiny.repo, REPO);
    assert.deepEqual(tiny.variants, [{ dtype: 'fp32', downloadBytes: TOTAL_BYTES, exact: true, unknownSizeFiles: 0, memoryBytes: 10_000_000 }]);
    assert.equal(view.models[2]!.source, 'export');
    assert.equal(view.models[2]!.exporter, 'python export.py');
  } finally {
    await env.cleanup();
  }
});

test('models.pull emits monotonic progress and ends installed', async () => {
  const env = await makeEnv();
  try {
    env.hub.throttle(65_536, 2);
    const started = await env.service.call('models.pull', { id: 'tiny-vlm' });
    assert.deepEqual(started, { id: 'tiny-vlm', dtype: 'fp32', started: true });
    await refusal(env, env.service.call('models.pull', { id: 'tiny-vlm' })).then((e) => assert.match(e.message, /^Tiny VLM is already downloading$/));
    await waitFor('the install', () => env.events['models.installed']?.length);
    const events = progressOf(env, 'tiny-vlm');
    checkMonotonic(events);
    const last = events[events.length - 1]!;
    assert.equal(last.phase, 'done');
    assert.equal(last.bytesDone, TOTAL_BYTES);
    assert.equal(last.bytesTotal, TOTAL_BYTES);
    assert.ok(events.some((e) => e.phase === 'downloading' && e.file === DECODER && e.fileCount === 3 && e.fileIndex === 2));
    assert.ok(events.some((e) => e.rateBytesPerSec > 0 && e.etaSec !== null), 'rate and time left while downloading');
    assert.deepEqual(env.events['models.installed'], [{ id: 'tiny-vlm', dtype: 'fp32', from: 'hub' }]);
    const view = await env.service.call('models.catalog', {});
    const tiny = view.models.find((m) => m.id === 'tiny-vlm')!;
    assert.equal(tiny.installed?.bytes, TOTAL_BYTES);
    assert.equal(tiny.installed?.from, 'hub');
    assert.equal(tiny.installed?.dir, path.join(env.modelsDir, 'tiny-vlm'));
    assert.equal(tiny.pulling, null);
    assert.equal(tiny.partialBytes, 0);
    for (const [p, b] of Object.entries(CONTENT)) assert.deepEqual(await readFile(path.join(env.modelsDir, 'tiny-vlm', p)), b);
  } finally {
    await env.cleanup();
  }
});

test('cancel keeps the bytes; a half-downloaded model is never listed installed; the next pull resumes', async () => {
  const env = await makeEnv();
  try {
    env.hub.throttle(16_384, 10);
    await env.service.call('models.pull', { id: 'tiny-vlm' });
    await waitFor('bytes', () => progressOf(env, 'tiny-vlm').find((p) => p.bytesDone > 200_000));
    // While downloading: listed as pulling, not installed.
    const during = (await env.service.call('models.catalog', {})).models.find((m) => m.id === 'tiny-vlm')!;
    assert.equal(during.installed, null);
    assert.equal(during.pulling?.phase, 'downloading');
    assert.deepEqual(await env.service.call('models.cancel', { id: 'tiny-vlm' }), { cancelled: true });
    const end = ended(env, 'tiny-vlm')()!;
    assert.equal(end.phase, 'cancelled');
    assert.equal(end.error?.code, 'cancelled');
    assert.match(end.error!.message, /^download of tiny-vlm cancelled; downloaded data is kept for resume$/);
    assert.equal(env.events['models.installed'], undefined);
    checkMonotonic(progressOf(env, 'tiny-vlm'));
    const after = (await env.service.call('models.catalog', {})).models.find((m) => m.id === 'tiny-vlm')!;
    assert.equal(after.installed, null, 'a half-downloaded model is not installed');
    assert.equal(after.pulling, null);
    assert.ok(after.partialBytes > 200_000 && after.partialBytes < TOTAL_BYTES, `kept ${after.partialBytes}`);
    assert.deepEqual(await env.service.call('models.cancel', { id: 'tiny-vlm' }), { cancelled: false });

    // A restarted app still does not list it; the next pull resumes with Range.
    await env.service.close();
    await env.open();
    assert.equal((await env.service.call('models.catalog', {})).models.find((m) => m.id === 'tiny-vlm')!.installed, null);
    env.hub.throttle();
    env.events['models.progress'] = [];
    const mark = env.hub.requests.length;
    await env.service.call('models.pull', { id: 'tiny-vlm' });
    await waitFor('the install', () => env.events['models.installed']?.length);
    const resumed = env.hub.requests.slice(mark).filter((r) => r.kind === 'cdn' && r.method === 'GET' && r.range);
    assert.ok(resumed.length >= 1, 'a ranged GET resumed the partial file');
    const events = progressOf(env, 'tiny-vlm');
    checkMonotonic(events);
    assert.ok(events.find((e) => e.phase === 'downloading')!.bytesDone >= after.partialBytes - 65_536, 'kept bytes count as done from the start');
    assert.equal((await env.service.call('models.catalog', {})).models.find((m) => m.id === 'tiny-vlm')!.installed?.bytes, TOTAL_BYTES);
  } finally {
    await env.cleanup();
  }
});

test('a failing pull ends its progress with a one-line error; refusals are one line', async () => {
  const env = await makeEnv();
  try {
    await env.service.call('models.pull', { id: 'missing-vlm' });
    const end = await waitFor('the end', ended(env, 'missing-vlm'));
    assert.equal(end.phase, 'failed');
    assert.equal(end.error?.code, 'not_found');
    assert.match(end.error!.message, /^config\.json not found in test-org\/missing@0123456789abcdef/);
    assert.equal((await env.service.call('models.catalog', {})).models.find((m) => m.id === 'missing-vlm')!.installed, null);
    assert.deepEqual(await refusal(env, env.service.call('models.pull', { id: 'nope' })), { code: 'not_found', message: 'unknown model "nope" (known: tiny-vlm, missing-vlm, exported)' });
    assert.equal((await refusal(env, env.service.call('models.pull', { id: 'tiny-vlm', dtype: 'q4' }))).message, 'Tiny VLM has no q4 weights (it has: fp32)');
    assert.match((await refusal(env, env.service.call('models.pull', { id: 'exported' }))).message, /^Exported has no download: export it \(python export\.py\) and import the folder$/);
    assert.equal((await refusal(env, env.service.call('models.use', { id: 'tiny-vlm' }))).code, 'not_found');
    assert.equal((await refusal(env, env.service.call('models.remove', { id: 'tiny-vlm' }))).code, 'not_found');
    assert.equal((await refusal(env, env.service.call('models.remove', { id: '../etc' }))).code, 'bad_request');
  } finally {
    await env.cleanup();
  }
});

test('models.use makes an installed model active: the engine loads it, the settings keep it; remove unloads it', async () => {
  const env = await makeEnv();
  try {
    await env.service.call('models.pull', { id: 'tiny-vlm' });
    await waitFor('the install', () => env.events['models.installed']?.length);
    assert.equal((await env.service.call('models.status', {})).state, 'none');
    const status: ModelStatus = await env.service.call('models.use', { id: 'tiny-vlm' });
    assert.deepEqual(status, { name: 'Tiny VLM', family: '', executionProvider: '', state: 'loading' });
    await waitFor('ready', () => env.events['models.status']?.find((s) => s.state === 'ready'));
    assert.equal((await env.service.call('models.status', {})).name, 'loaded:tiny-vlm');
    assert.deepEqual(env.engine.loads, [path.join(env.modelsDir, 'tiny-vlm')]);
    const view = await env.service.call('models.catalog', {});
    assert.equal(view.activeId, 'tiny-vlm');
    assert.equal(view.models.find((m) => m.id === 'tiny-vlm')!.active, true);
    const saved = JSON.parse(await readFile(path.join(env.dataDir, 'settings.json'), 'utf8')) as { activeModel?: string };
    assert.equal(saved.activeModel, 'tiny-vlm');
    // Other settings still save and keep it.
    await env.service.call('settings.set', { maxNewTokens: 77 });
    assert.equal((JSON.parse(await readFile(path.join(env.dataDir, 'settings.json'), 'utf8')) as { activeModel?: string }).activeModel, 'tiny-vlm');

    // The next start loads it again.
    await env.service.close();
    await env.open();
    assert.equal((await env.service.call('models.status', {})).state, 'loading');
    await waitFor('ready again', () => env.events['models.status']?.filter((s) => s.state === 'ready').length === 2 || undefined);
    assert.equal(env.engine.loads.length, 2);

    // Removing the active model unloads it and forgets it.
    const removed = await env.service.call('models.remove', { id: 'tiny-vlm' });
    assert.deepEqual(removed, { installed: true, partial: false });
    assert.equal((await env.service.call('models.status', {})).state, 'none');
    assert.ok(env.engine.stops() >= 1, 'the engine was stopped');
    await assert.rejects(stat(path.join(env.modelsDir, 'tiny-vlm')), { code: 'ENOENT' });
    const after = await env.service.call('models.catalog', {});
    assert.equal(after.activeId, null);
    assert.equal(after.models.find((m) => m.id === 'tiny-vlm')!.installed, null);
    assert.equal((JSON.parse(await readFile(path.join(env.dataDir, 'settings.json'), 'utf8')) as { activeModel?: string }).activeModel, undefined);
  } finally {
    await env.cleanup();
  }
});

test('remove during a download cancels it and deletes the partial; import installs a folder', async () => {
  const env = await makeEnv();
  try {
    env.hub.throttle(16_384, 10);
    await env.service.call('models.pull', { id: 'tiny-vlm' });
    await waitFor('bytes', () => progressOf(env, 'tiny-vlm').find((p) => p.bytesDone > 100_000));
    assert.deepEqual(await env.service.call('models.remove', { id: 'tiny-vlm' }), { installed: false, partial: true });
    assert.equal(ended(env, 'tiny-vlm')()?.phase, 'cancelled');
    assert.equal((await env.service.call('models.catalog', {})).models.find((m) => m.id === 'tiny-vlm')!.partialBytes, 0);
    env.hub.throttle();

    const src = path.join(env.root, 'offline');
    for (const [p, b] of Object.entries(CONTENT)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), b);
    }
    // The test catalog has no sha256: nothing to check a bare folder against.
    const refused = await refusal(env, env.service.call('models.import', { dir: src, id: 'tiny-vlm' }));
    assert.match(refused.message, /^cannot verify config\.json offline/);
    // A folder with a package manifest carries its own checksums.
    const { createHash } = await import('node:crypto');
    const files = Object.fromEntries(Object.entries(CONTENT).map(([p, b]) => [p, { bytes: b.length, sha256: createHash('sha256').update(b).digest('hex') }]));
    await writeFile(path.join(src, 'manifest.json'), JSON.stringify({ format: 'omnifusion-model-package', name: 'my-package', family: 'idefics3', files }));
    env.events['models.progress'] = [];
    assert.deepEqual(await env.service.call('models.import', { dir: src }), { id: 'my-package' });
    assert.deepEqual(env.events['models.installed'], [{ id: 'my-package', from: 'import' }]);
    assert.equal(progressOf(env, 'my-package').at(-1)?.phase, 'done');
    const mine = (await env.service.call('models.catalog', {})).models.find((m) => m.id === 'my-package')!;
    assert.equal(mine.source, 'local');
    assert.equal(mine.installed?.from, 'import');
  } finally {
    await env.cleanup();
  }
});

test('models.import over an installed id is refused with one line and leaves it as it was; replace: true installs over it', async () => {
  const env = await makeEnv();
  try {
    const { createHash } = await import('node:crypto');
    const files = Object.fromEntries(Object.entries(CONTENT).map(([p, b]) => [p, { bytes: b.length, sha256: createHash('sha256').update(b).digest('hex') }]));
    const folders: string[] = [];
    for (const name of ['first', 'second']) {
      const src = path.join(env.root, name);
      for (const [p, b] of Object.entries(CONTENT)) {
        await mkdir(path.dirname(path.join(src, p)), { recursive: true });
        await writeFile(path.join(src, p), b);
      }
      await writeFile(path.join(src, 'manifest.json'), JSON.stringify({ format: 'omnifusion-model-package', name: 'my-package', family: 'idefics3', files }));
      folders.push(src);
    }
    const [first, second] = folders as [string, string];
    const marker = path.join(env.modelsDir, 'my-package', 'installed.json');
    assert.deepEqual(await env.service.call('models.import', { dir: first }), { id: 'my-package' });
    const before = await readFile(marker, 'utf8');

    env.events['models.installed'] = [];
    const refused = await refusal(env, env.service.call('models.import', { dir: second }));
    assert.deepEqual(refused, {
      code: 'bad_request',
      message: `model "my-package" is already installed in ${path.join(env.modelsDir, 'my-package')}; import it with replace to install over it, or under another id`,
    });
    assert.equal(await readFile(marker, 'utf8'), before, 'the installed model is untouched');
    assert.deepEqual(env.events['models.installed'], []);
    assert.deepEqual(await refusal(env, env.service.call('models.import', { dir: second, replace: 'yes' as unknown as boolean })), { code: 'bad_request', message: 'replace must be true or false' });

    assert.deepEqual(await env.service.call('models.import', { dir: second, replace: true }), { id: 'my-package' });
    assert.deepEqual(env.events['models.installed'], [{ id: 'my-package', from: 'import' }]);
    const after = JSON.parse(await readFile(marker, 'utf8')) as { source: { from: string } };
    assert.equal(after.source.from, second);
    const listed = (await env.service.call('models.catalog', {})).models.filter((m) => m.installed).map((m) => m.id);
    assert.deepEqual(listed, ['my-package']);
  } finally {
    await env.cleanup();
  }
});

test('models.import with askToReplace answers alreadyInstalled for an installed id (nothing touched), so a window can ask and resend with replace', async () => {
  const env = await makeEnv();
  try {
    const { createHash } = await import('node:crypto');
    const files = Object.fromEntries(Object.entries(CONTENT).map(([p, b]) => [p, { bytes: b.length, sha256: createHash('sha256').update(b).digest('hex') }]));
    const src = path.join(env.root, 'package');
    for (const [p, b] of Object.entries(CONTENT)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), b);
    }
    await writeFile(path.join(src, 'manifest.json'), JSON.stringify({ format: 'omnifusion-model-package', name: 'my-package', family: 'idefics3', files }));
    const marker = path.join(env.modelsDir, 'my-package', 'installed.json');
    // Not installed yet: askToReplace changes nothing.
    assert.deepEqual(await env.service.call('models.import', { dir: src, askToReplace: true }), { id: 'my-package' });
    const before = await readFile(marker, 'utf8');

    env.events['models.installed'] = [];
    env.events['models.progress'] = [];
    assert.deepEqual(await env.service.call('models.import', { dir: src, askToReplace: true }), { id: 'my-package', alreadyInstalled: true });
    assert.equal(await readFile(marker, 'utf8'), before, 'the installed model is untouched');
    assert.deepEqual(env.events['models.installed'], []);
    assert.deepEqual(env.events['models.progress'], [], 'no progress (and no failure) for a question');
    assert.deepEqual(await refusal(env, env.service.call('models.import', { dir: src, askToReplace: 'yes' as unknown as boolean })), { code: 'bad_request', message: 'askToReplace must be true or false' });

    assert.deepEqual(await env.service.call('models.import', { dir: src, replace: true, askToReplace: true }), { id: 'my-package' });
    assert.deepEqual(env.events['models.installed'], [{ id: 'my-package', from: 'import' }]);
    const listed = (await env.service.call('models.catalog', {})).models.filter((m) => m.installed).map((m) => m.id);
    assert.deepEqual(listed, ['my-package']);
  } finally {
    await env.cleanup();
  }
});
