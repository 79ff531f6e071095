/**
 * The OmniFusion inference pipeline on onnxruntime-node: images → pixel_values → vision encoder
 * (+ adapter) → image_features; prompt segments → inputs_embeds; decoder_model_merged with a KV
 * cache; logits processors, greedy / sampling / beam search; incremental detokenization.
 * Runs inside the engine process (onnxruntime-node's `run()` blocks its JS thread).
 */
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeImage, type DecodedImage } from '../core/images/index.js';
import { clipPreprocessBatch } from './preprocess/clip.js';
import { generationDefaultsOf, loadManifest, ModelPackageError, GRAPH_NAMES, type GraphName, type ModelManifest } from './package/manifest.js';
import { checkGraphSignature, openSession, type ExecutionProvider } from './session.js';
import { TextTokenizer } from './tokenizer.js';
import { buildOmniFusionPrompt, prepareOcrText, type PromptSegment } from './models/omnifusion.js';
import {
  beamSearch,
  greedyOrSample,
  IncrementalDetokenizer,
  resolveGenerationConfig,
  StopStringMatcher,
  type DecoderStep,
  type GenerationConfig,
} from './generation/index.js';
import type { GenerateRequest, GenerateResult, ImageSource, LoadedModelInfo, OcrPromptInfo } from './protocol.js';

/** Options for loading a package. */
export interface LoadOptions {
  executionProvider?: ExecutionProvider;
  /** onnxruntime intra-op threads; 0 lets it choose. */
  threads?: number;
  /**
   * Prompt positions per prefill run (default 512). The decoder returns logits for every position
   * it is given and attention costs grow with chunk × context, so a long prompt runs in chunks
   * through the KV cache instead of at once.
   */
  prefillChunk?: number;
}

/** Callbacks of one generation. `onText` receives UTF-8-safe text deltas as they become final. */
export interface GenerateCallbacks {
  onToken?: (tokenId: number, text: string) => void;
  isCancelled?: () => boolean;
}

/** A request the engine refuses before running the model; the message is one line for the user. */
export class BadRequestError extends Error {
  override name = 'BadRequestError';
}

type KvTensors = Record<string, ort.Tensor>;

