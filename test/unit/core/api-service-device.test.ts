/**
 * The device setting: 'auto' by default; changing it reloads the model on the chosen execution
 * provider, which falls back to the CPU with a note where it cannot run (no GPU here), never a
 * crash; a --device given to the process overrides the setting; unknown devices are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelStatus } from '../../../main/api/contract.js';
import { createApiService, type ApiService } from '../../../main/core/api-service.js';
import { TINY_MODEL_DIR } from '../../fixtures/reference-cases.js';

function ready(service: ApiService): Promise<ModelStatus> {
  return new Promise((resolve) => {
    const check = (s: ModelStatus) => {
      if (s.state !== 'ready' && s.state !== 'error') return;
      off();
      resolve(s);
    };
    const off = service.on('models.status', check);
    void service.call('models.status', {}).then(check);
  });
}

test('device: auto by default, a change reloads the model on that provider or falls back to cpu with a note', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'omnifusion-device-'));
  const service = await createApiService({ dataDir, modelDir: TINY_MODEL_DIR });
  try {
    assert.equal((await service.call('settings.get', {})).device, 'auto');
    const first = await ready(service);
    assert.equal(first.state, 'ready');
    // auto tries the GPU first (cuda on Linux, dml on Windows); landing on the CPU is quiet.
    assert.equal(first.note, undefined, `no note with auto: ${first.note}`);
    await service.call('settings.set', { device: 'webgpu' });
    const moved = await ready(service);
    assert.equal(moved.state, 'ready', moved.error);
    if (moved.executionProvider !== 'webgpu') {
      assert.equal(moved.executionProvider, 'cpu');
      assert.match(moved.note ?? '', /^webgpu unavailable: .*; using cpu$/);
    }
    await assert.rejects(service.call('settings.set', { device: 'tpu' as never }), (e) => /device must be auto, cpu, webgpu, cuda, dml or coreml/.test(service.describeError(e).message));
    assert.equal((await service.call('settings.get', {})).device, 'webgpu', 'the refused change kept the setting');
  } finally {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('device: a provider given to the process (--device) wins over the setting', { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'omnifusion-device-'));
  const service = await createApiService({ dataDir, modelDir: TINY_MODEL_DIR, executionProvider: 'cpu' });
  try {
    await ready(service);
    await service.call('settings.set', { device: 'cuda' });
    const status = await ready(service);
    assert.equal(status.executionProvider, 'cpu');
    assert.equal(status.note, undefined, 'no reload onto cuda was tried');
  } finally {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
