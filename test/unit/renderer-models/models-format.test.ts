/**
 * How the window describes model sizes (renderer/lib/models-format.ts) and the core's lines the
 * window shows as they are: a model whose file sizes the catalog does not list is "size known once
 * the download starts", never the sum of its few known files ("at least 203 kB" for a 2.8 GB
 * model); the default model's reason uses the same decimal units as the sizes beside it; a failed
 * download's message fits the window as well as the command line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelEntry } from '../../../main/api/contract.js';
import { defaultModelChoice, findModel, loadCatalog, DEFAULT_CATALOG_PATH, approxDownloadBytes } from '../../../main/core/models/index.js';
import { formatBytes, sizeOf, variantSize } from '../../../renderer/lib/models-format.js';

const entry = (variant: ModelEntry['variants'][number]): ModelEntry => ({
  id: 'm', name: 'M', family: 'idefics3', description: '', strengths: [], licence: { id: 'apache-2.0' }, source: 'hub', verified: true,
  variants: [variant], defaultDtype: variant.dtype, installed: null, partialBytes: 0, active: false, pulling: null,
});

test('a model with unlisted file sizes has its size "known once the download starts", not "at least" its small files', async () => {
  const catalog = await loadCatalog(DEFAULT_CATALOG_PATH);
  const granite = findModel(catalog, 'granite-docling-258m');
  const size = approxDownloadBytes(granite, 'fp32');
  assert.ok(size.unknownFiles.length > 0 && size.bytes < 1e6, 'the published catalog lists few sizes for it');
  const v = { dtype: 'fp32', downloadBytes: size.bytes, exact: false, unknownSizeFiles: size.unknownFiles.length, memoryBytes: 2_794_123_960 };
  assert.equal(sizeOf(entry(v)).download, 'size known once the download starts');
  assert.equal(variantSize(v), 'size known once the download starts');
  assert.equal(sizeOf(entry(v)).memory, '2.79 GB');
  assert.equal(variantSize({ ...v, unknownSizeFiles: 0, downloadBytes: 2_180_000_000 }), 'about 2.18 GB');
  assert.equal(variantSize({ ...v, unknownSizeFiles: 0, exact: true, downloadBytes: 512 }), '512 B');
});

test("the default model's reason says sizes in GB, the unit of every size beside it", async () => {
  const catalog = await loadCatalog(DEFAULT_CATALOG_PATH);
  const choice = defaultModelChoice(catalog, { ramBytes: 16e9, gpu: false });
  assert.doesNotMatch(choice.reason, /GiB/);
  const memory = findModel(catalog, choice.id).dtypes[choice.dtype]!.memoryBytes;
  const [, gb] = /needs about ([\d.]+) GB/.exec(choice.reason) ?? [];
  assert.ok(gb, choice.reason);
  assert.equal(Number(gb).toFixed(1), Number(formatBytes(memory).split(' ')[0]).toFixed(1), `${choice.reason} vs ${formatBytes(memory)}`);
  assert.match(choice.reason, /16\.0 GB RAM/);
});