/** A loaded model package with its three sessions. */
export class VlmPipeline {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly tokenizer: TextTokenizer,
    private readonly sessions: Record<GraphName, ort.InferenceSession>,
    private readonly specialEmbeddings: Map<string, Float32Array>,
    private readonly defaults: GenerationConfig,
    readonly info: LoadedModelInfo,
    /** Prompt positions per prefill run (see LoadOptions.prefillChunk). */
    readonly prefillChunk: number,
  ) {}

  /**
   * Load a package: manifest, tokenizer, special embeddings, three sessions whose inputs and
   * outputs are checked against the manifest.
   * @throws ModelPackageError with a one-line message naming the problem.
   */
  static async load(dir: string, options: LoadOptions = {}): Promise<VlmPipeline> {
    const started = performance.now();
    const folder = path.resolve(dir);
    const manifest = await loadManifest(folder);
    const tokenizer = await TextTokenizer.load(folder, manifest);
    const specialEmbeddings = await readSpecialEmbeddings(folder, manifest);
    const requested = options.executionProvider ?? 'cpu';
    const sessions = {} as Record<GraphName, ort.InferenceSession>;
    let executionProvider = 'cpu';
    const notes: string[] = [];
    for (const name of GRAPH_NAMES) {
      const spec = manifest.graphs[name];
      const opened = await openSession(path.join(folder, spec.file), requested, options.threads ?? 0);
      checkGraphSignature(name, spec, opened.session);
      sessions[name] = opened.session;
      if (name === 'decoder_model_merged') executionProvider = opened.executionProvider;
      if (opened.note && !notes.includes(opened.note)) notes.push(opened.note);
    }
    const gen = manifest.generation;
    const badWordsIds = [...(gen.bad_words_ids ?? []), ...(gen.bad_words ?? []).map((w) => tokenizer.encode(w))];
    const defaults = generationDefaultsOf(manifest, dedupeSequences(badWordsIds, gen.eos_token_id));
    const info: LoadedModelInfo = {
      name: manifest.name,
      family: manifest.family,
      dir: folder,
      execution_provider: executionProvider,
      ...(notes.length ? { note: notes.join('; ') } : {}),
      load_ms: performance.now() - started,
      ...(manifest.prompt.ocr_text ? { ocr_text_position: manifest.prompt.ocr_text.position } : {}),
    };
    const prefillChunk = options.prefillChunk ?? 512;
    if (!Number.isInteger(prefillChunk) || prefillChunk < 1) throw new BadRequestError(`prefillChunk must be a whole number ≥ 1, got ${prefillChunk}`);
    return new VlmPipeline(folder, manifest, tokenizer, sessions, specialEmbeddings, defaults, info, prefillChunk);
  }

  /** The generation settings a request gets when it overrides nothing. */
  get generationDefaults(): GenerationConfig {
    return this.defaults;
  }

  /** Release the onnxruntime sessions. */
  async dispose(): Promise<void> {
    await Promise.all(GRAPH_NAMES.map((n) => this.sessions[n].release()));
  }

  /**
   * Decode and preprocess images into pixel_values float32 [N,3,H,W] per the manifest.
   * @throws ImageInputError for an unreadable, empty, truncated or oversized image.
   */
  async preprocess(images: readonly ImageSource[]): Promise<{ pixel_values: Float32Array; dims: number[] }> {
    const decoded: DecodedImage[] = [];
    for (const image of images) {
      decoded.push('path' in image ? await decodeImage(image.path) : await decodeImage(Buffer.from(image.bytes), { name: image.name }));
    }
    const batch = await clipPreprocessBatch(decoded, this.manifest.preprocessing);
    return { pixel_values: batch.pixel_values, dims: [...batch.dims] };
  }

  /** Run the vision encoder + adapter: pixel_values [N,3,H,W] → image_features float32 [N,T,D]. */
  async encodeImages(pixelValues: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }> {
    const out = await this.sessions.vision_encoder.run({ pixel_values: new ort.Tensor('float32', pixelValues, [...dims]) });
    const features = out.image_features!;
    return { data: features.data as Float32Array, dims: [...features.dims] };
  }

  /** Prompt segments for a request (see models/omnifusion.ts for the order). */
  buildPrompt(request: Pick<GenerateRequest, 'question' | 'history' | 'ocr_text'>, numImages: number): PromptSegment[] {
    return this.assemblePrompt(request, numImages).segments;
  }

  /**
   * Prompt segments for a request, with its OCR text (if any) normalised, capped and placed where
   * the manifest's `prompt.ocr_text` says.
   * @throws BadRequestError for OCR text the package has no place for, or more OCR texts than images.
   */
  assemblePrompt(request: Pick<GenerateRequest, 'question' | 'history' | 'ocr_text'>, numImages: number): { segments: PromptSegment[]; ocr?: OcrPromptInfo } {
    const encode = (t: string): number[] => this.tokenizer.encode(t);
    const raw = request.ocr_text ?? [];
    if (!Array.isArray(raw) || raw.some((t) => t !== null && typeof t !== 'string')) throw new BadRequestError('ocr_text must be a list of strings (or null), one per image');
    if (raw.length > numImages) throw new BadRequestError(`ocr_text has ${raw.length} entries for ${numImages} image${numImages === 1 ? '' : 's'}`);
    const layout = this.manifest.prompt.ocr_text;
    let ocr: OcrPromptInfo | undefined;
    let ocrTexts: (string | null)[] = [];
    if (raw.some((t) => t?.trim())) {
      if (!layout) {
        throw new BadRequestError(
          `model "${this.manifest.name}" takes no OCR text: its manifest has no prompt.ocr_text saying where such text goes (re-export it, or ask without OCR text)`,
        );
      }
      const prepared = prepareOcrText(layout, raw, encode);
      ocrTexts = prepared.texts;
      if (prepared.texts.some((t) => t)) ocr = { position: layout.position, tokens: prepared.tokens, truncated: prepared.truncated };
    }
    const segments = buildOmniFusionPrompt(
      this.manifest.prompt,
      encode,
      { numImages, question: request.question, ...(request.history ? { history: request.history } : {}), ...(ocr ? { ocrTexts } : {}) },
      this.manifest.text_config.bos_token_id,
    );
    return { segments, ...(ocr ? { ocr } : {}) };
  }

  /**
   * Assemble inputs_embeds float32 [1,L,D] from segments: text ids through embed_tokens (one run for
   * all text), special rows from special_embeddings.bin, image rows from image_features.
   */
  async embedPrompt(segments: readonly PromptSegment[], imageFeatures: { data: Float32Array; dims: number[] } | undefined): Promise<Float32Array> {
    const hidden = this.manifest.text_config.hidden_size;
    const allIds = segments.flatMap((s) => (s.kind === 'text' ? s.ids : []));
    const textRows = allIds.length ? await this.embedIds(allIds, 1) : new Float32Array(0);
    const tokensPerImage = imageFeatures ? imageFeatures.dims[1]! : 0;
    const length = segments.reduce((n, s) => n + (s.kind === 'text' ? s.ids.length : s.kind === 'image' ? tokensPerImage : 1), 0);
    const embeds = new Float32Array(length * hidden);
    let row = 0;
    let textRow = 0;
    for (const segment of segments) {
      if (segment.kind === 'text') {
        embeds.set(textRows.subarray(textRow * hidden, (textRow + segment.ids.length) * hidden), row * hidden);
        textRow += segment.ids.length;
        row += segment.ids.length;
      } else if (segment.kind === 'special') {
        const vector = this.specialEmbeddings.get(segment.name);
        if (!vector) throw new ModelPackageError(`${this.dir}: the prompt layout uses special embedding "${segment.name}" that the package lacks`);
        embeds.set(vector, row * hidden);
        row += 1;
      } else {
        if (!imageFeatures) throw new Error('image segment without image features');
        const size = tokensPerImage * hidden;
        embeds.set(imageFeatures.data.subarray(segment.index * size, (segment.index + 1) * size), row * hidden);
        row += tokensPerImage;
      }
    }
    return embeds;
  }

  /** embed_tokens: ids (rows × ids.length/rows, row-major) → inputs_embeds float32 [rows, S, D]. */
  private async embedIds(ids: readonly number[], rows: number): Promise<Float32Array> {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [rows, ids.length / rows]);
    const out = await this.sessions.embed_tokens.run({ input_ids: input });
    return out.inputs_embeds!.data as Float32Array;
  }

  /**
   * Answer a request: images and question in, streamed text deltas out.
   * @throws ImageInputError, BadRequestError (one-line messages), GenerationConfigError.
   */
  async generate(request: GenerateRequest, callbacks: GenerateCallbacks = {}): Promise<GenerateResult> {
    const started = performance.now();
    if (typeof request.question !== 'string' || !request.question.trim()) throw new BadRequestError('the question is empty');
    const config = resolveGenerationConfig(this.defaults, request.generation ?? {});

    const images = request.images ?? [];
    // Prompt first: a request the model cannot take is refused before the images are encoded.
    const { segments, ocr } = this.assemblePrompt(request, images.length);
    const promptMs = performance.now() - started;
    let features: { data: Float32Array; dims: number[] } | undefined;
    if (images.length) {
      const { pixel_values, dims } = await this.preprocess(images);
      features = await this.encodeImages(pixel_values, dims);
    }
    const imageDone = performance.now();

    const inputsEmbeds = await this.embedPrompt(segments, features);
    const promptLength = inputsEmbeds.length / this.manifest.text_config.hidden_size;
    const context = this.manifest.text_config.max_position_embeddings;
    if (context !== undefined) {
      if (promptLength >= context) {
        throw new BadRequestError(`the prompt is ${promptLength} tokens, more than the model's context of ${context} tokens`);
      }
      // Like transformers' max_length: the answer stops where the context ends.
      config.max_new_tokens = Math.min(config.max_new_tokens, context - promptLength);
    }
    const cache = new DecoderCache(this);
    const prefillLogits = await cache.prefill(inputsEmbeds, promptLength);
    const prefillDone = performance.now();

    const detokenizer = new IncrementalDetokenizer((ids) => this.tokenizer.decode(ids));
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
    const outcome =
      config.num_beams > 1 && !config.do_sample
        ? await beamSearch({ prefillLogits, step, config, vocabSize: cache.vocabSize, onToken, shouldStop })
        : await greedyOrSample({ prefillLogits, step, config, vocabSize: cache.vocabSize, onToken, shouldStop });
    if (!stopHit) {
      const rest = detokenizer.flush();
      const tail = stops.flush(rest);
      streamed += tail;
      if (tail) callbacks.onToken?.(-1, tail);
    }
    const end = performance.now();
    return {
      answer: streamed,
      token_ids: outcome.tokenIds,
      // The search reports a stop string as 'cancelled' (shouldStop); say which stop it was.
      finish_reason: stopHit ? 'stop_string' : outcome.finishReason,
      prompt_length: promptLength,
      execution_provider: this.info.execution_provider,
      timings: {
        image_ms: imageDone - started - promptMs,
        prefill_ms: prefillDone - imageDone + promptMs,
        ttft_ms: (firstTokenAt || end) - started,
        decode_tokens_per_s: cache.steps > 0 ? (cache.steps * 1000) / (cache.lastStepEnd - prefillDone) : 0,
        total_ms: end - started,
      },
      ...(ocr ? { ocr } : {}),
    };
  }

  /** The decoder's prefill over inputs_embeds float32 [1,L,D] (past length 0): last-position logits float32 [vocab]. */
  async prefill(inputsEmbeds: Float32Array): Promise<Float32Array> {
    return new DecoderCache(this).prefill(inputsEmbeds, inputsEmbeds.length / this.manifest.text_config.hidden_size);
  }

  /** Run decoder_model_merged once. Exposed to DecoderCache only. */
  async runDecoder(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.sessions.decoder_model_merged.run(feeds);
  }

  /** embed_tokens for one new token per row: [rows] → float32 [rows,1,D]. */
  async embedStep(tokens: readonly number[]): Promise<Float32Array> {
    return this.embedIds(tokens, tokens.length);
  }
}

