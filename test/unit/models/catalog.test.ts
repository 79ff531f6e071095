import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  CatalogError,
  DEFAULT_CATALOG_PATH,
  approxDownloadBytes,
  defaultModelChoice,
  defaultModelId,
  filesFor,
  findModel,
  loadCatalog,
  parseCatalog,
  validateCatalog,
  type Catalog,
  type CatalogModel,
} from '../../../main/core/models/catalog.js';

const GiB = 2 ** 30;
const raw = (): Catalog => JSON.parse(readFileSync(DEFAULT_CATALOG_PATH, 'utf8')) as Catalog;

test('resources/catalog.json loads and names the five models of issue 6', async () => {
  const c = await loadCatalog();
  assert.deepEqual(
    c.models.map((m) => [m.id, m.family, m.source.kind]),
    [
      ['smolvlm-256m-instruct', 'idefics3', 'hub'],
      ['smolvlm-500m-instruct', 'idefics3', 'hub'],
      ['granite-docling-258m', 'idefics3', 'hub'],
      ['llava-interleave-qwen-0.5b', 'llava', 'hub'],
      ['omnifusion-1.1', 'omnifusion', 'export'],
    ],
  );
  for (const m of c.models) {
    if (m.source.kind === 'hub') assert.match(m.source.revision, /^[0-9a-f]{40}$/);
    assert.ok(m.licence.id && m.strengths.length > 0, m.id);
    for (const [dtype, v] of Object.entries(m.dtypes)) assert.ok(v!.memoryBytes > 0, `${m.id} ${dtype}`);
    // Every variant has the three graphs.
    for (const dtype of Object.keys(m.dtypes) as (keyof typeof m.dtypes)[]) {
      const names = filesFor(m, dtype).map((f) => f.path);
      for (const g of ['vision_encoder', 'embed_tokens', 'decoder_model_merged']) assert.ok(names.some((n) => n.includes(g)), `${m.id} ${dtype} lacks ${g}`);
    }
    assert.ok(m.notes && m.notes.length > 0, `${m.id} documents its sources`);
  }
  // What could not be checked is marked so.
  assert.equal(findModel(c, 'granite-docling-258m').verified, false);
  assert.equal(findModel(c, 'llava-interleave-qwen-0.5b').licence.id, 'tongyi-qianwen-research');
});

test('the default model for a new user: documents and handwriting on a laptop CPU', async () => {
  const c = await loadCatalog();
  // A typical laptop: the 500M model, int8 on the CPU.
  assert.deepEqual(
    { ...defaultModelChoice(c, { ramBytes: 8 * GiB, gpu: false }), reason: undefined },
    { id: 'smolvlm-500m-instruct', dtype: 'int8', reason: undefined },
  );
  assert.equal(defaultModelId(c, { ramBytes: 16 * GiB, gpu: false }), 'smolvlm-500m-instruct');
  assert.equal(defaultModelChoice(c, { ramBytes: 16 * GiB, gpu: true }).dtype, 'fp16');
  // A small machine: the 256M model fits where the 500M does not.
  assert.equal(defaultModelId(c, { ramBytes: 4 * GiB, gpu: false }), 'smolvlm-256m-instruct');
  // Nothing fits: still an offer, the smallest, with a warning in the reason.
  const tiny = defaultModelChoice(c, { ramBytes: 1 * GiB, gpu: false });
  assert.equal(tiny.id, 'smolvlm-256m-instruct');
  assert.match(tiny.reason, /may not fit/);
  // Size to explain on the first-run screen.
  const size = approxDownloadBytes(findModel(c, 'smolvlm-500m-instruct'), 'int8');
  assert.deepEqual(size.unknownFiles, []);
  assert.ok(size.bytes > 400e6 && size.bytes < 700e6, String(size.bytes));
});

test('defaultModelChoice follows its documented rule on a synthetic catalog', () => {
  const base = raw().models[0]!;
  const mk = (id: string, over: Partial<CatalogModel>, memoryBytes: number): CatalogModel => ({
    ...base,
    id,
    ...over,
    dtypes: { int8: { files: base.dtypes.int8!.files, memoryBytes }, fp16: { files: base.dtypes.fp16!.files, memoryBytes: memoryBytes * 2 } },
    defaultDtype: { cpu: 'int8', gpu: 'fp16' },
  });
  const cat = (...models: CatalogModel[]): Catalog => ({ format: 'omnifusion-model-catalog', format_version: 1, models });
  const both = ['documents', 'handwriting'] as CatalogModel['strengths'];
  const big = mk('big', { strengths: both, defaultPriority: 1 }, 6 * GiB);
  const small = mk('small', { strengths: both, defaultPriority: 2 }, 1 * GiB);
  const docs = mk('docs', { strengths: ['documents'] }, 0.5 * GiB);
  const general = mk('general', { strengths: ['general'] }, 0.25 * GiB);
  const unverified = mk('unverified', { strengths: both, defaultPriority: 0, verified: false }, 0.1 * GiB);
  const exported = mk('exported', { strengths: both, defaultPriority: 0, source: { kind: 'export', exporter: 'x', checkpoints: ['y'] } }, 0.1 * GiB);
  const c = cat(general, docs, big, small, unverified, exported);
  assert.equal(defaultModelId(c, { ramBytes: 16 * GiB, gpu: false }), 'big', 'priority wins among fitting docs+handwriting models');
  assert.equal(defaultModelId(c, { ramBytes: 8 * GiB, gpu: false }), 'small', 'big needs 6 GiB > half of 8 GiB');
  assert.equal(defaultModelId(c, { ramBytes: 8 * GiB, gpu: true }), 'small', 'GPU: the gpu dtype memory (12 GiB) decides');
  assert.equal(defaultModelId(c, { ramBytes: 1.5 * GiB, gpu: false }), 'docs', 'no docs+handwriting model fits: the smallest docs model');
  assert.equal(defaultModelId(c, { ramBytes: 0.25 * GiB, gpu: false }), 'general', 'nothing fits: the smallest candidate');
  assert.throws(() => defaultModelId(cat(unverified, exported), { ramBytes: 64 * GiB, gpu: false }), CatalogError);
});

