/**
 * The decode stage of the pipeline: inputs_embeds → decoder_model_merged with a KV cache
 * (past_key_values fed from the previous step's present, attention_mask, position_ids) → logits →
 * greedy / sampling / beam search (generation/) → token ids, streamed as UTF-8-safe text deltas
 * up to a stop string. On webgpu the KV cache stays in GPU memory between steps.
 */
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { resourcePath } from '../../base/resources.js';
import { beamSearch, greedyOrSample, IncrementalDetokenizer, StopStringMatcher, type DecoderStep, type GenerationConfig } from '../generation/index.js';
import type { TextConfig } from '../package/manifest-types.js';
import type { FinishReason } from '../protocol.js';
import { sliceKv, type KvPrefix, type KvTensors } from './reuse-cache.js';
import { disposeOnDevice, toFloat32 } from './tensors.js';

/** Callbacks of one generation. `onToken` receives UTF-8-safe text deltas as they become final (token id -1 for the flushed tail). */
export interface GenerateCallbacks {
  onToken?: (tokenId: number, text: string) => void;
  isCancelled?: () => boolean;
}

/** What one decode produced, with the moments (performance.now() ms) the caller's timings are made of. */
export interface DecodeOutcome {
  /** The streamed text (up to a stop string, without it). */
  answer: string;
  /** Every generated id, EOS included when generated. */
  token_ids: number[];
  finish_reason: FinishReason;
  /** 'gpu-buffer' only if the KV cache never left GPU memory. */
  kv_cache: 'gpu-buffer' | 'cpu';
  /** When the prefill ended, the first token was streamed (0: none), the last decoder step ended, and the decode ended. */
  prefillEnd: number;
  firstTokenAt: number;
  lastStepEnd: number;
  end: number;
  /** Decoder runs after the prefill. */
  steps: number;
}

/**
 * Reuse across requests (see reuse-cache.ts): a cached prefix the prompt starts after, and where
 * the sequence's KV cache goes when the answer is done.
 */
export interface DecodeReuse {
  /** KV tensors of the prompt's first `length` positions; inputs_embeds then holds only the positions after them. */
  prefix?: KvPrefix;
  /**
   * Receives the KV cache at the end, [1, heads, n, head_dim] on the CPU: the whole sequence
   * (prompt and the generated ids fed back, `fed`) after greedy or sampling, the prompt alone
   * (`fed` empty) after beam search. Not called for a KV cache in GPU memory, nor after an error.
   */
  keep?: (past: KvTensors, fed: readonly number[]) => void;
}

/** What the decode stage runs on: the decoder graph and the way new tokens become inputs_embeds. */
export interface DecodeStageOptions {
  decoder: ort.InferenceSession;
  textConfig: TextConfig;
  /** Prompt positions per prefill run (see LoadOptions.prefillChunk). */
  prefillChunk: number;
  /** embed_tokens for one new token per row: [rows] → inputs_embeds float32 [rows,1,D]. */
  embedStep: (tokens: readonly number[]) => Promise<Float32Array>;
  /** On webgpu with the KV cache in GPU memory: the row gather graph (openKvGather). */
  kvGather?: ort.InferenceSession;
}

/** The decode stage of one loaded model. */
export class DecodeStage {
  constructor(private readonly options: DecodeStageOptions) {}

  /**
   * The decoder's prefill over inputs_embeds float32 [1,L,D] (past length 0) in a cache of its
   * own, freed after: last-position logits float32 [vocab].
   */
  async prefill(inputsEmbeds: Float32Array): Promise<Float32Array> {
    const cache = new DecoderCache(this.options);
    try {
      return await cache.prefill(inputsEmbeds, inputsEmbeds.length / this.options.textConfig.hidden_size);
    } finally {
      await cache.dispose();
    }
  }