/**
 * The decoder's KV cache across steps: `past_key_values.N.key/value` fed from the previous
 * `present.N.key/value`, with rows gathered when beams are reordered (HF `_reorder_cache`).
 */
class DecoderCache {
  private past: KvTensors = {};
  private pastLength = 0;
  private rows = 1;
  readonly vocabSize: number;
  /** Decoder runs after the prefill, and when the last one ended (performance.now() ms). */
  steps = 0;
  lastStepEnd = 0;

  constructor(private readonly pipeline: VlmPipeline) {
    this.vocabSize = pipeline.manifest.text_config.vocab_size;
  }

  /** Run the prompt in chunks of pipeline.prefillChunk positions: inputs_embeds [1,L,D] → last-position logits [vocab]. */
  async prefill(inputsEmbeds: Float32Array, length: number): Promise<Float32Array> {
    const cfg = this.pipeline.manifest.text_config;
    const dtype = cfg.kv_cache_dtype;
    const empty = dtype === 'float16' ? new Uint16Array(0) : new Float32Array(0);
    for (let layer = 0; layer < cfg.num_hidden_layers; layer++) {
      for (const kind of ['key', 'value']) {
        this.past[`past_key_values.${layer}.${kind}`] = new ort.Tensor(dtype, empty, [1, cfg.num_key_value_heads, 0, cfg.head_dim]);
      }
    }
    this.rows = 1;
    this.pastLength = 0;
    const hidden = cfg.hidden_size;
    const chunk = this.pipeline.prefillChunk;
    let logits: Float32Array = new Float32Array(0);
    for (let start = 0; start < length; start += chunk) {
      const end = Math.min(length, start + chunk);
      logits = await this.run(inputsEmbeds.subarray(start * hidden, end * hidden), end - start);
    }
    return logits;
  }