test('catalog validation rejects a bad entry with a one-line message naming it', () => {
  const cases: [string, (c: Catalog) => void, RegExp][] = [
    ['revision not a sha', (c) => ((c.models[0]!.source as { revision: string }).revision = 'main'), /models\[0\] \("smolvlm-256m-instruct"\): source\.revision must be a commit sha \(40 lowercase hex digits\), got "main"$/],
    ['unknown family', (c) => ((c.models[1] as { family: string }).family = 'gpt'), /models\[1\] \("smolvlm-500m-instruct"\): family must be one of omnifusion, idefics3, llava, got "gpt"$/],
    ['bad sha256', (c) => (c.models[0]!.files[9]!.sha256 = 'XYZ'), /files\[9\] \("onnx\/vision_encoder_int8\.onnx"\)\.sha256 must be 64 lowercase hex digits, got "XYZ"$/],
    ['variant names a missing file', (c) => c.models[0]!.dtypes.int8!.files.push('onnx/nope.onnx'), /dtypes\.int8\.files names "onnx\/nope\.onnx", which files lacks$/],
    ['unsafe path', (c) => (c.models[3]!.files[0]!.path = '../../etc/passwd'), /models\[3\] \("llava-interleave-qwen-0\.5b"\): files\[0\]\.path "\.\.\/\.\.\/etc\/passwd" is not a safe relative path$/],
    ['duplicate id', (c) => (c.models[1]!.id = c.models[0]!.id), /models\[1\] \("smolvlm-256m-instruct"\): id "smolvlm-256m-instruct" appears twice$/],
    ['negative size', (c) => (c.models[0]!.files[0]!.bytes = -1), /\.bytes must be a whole number ≥ 0, got -1$/],
    ['bad strength', (c) => ((c.models[0]!.strengths as string[]).push('poetry')), /strengths: "poetry" is not one of documents, handwriting, formulas, general$/],
    ['default dtype missing', (c) => (c.models[0]!.defaultDtype.cpu = 'q4'), /defaultDtype\.cpu "q4" is not one of this model's dtypes$/],
    ['typo field', (c) => ((c.models[2] as unknown as Record<string, unknown>).licence_id = 'mit'), /models\[2\] \("granite-docling-258m"\): unknown field "licence_id"$/],
    ['no memory', (c) => (c.models[4]!.dtypes.fp16!.memoryBytes = 0), /dtypes\.fp16\.memoryBytes must be a whole number of bytes > 0, got 0$/],
    ['reserved name', (c) => (c.models[0]!.files[0]!.path = 'installed.json'), /files\[0\]\.path "installed\.json" is reserved for the installer$/],
    ['format', (c) => ((c as { format: string }).format = 'x'), /^catalog\.json: format must be "omnifusion-model-catalog", got "x"$/],
  ];
  for (const [what, mutate, expected] of cases) {
    const c = raw();
    mutate(c);
    assert.throws(
      () => validateCatalog(c, 'catalog.json'),
      (err: unknown) => {
        assert.ok(err instanceof CatalogError, what);
        assert.ok(!err.message.includes('\n'), `${what}: one line`);
        assert.ok(err.message.startsWith('catalog.json: '), `${what}: names the source`);
        assert.match(err.message, expected, what);
        return true;
      },
      what,
    );
  }
  assert.throws(() => parseCatalog('{"format": ', 'x.json'), /^CatalogError: x\.json: invalid JSON \(.*\)$/);
  assert.throws(() => findModel(raw(), 'gpt-5'), /^CatalogError: unknown model "gpt-5" \(known: smolvlm-256m-instruct, .*omnifusion-1\.1\)$/);
});

test('loadCatalog of a missing file is a one-line CatalogError', async () => {
  await assert.rejects(loadCatalog('/nonexistent/catalog.json'), (err: unknown) => err instanceof CatalogError && /^\/nonexistent\/catalog\.json: cannot read the model catalog \(ENOENT\)$/.test(err.message));
});
