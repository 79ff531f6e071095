/**
 * `omnifusion ask` end to end with the tiny model: parity through the CLI, every real image
 * accepted with a streamed answer, and bad inputs refused with one line and a non-zero exit.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REAL_DATA_DIR, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';
import { loadReference } from '../helpers/reference.js';
import { isOneLineError, runCli } from '../helpers/cli.js';
import { pngHeaderOnly } from '../helpers/images.js';

const reference = loadReference();

function realImages(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (!name.endsWith('.md')) out.push(full);
    }
  };
  walk(REAL_DATA_DIR);
  return out;
}

let tmp: string;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'omnifusion-cli-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('omnifusion ask --reference-defaults --json reproduces the PyTorch reference (--greedy, or the model default of 3 beams)', () => {
  for (const c of reference.cases) {
    test(c.name, { skip: c.cli_args === null && 'needs an EOS override the CLI does not offer (checked in test/engine/parity)' }, async () => {
      const args = ['ask', ...c.images.map((p) => path.join(REAL_DATA_DIR, p)), c.question, '--reference-defaults'];
      if (c.generation.num_beams === 1) args.push('--greedy');
      args.push('--model', TINY_MODEL_DIR, '--json', '--max-new-tokens', String(c.generation.max_new_tokens), ...c.cli_args!);
      if (c.history.length) {
        const file = path.join(tmp, `${c.name}.history.json`);
        await writeFile(file, JSON.stringify(c.history));
        args.push('--history', file);
      }
      const run = await runCli(args);
      assert.equal(run.code, 0, run.stderr);
      const out = JSON.parse(run.stdout) as { token_ids: number[]; answer: string; execution_provider: string; timings: Record<string, number> };
      assert.deepEqual(out.token_ids, c.expected_token_ids);
      assert.equal(out.execution_provider, 'cpu');
      for (const key of ['image_ms', 'prefill_ms', 'ttft_ms', 'decode_tokens_per_s']) {
        assert.equal(typeof out.timings[key], 'number', key);
        assert.ok(out.timings[key]! >= 0, key);
      }
    });
  }
});

describe('every real image is answered', () => {
  const images = realImages();
  test('the shared test set has its 30 images', () => {
    assert.ok(images.length >= 30, `found ${images.length}`);
  });
  for (const image of images) {
    test(path.relative(REAL_DATA_DIR, image), async (t) => {
      const run = await runCli(['ask', image, 'What is in this image?', '--model', TINY_MODEL_DIR, '--greedy', '--max-new-tokens', '6']);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(run.stdout.trim().length > 0, 'an answer was printed');
      assert.equal(run.stderr, '');
      // The pipe may merge the per-token writes; token-by-token streaming is asserted in test/engine.
      t.diagnostic(`answer arrived in ${run.chunks.length} reads: ${JSON.stringify(run.stdout.trim())}`);
    });
  }
});

describe('bad input gets one line and a non-zero exit', () => {
  const receipt = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');

  async function expectRefused(args: string[], pattern: RegExp): Promise<void> {
    const run = await runCli(args);
    assert.ok(isOneLineError(run), `expected a one-line error, got code ${run.code}:\n${run.stderr}`);
    assert.match(run.stderr, pattern);
  }

  test('zero-byte file', async () => {
    const file = path.join(tmp, 'empty.png');
    await writeFile(file, '');
    await expectRefused(['ask', file, 'q?', '--model', TINY_MODEL_DIR], /empty\.png.*empty/);
  });

  test('truncated JPEG', async () => {
    const bytes = await readFile(receipt);
    const file = path.join(tmp, 'truncated.jpg');
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectRefused(['ask', file, 'q?', '--model', TINY_MODEL_DIR], /truncated\.jpg.*(truncated|corrupt)/);
  });

  test('a text file named .png', async () => {
    const file = path.join(tmp, 'notes.png');
    await writeFile(file, 'these are my notes, not a picture\n');
    await expectRefused(['ask', file, 'q?', '--model', TINY_MODEL_DIR], /notes\.png.*not an image/);
  });

  test('a PNG declaring 30000×30000 pixels', async () => {
    const file = path.join(tmp, 'bomb.png');
    await writeFile(file, pngHeaderOnly(30000, 30000));
    await expectRefused(['ask', file, 'q?', '--model', TINY_MODEL_DIR], /bomb\.png.*30000.*30000/);
  });

  test('a missing image file', async () => {
    await expectRefused(['ask', path.join(tmp, 'nope.jpg'), 'q?', '--model', TINY_MODEL_DIR], /nope\.jpg/);
  });

  test('a missing model folder', async () => {
    await expectRefused(['ask', receipt, 'q?', '--model', path.join(tmp, 'no-such-model')], /model folder not found/);
  });

  test('a manifest naming a missing graph', async () => {
    const dir = path.join(tmp, 'missing-graph');
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
    await rm(path.join(dir, 'embed_tokens.onnx'));
    await expectRefused(['ask', receipt, 'q?', '--model', dir], /embed_tokens\.onnx.*missing/);
  });

  test('a graph whose inputs differ from the manifest', async () => {
    const dir = path.join(tmp, 'swapped-graph');
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
    await cp(path.join(dir, 'embed_tokens.onnx'), path.join(dir, 'vision_encoder.onnx'));
    await expectRefused(['ask', receipt, 'q?', '--model', dir], /vision_encoder\.onnx: input "pixel_values" declared in manifest\.json is not in the graph \(graph inputs: input_ids\)/);
  });

  test('a question with no image, and an unknown option', async () => {
    await expectRefused(['ask', 'only a question', '--model', TINY_MODEL_DIR], /at least one image/);
    await expectRefused(['ask', receipt, 'q?', '--model', TINY_MODEL_DIR, '--top-p', 'lots'], /--top-p/);
    await expectRefused(['ask', receipt, 'q?', '--model', TINY_MODEL_DIR, '--top-p', '1.5'], /--top-p must be a number above 0 and at most 1/);
    await expectRefused(['ask', receipt, 'q?', '--model', TINY_MODEL_DIR, '--greedy', '--beams', '3'], /--greedy means one beam/);
    await expectRefused(['ask', 'What is this?', receipt, '--model', TINY_MODEL_DIR], /question goes last/);
  });

  test('manifest values that do not fit the graphs', async () => {
    const dir = path.join(tmp, 'bad-values');
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
    const manifestPath = path.join(dir, 'manifest.json');
    const original = await readFile(manifestPath, 'utf8');
    const edits: [(m: any) => void, RegExp][] = [
      [(m) => (m.text_config.hidden_size = 64), /inputs_embeds dimension 2 is 32 but text_config\.hidden_size is 64/],
      [(m) => (m.preprocessing.image_mean = [0.5]), /preprocessing: .*image_mean must be 3 numbers/],
      [(m) => (m.generation.num_beams = 0), /manifest\.json: generation: num_beams/],
    ];
    for (const [edit, pattern] of edits) {
      const manifest = JSON.parse(original);
      edit(manifest);
      await writeFile(manifestPath, JSON.stringify(manifest));
      await expectRefused(['ask', receipt, 'q?', '--model', dir], pattern);
      await expectRefused(['models', 'verify', dir], pattern);
    }
  });

  test('a prompt longer than the model context is refused; max_new_tokens is cut to the room left', async () => {
    const dir = path.join(tmp, 'short-context');
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
    const manifestPath = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.text_config.max_position_embeddings = 90;
    await writeFile(manifestPath, JSON.stringify(manifest));
    await expectRefused(['ask', receipt, 'q '.repeat(50), '--model', dir], /the prompt is \d+ tokens, more than the model's context of 90 tokens/);
    const run = await runCli(['ask', receipt, 'What is the total?', '--model', dir, '--greedy', '--json', '--max-new-tokens', '100']);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.prompt_length + out.token_ids.length, 90);
    assert.equal(out.finish_reason, 'length');
  });
});

describe('stopping and devices', () => {
  const receipt = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');
  const long = ['ask', receipt, 'Describe it.', '--model', TINY_MODEL_DIR, '--greedy', '--block-ngram', '0', '--max-new-tokens', '20000'];

  test('Ctrl+C (SIGINT to the whole process group) keeps the partial answer and exits 130', async () => {
    let sent = false;
    const run = await runCli(long, {
      detached: true,
      onStdout: (child) => {
        if (!sent) process.kill(-child.pid!, 'SIGINT');
        sent = true;
      },
    });
    assert.equal(run.code, 130, run.stderr);
    assert.equal(run.stderr, '');
    assert.ok(run.stdout.trim().length > 0, 'the partial answer was kept');
  });

  test('Ctrl+C with --json still prints the JSON of what was generated', async () => {
    const run = await runCli([...long, '--json'], {
      detached: true,
      onSpawn: (child) => setTimeout(() => process.kill(-child.pid!, 'SIGINT'), 1500),
    });
    assert.equal(run.code, 130, run.stderr);
    const out = JSON.parse(run.stdout) as { finish_reason: string; token_ids: number[] };
    assert.equal(out.finish_reason, 'cancelled');
    assert.ok(out.token_ids.length < 20000);
  });

  test('a reader that goes away (| head) stops the answer quietly', async () => {
    let closed = false;
    const run = await runCli(long, {
      onStdout: (child) => {
        if (!closed) child.stdout!.destroy();
        closed = true;
      },
    });
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
  });

  test('--device cuda without CUDA falls back to cpu with one note', async () => {
    const run = await runCli(['ask', receipt, 'q?', '--model', TINY_MODEL_DIR, '--greedy', '--json', '--max-new-tokens', '3', '--device', 'cuda']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^note: cuda unavailable: .*; using cpu\n$/);
    assert.equal(JSON.parse(run.stdout).execution_provider, 'cpu');
  });

  test('--device coreml off macOS: the vision encoder falls back to cpu with one note; an onnx-community folder runs too', async (t) => {
    if (process.platform === 'darwin') return t.skip('Core ML exists on macOS');
    const run = await runCli(['ask', receipt, 'q?', '--model', path.join(TINY_MODEL_DIR, '../idefics3-tiny'), '--greedy', '--json', '--max-new-tokens', '3', '--device', 'coreml']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^note: coreml unavailable: .*; using cpu\n$/);
    const out = JSON.parse(run.stdout) as { execution_provider: string; model: string };
    assert.deepEqual([out.execution_provider, out.model], ['cpu', 'idefics3-tiny']);
  });

  // A machine without a usable GPU, on Linux where Dawn reaches GPUs through Vulkan only: the
  // Vulkan loader is pointed at no driver (this hides lavapipe and real GPUs alike).
  const noVulkanDriver = { VK_ICD_FILENAMES: '/nonexistent/no-gpu.json', VK_DRIVER_FILES: '/nonexistent/no-gpu.json' };

  test('--device webgpu without a usable GPU falls back to cpu with one note', async (t) => {
    if (process.platform !== 'linux') return t.skip('hiding the GPU from Dawn is done through the Vulkan loader (Linux)');
    const run = await runCli(['ask', receipt, 'q?', '--model', TINY_MODEL_DIR, '--greedy', '--json', '--max-new-tokens', '3', '--device', 'webgpu'], { env: noVulkanDriver });
    assert.equal(run.code, 0, run.stderr);
    // Dawn (WebGPU's native library) may print its own warning first; ours is one line.
    assert.equal(run.stderr.split('\n').filter((l) => l.startsWith('note:')).length, 1, run.stderr);
    assert.match(run.stderr, /^note: webgpu unavailable: no usable WebGPU adapter .*; using cpu$/m);
    const out = JSON.parse(run.stdout) as { execution_provider: string; kv_cache: string };
    assert.deepEqual([out.execution_provider, out.kv_cache], ['cpu', 'cpu']);
  });

  test('--device webgpu with an adapter: the KV cache stays in GPU memory and the tokens are the CPU\'s', async (t) => {
    const args = ['ask', receipt, 'What is the total?', '--model', TINY_MODEL_DIR, '--greedy', '--json', '--max-new-tokens', '6'];
    const gpu = await runCli([...args, '--device', 'webgpu']);
    assert.equal(gpu.code, 0, gpu.stderr);
    const onGpu = JSON.parse(gpu.stdout) as { execution_provider: string; kv_cache: string; token_ids: number[] };
    if (onGpu.execution_provider !== 'webgpu') return t.skip('no WebGPU adapter here (.ci/run installs Mesa lavapipe)');
    const onCpu = JSON.parse((await runCli([...args, '--device', 'cpu'])).stdout) as { kv_cache: string; token_ids: number[] };
    assert.equal(onGpu.kv_cache, 'gpu-buffer');
    assert.equal(onCpu.kv_cache, 'cpu');
    assert.deepEqual(onGpu.token_ids, onCpu.token_ids);
  });
});

describe('omnifusion models verify', () => {
  test('the tiny package verifies', async () => {
    const run = await runCli(['models', 'verify', TINY_MODEL_DIR]);
    assert.equal(run.code, 0, run.stderr);
    const files = (await readdir(TINY_MODEL_DIR)).filter((f) => f !== 'manifest.json');
    for (const f of files) assert.match(run.stdout, new RegExp(`ok  ${f.replace('.', '\\.')}`));
    assert.match(run.stdout, /package verified/);
  });

  test('a changed byte fails the checksum', async () => {
    const dir = path.join(tmp, 'corrupt');
    await cp(TINY_MODEL_DIR, dir, { recursive: true });
    const file = path.join(dir, 'special_embeddings.bin');
    const bytes = await readFile(file);
    bytes[7] = bytes[7]! ^ 0xff;
    await writeFile(file, bytes);
    const run = await runCli(['models', 'verify', dir]);
    assert.ok(isOneLineError(run), run.stderr);
    assert.match(run.stderr, /special_embeddings\.bin: sha256 mismatch/);
  });
});

describe('--dtype picks the onnx variant of an onnx-community folder', () => {
  const receipt = path.join(REAL_DATA_DIR, 'documents/cord_receipt_00004_reencoded.jpg');
  const IDEFICS3_DIR = path.join(TINY_MODEL_DIR, '../idefics3-tiny');
  const GRAPHS = ['vision_encoder', 'embed_tokens', 'decoder_model_merged'];
  const askJson = (model: string, ...extra: string[]) => runCli(['ask', receipt, 'What is the total?', '--model', model, '--greedy', '--json', '--max-new-tokens', '4', ...extra]);

  /**
   * idefics3-tiny with a second variant: each graph copied to `<graph>_int8.onnx` (a file name:
   * the loader takes the dtype from the suffix, and these graphs are float32 inside), and the fp32
   * files, the default, overwritten with bytes no onnxruntime can load.
   */
  async function twoVariants(): Promise<string> {
    const dir = path.join(tmp, 'two-variants');
    await cp(IDEFICS3_DIR, dir, { recursive: true });
    for (const g of GRAPHS) {
      await copyFile(path.join(dir, 'onnx', `${g}.onnx`), path.join(dir, 'onnx', `${g}_int8.onnx`));
      await writeFile(path.join(dir, 'onnx', `${g}.onnx`), 'not an onnx graph');
    }
    return dir;
  }

  test('--dtype int8 loads the _int8 files (the same answer as the intact fp32 folder) and --json reports it', async () => {
    const dir = await twoVariants();
    const reference = await askJson(IDEFICS3_DIR);
    assert.equal(reference.code, 0, reference.stderr);
    const plain = JSON.parse(reference.stdout) as { token_ids: number[]; dtype: string | null; dtypes: Record<string, string> | null };
    assert.equal(plain.dtype, 'fp32');
    assert.deepEqual(plain.dtypes, { vision_encoder: 'fp32', embed_tokens: 'fp32', decoder_model_merged: 'fp32' });

    const run = await askJson(dir, '--dtype', 'int8');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const out = JSON.parse(run.stdout) as { token_ids: number[]; dtype: string; dtypes: Record<string, string>; model: string };
    assert.equal(out.model, 'two-variants');
    assert.equal(out.dtype, 'int8');
    assert.deepEqual(out.dtypes, { vision_encoder: 'int8', embed_tokens: 'int8', decoder_model_merged: 'int8' });
    assert.equal(out.token_ids.length, 4);
    assert.deepEqual(out.token_ids, plain.token_ids, 'the int8 files hold the same graphs as the fp32 ones');

    // Without --dtype the first present variant, fp32, is loaded: here the damaged files.
    const fallback = await askJson(dir);
    assert.ok(isOneLineError(fallback), `expected a one-line error, got code ${fallback.code}:\n${fallback.stderr}`);
    assert.equal(fallback.code, 1);
    assert.match(fallback.stderr, /vision_encoder\.onnx/);
    assert.doesNotMatch(fallback.stderr, /_int8/);
  });

  test('a dtype the folder lacks gets one line listing the ones it has (exit 1); an OmniFusion package takes only its own (fp32); an unknown name is usage', async () => {
    const dir = await twoVariants();
    const missing = await askJson(dir, '--dtype', 'q4f16');
    assert.ok(isOneLineError(missing), missing.stderr);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `omnifusion: ${dir} has no q4f16 graphs (onnx/*_q4f16.onnx); it has: fp32, int8\n`);
    assert.equal(missing.stdout, '');

    const omnifusion = await askJson(TINY_MODEL_DIR, '--dtype', 'fp16');
    assert.ok(isOneLineError(omnifusion), omnifusion.stderr);
    assert.equal(omnifusion.code, 1);
    assert.equal(omnifusion.stderr, `omnifusion: ${TINY_MODEL_DIR} is an OmniFusion package with one set of graphs (fp32): it has no fp16 variant; drop --dtype or use --dtype fp32\n`);
    // The dtype the package has is accepted.
    const own = await askJson(TINY_MODEL_DIR, '--dtype', 'fp32');
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stderr, '');
    // Without --dtype it runs and says it has no variants.
    const plain = await askJson(TINY_MODEL_DIR);
    assert.equal(plain.code, 0, plain.stderr);
    const out = JSON.parse(plain.stdout) as { dtype: unknown; dtypes: unknown };
    assert.deepEqual([out.dtype, out.dtypes], [null, null]);

    const unknown = await askJson(dir, '--dtype', 'fp64');
    assert.ok(isOneLineError(unknown), unknown.stderr);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /--dtype.*fp64.*Allowed choices are fp32, fp16, int8, uint8, q8, q4, q4f16, bnb4/);
  });
});