  /**
   * Prefill inputs_embeds float32 [1,L,D], then search token by token per `config`, streaming
   * text through `callbacks`; the KV cache is freed when done.
   * @param promptIds prompt token ids the logits processors see before the generated ids (transformers' input_ids); none for a prompt of embeddings.
   * @param decodeText the tokenizer's ids → text.
   * @param reuse a cached prefix to start after, and where the KV cache goes at the end.
   */
  async decode(
    inputsEmbeds: Float32Array,
    promptIds: number[] | undefined,
    config: GenerationConfig,
    decodeText: (ids: number[]) => string,
    callbacks: GenerateCallbacks,
    reuse: DecodeReuse = {},
  ): Promise<DecodeOutcome> {
    const cache = new DecoderCache(this.options);
    try {
      const prefillLogits = await cache.prefill(inputsEmbeds, inputsEmbeds.length / this.options.textConfig.hidden_size, reuse.prefix);
      const promptLength = cache.length;
      const prefillEnd = performance.now();

      const detokenizer = new IncrementalDetokenizer(decodeText);
      const stops = new StopStringMatcher(config.stop_strings);
      let firstTokenAt = 0;
      let stopHit = false;
      let streamed = '';
      const emit = (text: string, tokenId: number): void => {
        if (stopHit) return;
        const { emit: safe, matched } = stops.push(text);
        streamed += safe;
        if (matched) stopHit = true;
        callbacks.onToken?.(tokenId, safe);
      };
      const onToken = (id: number): void => {
        if (!firstTokenAt) firstTokenAt = performance.now();
        emit(detokenizer.push(id), id);
      };
      const step: DecoderStep = (tokens, parentRows) => cache.step(tokens, parentRows);
      const shouldStop = (): boolean => stopHit || (callbacks.isCancelled?.() ?? false);
      const search = { prefillLogits, step, config, vocabSize: cache.vocabSize, onToken, shouldStop, ...(promptIds ? { promptIds } : {}) };
      const outcome = config.num_beams > 1 && !config.do_sample ? await beamSearch(search) : await greedyOrSample(search);
      if (reuse.keep && cache.location === 'cpu') {
        const kept = cache.sequence(promptLength);
        reuse.keep(kept.past, kept.fed);
      }
      if (!stopHit) {
        const rest = detokenizer.flush();
        const tail = stops.flush(rest);
        streamed += tail;
        if (tail) callbacks.onToken?.(-1, tail);
      }
      return {
        answer: streamed,
        token_ids: outcome.tokenIds,
        // The search reports a stop string as 'cancelled' (shouldStop); say which stop it was.
        finish_reason: stopHit ? 'stop_string' : outcome.finishReason,
        kv_cache: cache.location,
        prefillEnd,
        firstTokenAt,
        lastStepEnd: cache.lastStepEnd,
        end: performance.now(),
        steps: cache.steps,
      };
    } finally {
      await cache.dispose();
    }
  }

  /** Release the KV gather graph (the decoder session is the pipeline's). */
  async dispose(): Promise<void> {
    await this.options.kvGather?.release();
  }
}

/**
 * The decoder's KV cache across steps: `past_key_values.N.key/value` fed from the previous
 * `present.N.key/value`, with rows gathered when beams are reordered (HF `_reorder_cache`).
 * On webgpu the presents stay in GPU memory (see OpenSessionOptions.deviceOutputs) and go back in
 * as the next step's past without a copy; the replaced ones are freed at once, since GPU buffers
 * are not reclaimed by the JS garbage collector.
 */
class DecoderCache {
  private past: Record<string, ort.Tensor> = {};
  /** Where every step so far left the KV cache: 'gpu-buffer' only if all presents stayed on the device. */
  location: 'gpu-buffer' | 'cpu' = 'cpu';
  private ranOnce = false;
  private pastLength = 0;
  private rows = 1;
  /** Ids fed by single-row steps after the prefill (greedy, sampling); undefined once a step ran several rows (beams). */
  private fed: number[] | undefined = [];
  readonly vocabSize: number;
  /** Decoder runs after the prefill, and when the last one ended (performance.now() ms). */
  steps = 0;
  lastStepEnd = 0;

