import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Catalog } from '../../../main/core/models/catalog.js';
import { pullModel } from '../../../main/core/models/download.js';
import { ModelError } from '../../../main/core/models/errors.js';
import { acquireLock, importModel, listInstalled, removeModel, verifyInstalled, partialDir, MARKER_FILE } from '../../../main/core/models/install.js';
import { CONTENT, DECODER, VISION, makeEnv, sha256, testModel } from './fixture.js';

const TINY_PACKAGE = path.resolve(import.meta.dirname, '../../fixtures/models/omnifusion-tiny');
const roomy = async (): Promise<{ bavail: number; bsize: number }> => ({ bavail: 1e12, bsize: 1 });

async function tmp(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'omnifusion-import-'));
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<ModelError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ModelError, `expected a ModelError, got ${String(err)}`);
    assert.equal(err.code, code, `code ${err.code}: ${err.message}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

function catalogOf(...models: ReturnType<typeof testModel>[]): Catalog {
  return { format: 'omnifusion-model-catalog', format_version: 1, models };
}

test('import of a model package folder checks every file against its manifest, then lists it', async () => {
  const root = await tmp();
  try {
    const modelsDir = path.join(root, 'models');
    const manifest = JSON.parse(await readFile(path.join(TINY_PACKAGE, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    const m = await importModel(TINY_PACKAGE, { modelsDir, statfs: roomy });
    assert.equal(m.id, 'omnifusion-tiny');
    assert.equal(m.marker.family, 'omnifusion');
    assert.deepEqual(m.marker.source, { kind: 'import', from: TINY_PACKAGE, checkedAgainst: 'manifest' });
    for (const [p, f] of Object.entries(manifest.files)) assert.deepEqual(m.marker.files[p], f);
    assert.ok(m.marker.files['manifest.json']);
    assert.deepEqual((await listInstalled(modelsDir)).map((x) => x.id), ['omnifusion-tiny']);
    assert.deepEqual(await verifyInstalled(modelsDir, 'omnifusion-tiny'), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('import of a package with one changed byte is refused and leaves nothing behind', async () => {
  const root = await tmp();
  try {
    const copy = path.join(root, 'copy');
    await cp(TINY_PACKAGE, copy, { recursive: true });
    const file = path.join(copy, 'vision_encoder.onnx');
    const bytes = await readFile(file);
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(file, bytes);
    const modelsDir = path.join(root, 'models');
    const err = await rejectsWith(importModel(copy, { modelsDir, statfs: roomy }), 'checksum_mismatch');
    assert.match(err.message, /vision_encoder\.onnx does not match its manifest: sha256 [0-9a-f]{64}, expected [0-9a-f]{64}; not imported$/);
    assert.deepEqual(await listInstalled(modelsDir), []);
    assert.deepEqual(await readdir(path.join(modelsDir, '.partial')), []);
    // A missing file is named before anything is copied.
    await rm(file);
    const err2 = await rejectsWith(importModel(copy, { modelsDir, statfs: roomy }), 'invalid_package');
    assert.match(err2.message, /file "vision_encoder\.onnx" is missing$/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('import is checked for free space before anything is written', async () => {
  const root = await tmp();
  try {
    const modelsDir = path.join(root, 'models');
    const err = await rejectsWith(importModel(TINY_PACKAGE, { modelsDir, statfs: async () => ({ bavail: 1, bsize: 1024 }) }), 'disk_full');
    assert.match(err.message, /^not enough free disk space in .* for importing omnifusion-tiny: need .* free$/);
    await assert.rejects(stat(modelsDir), { code: 'ENOENT' });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('import against a catalog entry: sha256 from the catalog; without one it cannot verify offline', async () => {
  const root = await tmp();
  try {
    const src = path.join(root, 'src');
    for (const [p, b] of Object.entries(CONTENT)) {
      await mkdir(path.dirname(path.join(src, p)), { recursive: true });
      await writeFile(path.join(src, p), b);
    }
    const modelsDir = path.join(root, 'models');
    const m = await importModel(src, { modelsDir, catalog: catalogOf(testModel({ sizes: true, sha256: true })), id: 'tiny-vlm', statfs: roomy });
    assert.equal(m.marker.source.kind, 'import');
    assert.equal((m.marker.source as { checkedAgainst: string }).checkedAgainst, 'catalog');
    assert.equal(m.marker.dtype, 'fp32');
    assert.equal(m.marker.files[DECODER]!.sha256, sha256(CONTENT[DECODER]!));
    await removeModel(modelsDir, 'tiny-vlm');
    const err = await rejectsWith(importModel(src, { modelsDir, catalog: catalogOf(testModel({ sizes: true })), id: 'tiny-vlm', statfs: roomy }), 'unverifiable');
    assert.match(err.message, /^cannot verify config\.json offline: the catalog has no sha256 for it/);
    // Nothing vouches for it: taken as a folder of the user's own, which must load as a model.
    const err2 = await rejectsWith(importModel(src, { modelsDir, statfs: roomy }), 'invalid_package');
    assert.match(err2.message, /src: tokenizer\.json is missing; not imported$/);
    // Not even an onnx-community folder (no config.json): nothing to go by.
    await rm(path.join(src, 'config.json'));
    const err3 = await rejectsWith(importModel(src, { modelsDir, catalog: catalogOf(testModel()), id: 'nope', statfs: roomy }), 'invalid_package');
    assert.match(err3.message, /^unknown model "nope" \(known: tiny-vlm\)$/);
    const err4 = await rejectsWith(importModel(src, { modelsDir, statfs: roomy }), 'invalid_package');
    assert.match(err4.message, /no model package manifest\.json .* and no catalog id was given/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a pulled model folder copied to another machine imports offline against its installed.json', async () => {
  const env = await makeEnv();
  try {
    const pulled = await pullModel(testModel(), env.options);
    const usb = path.join(env.root, 'usb-stick', 'tiny-vlm');
    await cp(pulled.dir, usb, { recursive: true });
    const other = path.join(env.root, 'other-machine');
    // The catalog has no sha256 for these files: the pulled marker's (verified at download) are used.
    const m = await importModel(usb, { modelsDir: other, catalog: catalogOf(testModel()), statfs: roomy });
    assert.equal(m.id, 'tiny-vlm');
    assert.deepEqual(m.marker.files, pulled.marker.files);
    // A damaged copy fails.
    const bytes = await readFile(path.join(usb, VISION));
    bytes[5] = bytes[5]! ^ 0x80;
    await writeFile(path.join(usb, VISION), bytes);
    await rejectsWith(importModel(usb, { modelsDir: path.join(env.root, 'third'), catalog: catalogOf(testModel()), statfs: roomy }), 'checksum_mismatch');
    assert.deepEqual(await listInstalled(path.join(env.root, 'third')), []);
  } finally {
    await env.cleanup();
  }
});

test('removeModel deletes an installed model and its partial download; unknown ids are refused', async () => {
  const env = await makeEnv();
  try {
    const pulled = await pullModel(testModel({ sizes: true }), env.options);
    await mkdir(partialDir(env.modelsDir, 'tiny-vlm'), { recursive: true });
    assert.deepEqual(await removeModel(env.modelsDir, 'tiny-vlm'), { installed: true, partial: true });
    await assert.rejects(stat(pulled.dir), { code: 'ENOENT' });
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    const err = await rejectsWith(removeModel(env.modelsDir, 'tiny-vlm'), 'not_installed');
    assert.match(err.message, /^model "tiny-vlm" is not installed in /);
    await rejectsWith(removeModel(env.modelsDir, '../etc'), 'invalid_argument');
  } finally {
    await env.cleanup();
  }
});

test('removeModel never deletes what the user keeps in the models folder (no marker of ours)', async () => {
  const env = await makeEnv();
  try {
    await mkdir(path.join(env.modelsDir, 'my-notes', 'sub'), { recursive: true });
    await writeFile(path.join(env.modelsDir, 'my-notes', 'sub', 'thesis.txt'), 'precious');
    await writeFile(path.join(env.modelsDir, 'file.txt'), 'precious');
    await rejectsWith(removeModel(env.modelsDir, 'my-notes'), 'not_installed');
    await assert.rejects(removeModel(env.modelsDir, 'file.txt'), ModelError);
    assert.equal(await readFile(path.join(env.modelsDir, 'my-notes', 'sub', 'thesis.txt'), 'utf8'), 'precious');
    assert.equal(await readFile(path.join(env.modelsDir, 'file.txt'), 'utf8'), 'precious');
  } finally {
    await env.cleanup();
  }
});

test('one pull per model at a time: a live lock is busy, a stale one is taken over', async () => {
  const env = await makeEnv();
  try {
    const release = await acquireLock(env.modelsDir, 'tiny-vlm');
    const err = await rejectsWith(pullModel(testModel({ sizes: true }), env.options), 'busy');
    assert.match(err.message, new RegExp(`process ${process.pid}\\)$`));
    await rejectsWith(removeModel(env.modelsDir, 'tiny-vlm'), 'busy');
    await release();
    await writeFile(path.join(env.modelsDir, '.partial', 'tiny-vlm.lock'), '999999999');
    const m = await pullModel(testModel({ sizes: true }), env.options);
    assert.equal(m.id, 'tiny-vlm');
  } finally {
    await env.cleanup();
  }
});

test('an install interrupted between the move and the marker is not listed and is completed by the next pull', async () => {
  const env = await makeEnv();
  try {
    const pulled = await pullModel(testModel({ sizes: true }), env.options);
    await rm(path.join(pulled.dir, MARKER_FILE));
    assert.deepEqual(await listInstalled(env.modelsDir), []);
    const before = env.hub.requests.length;
    const again = await pullModel(testModel({ sizes: true, sha256: true }), env.options);
    assert.equal(again.alreadyInstalled, false);
    assert.equal(env.hub.requests.length, before, 'files already there were verified from disk, not fetched');
    assert.deepEqual((await listInstalled(env.modelsDir)).map((m) => m.id), ['tiny-vlm']);
  } finally {
    await env.cleanup();
  }
});
