/**
 * Part 4 of npm run bench:engine: follow-ups. A conversation of five turns about one receipt photo
 * on the Idefics3 bench model (idefics3-bench-model.ts; the image goes with every turn, as the app
 * sends it, and the history grows by each answer), asked of three engines one after another in
 * this process: ours with its reuse cache (the default), ours without it (reuseCacheBytes 0,
 * every turn from scratch), and transformers.js 4.3.2 recomputing every turn (its generate() keeps
 * no cache between calls). Time to first token of turns 2–5 (call → first token id, everything
 * included), medians over OMNIFUSION_BENCH_RUNS conversations (default 3), and the ratios.
 * Greedy, TURN_TOKENS new tokens with EOS off; the history answers are our engine's own.
 */
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { VlmPipeline } from '../../main/engine/pipeline.js';
import { idefics3Messages } from '../../main/engine/models/idefics3.js';
import type { ChatTurn } from '../../main/engine/protocol.js';
import { ensureIdefics3Model, I3_DIR, I3_PHOTO, I3_QUESTION } from './idefics3-bench-model.js';

const TURN_TOKENS = 8;
const QUESTIONS = [I3_QUESTION, 'What is the tax?', 'Who is the seller?', 'List every item.', 'Which item costs the most?'];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Time to first token (ms) of each of the five turns, for one engine's `ask`. */
type Ask = (question: string, history: ChatTurn[]) => Promise<{ ttft: number; answer: string }>;

async function conversation(ask: Ask, answers?: string[]): Promise<{ ttfts: number[]; answers: string[] }> {
  const history: ChatTurn[] = [];
  const ttfts: number[] = [];
  const said: string[] = [];
  for (const [i, question] of QUESTIONS.entries()) {
    const { ttft, answer } = await ask(question, [...history]);
    ttfts.push(ttft);
    said.push(answer);
    history.push({ question, answer: answers?.[i] ?? answer });
  }
  return { ttfts, answers: said };
}

/** Part 4; see the file comment. */
export async function benchTurns(): Promise<void> {
  ensureIdefics3Model();
  const threads = Number(process.env.OMNIFUSION_BENCH_THREADS ?? os.availableParallelism());
  const runs = Number(process.env.OMNIFUSION_BENCH_RUNS ?? 3);
  process.stdout.write(`\n## 4. follow-ups: time to first token per turn, Idefics3 bench model, ${threads} threads, median of ${runs} conversations\n`);

  const ourAsk = (pipeline: VlmPipeline): Ask => async (question, history) => {
    const start = performance.now();
    let first = 0;
    const r = await pipeline.generate(
      { images: [{ path: I3_PHOTO }], question, history, generation: { do_sample: false, num_beams: 1, max_new_tokens: TURN_TOKENS, eos_token_id: [] } },
      { onToken: (id) => void (id >= 0 && !first && (first = performance.now())) },
    );
    return { ttft: first - start, answer: r.answer };
  };

  const results: Record<string, number[][]> = {};
  let answers: string[] | undefined;
  for (const [name, bytes] of [['ours, reuse cache', undefined], ['ours, from scratch', 0]] as const) {
    const pipeline = await VlmPipeline.load(I3_DIR, { executionProvider: 'cpu', threads, ...(bytes !== undefined ? { reuseCacheBytes: bytes } : {}) });
    await conversation(ourAsk(pipeline)); // warm-up
    results[name] = [];
    for (let r = 0; r < runs; r++) {
      pipeline.clearReuseCache(); // each conversation starts cold, as a new one in the app
      const c = await conversation(ourAsk(pipeline), answers);
      answers ??= c.answers;
      results[name].push(c.ttfts);
    }
    await pipeline.dispose();
  }

  const tjs = await import('@huggingface/transformers');
  tjs.env.allowRemoteModels = false;
  tjs.env.allowLocalModels = true;
  tjs.env.localModelPath = `${path.dirname(I3_DIR)}/`;
  const id = path.basename(I3_DIR);
  const processor = await tjs.AutoProcessor.from_pretrained(id, { local_files_only: true });
  const model = await tjs.AutoModelForVision2Seq.from_pretrained(id, {
    local_files_only: true,
    dtype: 'fp32',
    device: 'cpu',
    session_options: { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads },
  });
  const theirAsk: Ask = async (question, history) => {
    let first = 0;
    let prompt = true;
    const streamer = new (class extends tjs.BaseStreamer {
      override put(): void {
        if (prompt) prompt = false; // the first put() is the prompt
        else first ||= performance.now();
      }
      override end(): void {}
    })();
    const start = performance.now();
    const image = await tjs.RawImage.read(I3_PHOTO);
    const text = processor.apply_chat_template(idefics3Messages(question, history, 1) as never, { add_generation_prompt: true }) as string;
    const inputs = await processor(text, [image]);
    await model.generate({ ...inputs, max_new_tokens: TURN_TOKENS, do_sample: false, eos_token_id: [], streamer } as never);
    return { ttft: first - start, answer: '' };
  };
  await conversation(theirAsk, answers); // warm-up
  results['transformers.js, recomputing'] = [];
  for (let r = 0; r < runs; r++) results['transformers.js, recomputing']!.push((await conversation(theirAsk, answers)).ttfts);
  await model.dispose();

  const perTurn = (name: string): number[] => QUESTIONS.map((_, t) => median(results[name]!.map((c) => c[t]!)));
  const cached = perTurn('ours, reuse cache');
  const rows: string[][] = [['engine', ...QUESTIONS.map((_, t) => `turn ${t + 1} ms`)]];
  for (const name of Object.keys(results)) rows.push([name, ...perTurn(name).map((v) => v.toFixed(0))]);
  for (const name of ['ours, from scratch', 'transformers.js, recomputing']) {
    rows.push([`${name} / reuse cache`, ...perTurn(name).map((v, t) => `${(v / cached[t]!).toFixed(1)}×`)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  for (const r of rows) process.stdout.write(`${r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')}\n`);
  const later = cached.slice(1);
  process.stdout.write(`turns 2–5 with the cache: ${Math.min(...later).toFixed(0)}–${Math.max(...later).toFixed(0)} ms (spread ${((Math.max(...later) / Math.min(...later) - 1) * 100).toFixed(0)} %)\n`);
}