  private readonly hasPositionIds: boolean;
  private readonly hasLogitsToKeep: boolean;

  constructor(private readonly options: DecodeStageOptions) {
    this.vocabSize = options.textConfig.vocab_size;
    // position_ids and num_logits_to_keep are optional inputs of decoder_model_merged.
    this.hasPositionIds = options.decoder.inputNames.includes('position_ids');
    this.hasLogitsToKeep = options.decoder.inputNames.includes('num_logits_to_keep');
  }

  /** Positions in the cache now. */
  get length(): number {
    return this.pastLength;
  }

  /**
   * Run the prompt in chunks of prefillChunk positions: inputs_embeds [1,L,D] → last-position
   * logits [vocab]. With `prefix`, the cache starts as its tensors and inputs_embeds holds the
   * positions after them.
   */
  async prefill(inputsEmbeds: Float32Array, length: number, prefix?: KvPrefix): Promise<Float32Array> {
    const cfg = this.options.textConfig;
    const dtype = cfg.kv_cache_dtype;
    await this.dispose();
    const empty = dtype === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    for (let layer = 0; layer < cfg.num_hidden_layers; layer++) {
      for (const kind of ['key', 'value']) {
        const name = `past_key_values.${layer}.${kind}`;
        const cached = prefix?.past[name];
        if (prefix && (!cached || cached.type !== dtype || cached.dims[2] !== prefix.length)) throw new Error(`the cached prefix has no ${dtype} ${name} of ${prefix.length} positions`);
        this.past[name] = cached ?? new ort.Tensor(dtype, empty, [1, cfg.num_key_value_heads, 0, cfg.head_dim]);
      }
    }
    this.rows = 1;
    this.pastLength = prefix?.length ?? 0;
    this.fed = [];
    const hidden = cfg.hidden_size;
    const chunk = this.options.prefillChunk;
    let logits: Float32Array = new Float32Array(0);
    for (let start = 0; start < length; start += chunk) {
      const end = Math.min(length, start + chunk);
      logits = await this.run(inputsEmbeds.subarray(start * hidden, end * hidden), end - start);
    }
    return logits;
  }

  /** One token per row, each continuing the cached row `parentRows[r]`. Returns logits [rows*vocab]. */
  async step(tokens: readonly number[], parentRows: readonly number[]): Promise<Float32Array> {
    await this.reorder(parentRows);
    if (tokens.length === 1 && this.rows === 1) this.fed?.push(tokens[0]!);
    else this.fed = undefined;
    const embeds = await this.options.embedStep(tokens);
    const logits = await this.run(embeds, 1);
    this.steps += 1;
    this.lastStepEnd = performance.now();
    return logits;
  }

