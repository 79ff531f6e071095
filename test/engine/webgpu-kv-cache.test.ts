/**
 * The decoder's KV cache on WebGPU (issue 6): with `--device webgpu` the `present.*` outputs stay in
 * GPU memory and go back in as the next step's past, beams are reordered on the device, and the
 * answers are token for token the CPU's (which the parity suites hold to PyTorch and
 * transformers.js). Runs where onnxruntime-node finds a WebGPU adapter; on a machine without a GPU
 * that is Mesa's lavapipe (software Vulkan; .ci/run installs it), otherwise the suite is skipped
 * with the reason. Also: the committed gather graphs are what their generator writes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import type { GenerateRequest } from '../../main/engine/protocol.js';
import { REAL_DATA_DIR, REPO_ROOT, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

const FAMILIES = [
  ['omnifusion', TINY_MODEL_DIR],
  ['idefics3', path.join(REPO_ROOT, 'test/fixtures/models/idefics3-tiny')],
  ['llava', path.join(REPO_ROOT, 'test/fixtures/models/llava-tiny')],
] as const;

const RECEIPT = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');

/** Why WebGPU cannot be tested here, or undefined when an adapter was found. */
async function webgpuUnavailable(): Promise<string | undefined> {
  const probe = await VlmPipeline.load(TINY_MODEL_DIR, { executionProvider: 'webgpu' });
  try {
    return probe.info.execution_provider === 'webgpu' ? undefined : (probe.info.note ?? 'webgpu not used');
  } finally {
    await probe.dispose();
  }
}

const skipReason = await webgpuUnavailable();

for (const [family, dir] of FAMILIES) {
  describe(`${family}: KV cache in GPU memory on webgpu`, { skip: skipReason }, () => {
    let cpu: VlmPipeline;
    let gpu: VlmPipeline;
    before(async () => {
      cpu = await VlmPipeline.load(dir, { executionProvider: 'cpu' });
      gpu = await VlmPipeline.load(dir, { executionProvider: 'webgpu' });
    });
    after(async () => {
      await cpu?.dispose();
      await gpu?.dispose();
    });

    const cases: [string, GenerateRequest][] = [
      ['greedy, real receipt', { question: 'What is the total?', images: [{ path: RECEIPT }], generation: { max_new_tokens: 10, do_sample: false } }],
      ['beam search (3 beams)', { question: 'What is the total?', images: [{ path: RECEIPT }], generation: { max_new_tokens: 8, do_sample: false, num_beams: 3 } }],
    ];
    for (const [name, request] of cases) {
      test(`${name}: same tokens as the CPU, the cache never left the device`, async () => {
        const onCpu = await cpu.generate(request);
        const onGpu = await gpu.generate(request);
        assert.equal(gpu.info.execution_provider, 'webgpu');
        assert.equal(onCpu.kv_cache, 'cpu');
        assert.equal(onGpu.kv_cache, 'gpu-buffer');
        assert.ok(onGpu.token_ids.length > 1, 'more than one step ran through the device cache');
        assert.deepEqual(onGpu.token_ids, onCpu.token_ids);
        assert.equal(onGpu.answer, onCpu.answer);
      });
    }

    test('a chunked prefill (chunks of 7 positions) feeds device tensors between chunks and gives the same tokens', async () => {
      const chunked = await VlmPipeline.load(dir, { executionProvider: 'webgpu', prefillChunk: 7 });
      try {
        const request = cases[0]![1];
        const whole = await cpu.generate(request);
        const parts = await chunked.generate(request);
        assert.equal(parts.kv_cache, 'gpu-buffer');
        assert.deepEqual(parts.token_ids, whole.token_ids);
      } finally {
        await chunked.dispose();
      }
    });
  });
}

test('the committed KV gather graphs are what native-models/kv-cache/gather.py writes', { skip: onnxMissing() }, async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-kv-gather-'));
  try {
    execFileSync('/usr/bin/python3', ['native-models/kv-cache/gather.py', out], { cwd: REPO_ROOT, stdio: 'pipe' });
    for (const dtype of ['float32', 'float16']) {
      const name = `kv_gather.${dtype}.onnx`;
      assert.deepEqual(await readFile(path.join(out, name)), await readFile(path.join(REPO_ROOT, 'resources/graphs', name)), name);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

/** Why the generator cannot run here (Debian's python3 with onnx), or undefined. */
function onnxMissing(): string | undefined {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import onnx'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'Debian python3 with onnx is not installed';
}