  /** One token per row, each continuing the cached row `parentRows[r]`. Returns logits [rows*vocab]. */
  async step(tokens: readonly number[], parentRows: readonly number[]): Promise<Float32Array> {
    this.reorder(parentRows);
    const embeds = await this.pipeline.embedStep(tokens);
    const logits = await this.run(embeds, 1);
    this.steps += 1;
    this.lastStepEnd = performance.now();
    return logits;
  }

  private async run(inputsEmbeds: Float32Array, seqLen: number): Promise<Float32Array> {
    const rows = this.rows;
    const hidden = this.pipeline.manifest.text_config.hidden_size;
    const total = this.pastLength + seqLen;
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', inputsEmbeds, [rows, seqLen, hidden]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(rows * total).fill(1n), [rows, total]),
      position_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: rows * seqLen }, (_, i) => BigInt(this.pastLength + (i % seqLen))),
        [rows, seqLen],
      ),
      ...this.past,
    };
    const out = await this.pipeline.runDecoder(feeds);
    for (const name of Object.keys(this.past)) {
      this.past[name] = out[name.replace('past_key_values', 'present')]!;
    }
    this.pastLength = total;
    const logits = out.logits!;
    const data = logits.data as Float32Array;
    const vocab = this.vocabSize;
    if (seqLen === 1) return data;
    const last = new Float32Array(rows * vocab);
    for (let r = 0; r < rows; r++) {
      last.set(data.subarray(((r + 1) * seqLen - 1) * vocab, (r + 1) * seqLen * vocab), r * vocab);
    }
    return last;
  }

  /** Gather cache rows so row r continues old row parentRows[r]; identity needs no copy. */
  private reorder(parentRows: readonly number[]): void {
    const identity = parentRows.length === this.rows && parentRows.every((p, i) => p === i);
    if (identity) return;
    for (const [name, tensor] of Object.entries(this.past)) {
      const [oldRows, ...rest] = tensor.dims as number[];
      const rowSize = rest.reduce((a, b) => a * b, 1);
      const src = tensor.data as Float32Array | Uint16Array;
      const dst = new (src.constructor as Float32ArrayConstructor | Uint16ArrayConstructor)(parentRows.length * rowSize);
      parentRows.forEach((parent, r) => {
        if (parent < 0 || parent >= oldRows!) throw new Error(`beam parent row ${parent} out of range`);
        dst.set(src.subarray(parent * rowSize, (parent + 1) * rowSize), r * rowSize);
      });
      this.past[name] = new ort.Tensor(tensor.type as 'float32', dst as Float32Array, [parentRows.length, ...rest]);
    }
    this.rows = parentRows.length;
  }
}

/** Read special_embeddings.bin (float32 [n, hidden], rows named by the manifest). */
async function readSpecialEmbeddings(dir: string, manifest: ModelManifest): Promise<Map<string, Float32Array>> {
  const spec = manifest.special_embeddings;
  const file = path.join(dir, spec.file);
  const bytes = await readFile(file);
  const [rows, hidden] = spec.shape;
  if (spec.dtype !== 'float32' || bytes.byteLength !== rows * hidden * 4 || hidden !== manifest.text_config.hidden_size) {
    throw new ModelPackageError(`${file}: expected float32 [${rows}, ${manifest.text_config.hidden_size}], got ${bytes.byteLength} bytes`);
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return new Map(spec.names.map((name, i) => [name, all.subarray(i * hidden, (i + 1) * hidden)]));
}

/** Unique bad-word sequences; a lone EOS is dropped, as transformers does, so EOS can still end the answer. */
function dedupeSequences(seqs: number[][], eosTokenId: number): number[][] {
  const seen = new Set<string>();
  return seqs.filter((s) => {
    const key = s.join(',');
    if (!s.length || (s.length === 1 && s[0] === eosTokenId) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