  private async run(inputsEmbeds: Float32Array, seqLen: number): Promise<Float32Array> {
    const rows = this.rows;
    const hidden = this.options.textConfig.hidden_size;
    const total = this.pastLength + seqLen;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', inputsEmbeds, [rows, seqLen, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * total).fill(1n), [rows, total]),
      ...this.past,
    };
    if (this.hasPositionIds) {
      feeds.position_ids = new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: rows * seqLen }, (_, i) => BigInt(this.pastLength + (i % seqLen))),
        [rows, seqLen],
      );
    }
    // Only the last position's logits are used (transformers.js sets 1 as well).
    if (this.hasLogitsToKeep) feeds.num_logits_to_keep = new ort.Tensor('int64', BigInt64Array.from([1n]), []);
    const out = await this.options.decoder.run(feeds);
    let onDevice = true;
    for (const name of Object.keys(this.past)) {
      const present = out[name.replace('past_key_values', 'present')]!;
      disposeOnDevice(this.past[name]!);
      this.past[name] = present;
      onDevice &&= present.location === 'gpu-buffer';
    }
    this.location = onDevice && (!this.ranOnce || this.location === 'gpu-buffer') ? 'gpu-buffer' : 'cpu';
    this.ranOnce = true;
    this.pastLength = total;
    const logits = out.logits!;
    const data = toFloat32(logits);
    const vocab = this.vocabSize;
    const positions = logits.dims[1]!; // seqLen, or 1 with num_logits_to_keep
    if (positions === 1) return data;
    const last = new Float32Array(rows * vocab);
    for (let r = 0; r < rows; r++) {
      last.set(data.subarray(((r + 1) * positions - 1) * vocab, (r + 1) * positions * vocab), r * vocab);
    }
    return last;
  }

  /**
   * The cache as one sequence for reuse (CPU tensors only): all of it after single-row steps, with
   * the ids those steps fed; after several rows (beam search) row 0's first `promptLength`
   * positions, the prompt every row shares, and no ids.
   */
  sequence(promptLength: number): { past: KvTensors; fed: readonly number[] } {
    if (this.fed && this.rows === 1) return { past: { ...this.past }, fed: [...this.fed] };
    return { past: sliceKv(this.past, promptLength), fed: [] };
  }

  /**
   * Gather cache rows so row r continues old row parentRows[r]; identity needs no copy. A cache in
   * GPU memory is gathered there by a one-node graph: onnxruntime-node 1.30 cannot read a
   * 'gpu-buffer' tensor back into JS (getData() aborts the process), and a round trip would cost
   * the copies the device cache exists to avoid.
   */
  private async reorder(parentRows: readonly number[]): Promise<void> {
    const identity = parentRows.length === this.rows && parentRows.every((p, i) => p === i);
    if (identity) return;
    for (const [name, tensor] of Object.entries(this.past)) {
      const [oldRows, ...rest] = tensor.dims as number[];
      if (parentRows.some((parent) => parent < 0 || parent >= oldRows!)) throw new Error(`beam parent row out of range [0, ${oldRows})`);
      if (tensor.location === 'gpu-buffer') {
        this.past[name] = await this.gatherOnDevice(tensor, parentRows);
        tensor.dispose();
        continue;
      }
      const rowSize = rest.reduce((a, b) => a * b, 1);
      const src = tensor.data as Float32Array | Uint16Array;
      const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(parentRows.length * rowSize);
      parentRows.forEach((parent, r) => {
        dst.set(src.subarray(parent * rowSize, (parent + 1) * rowSize), r * rowSize);
      });
      this.past[name] = new ort.Tensor(tensor.type as 'float32', dst as Float32Array, [parentRows.length, ...rest]);
    }
    this.rows = parentRows.length;
  }

  /**
   * Rows of a KV tensor in GPU memory gathered on the device: `data` [rows,heads,seq,head_dim] →
   * [parentRows.length,heads,seq,head_dim], row r = data[parentRows[r]].
   */
  private async gatherOnDevice(data: ort.Tensor, parentRows: readonly number[]): Promise<ort.Tensor> {
    const gather = this.options.kvGather;
    if (!gather) throw new Error('the KV cache is in GPU memory but no gather graph is loaded');
    const indices = new ort.Tensor('int64', BigInt64Array.from(parentRows, (r) => BigInt(r)), [parentRows.length]);
    return (await gather.run({ data, indices })).gathered!;
  }

  /** Free the cache's GPU buffers (a no-op for a cache in CPU memory). */
  async dispose(): Promise<void> {
    for (const tensor of Object.values(this.past)) disposeOnDevice(tensor);
    this.past = {};
  }
}

/**
 * The KV-cache row gather graph for `dtype` (resources/graphs, written by
 * native-models/kv-cache/gather.py) on webgpu, its output left in GPU memory. Read as bytes so it
 * also loads from inside a packaged app.asar.
 */
export async function openKvGather(dtype: 'float32' | 'float16'): Promise<ort.InferenceSession> {
  const bytes = await readFile(resourcePath(import.meta.url, `graphs/kv_gather.${dtype}.onnx`));
  return ort.InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    executionProviders: ['webgpu'],
    preferredOutputLocation: 'gpu-buffer',
    logSeverityLevel: 3,
  });
}
