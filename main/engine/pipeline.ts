/**
 * The inference pipeline on onnxruntime-node, one for every model family: images → pixel_values →
 * vision encoder (+ adapter/connector) → image_features; prompt → inputs_embeds with the image rows
 * in place; decoder_model_merged with a KV cache; logits processors, greedy / sampling / beam
 * search; incremental detokenization. Runs inside the engine process (onnxruntime-node's `run()`
 * blocks its JS thread).
 *
 * What differs per family (manifest.family):
 * - `omnifusion` (manifest.json package): CLIP preprocessing, prompt segments with learned special
 *   embeddings (models/omnifusion.ts);
 * - `idefics3` (SmolVLM / granite-docling folder in the onnx-community layout, read as published):
 *   tiles + global image with pixel_attention_mask (preprocess/idefics3.ts), the folder's chat
 *   template, `<image>` expansion, image-token rows of the token embeddings replaced in order by
 *   the image features (models/idefics3.ts), prompt ids seen by the logits processors as in
 *   transformers' generate(input_ids=…);
 * - `llava` (llava-interleave-qwen-0.5b folder, read as published): one resize per image
 *   (preprocess/resize.ts, or CLIP's), each `<image>` repeated once per feature row, then as Idefics3.
 */
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeImage, type DecodedImage } from '../media/images/index.js';
import { resourcePath } from '../base/resources.js';
import { clipPreprocessBatch } from './preprocess/clip.js';
import { idefics3Preprocess, type ImageGrid } from './preprocess/idefics3.js';
import { resizePreprocessBatch } from './preprocess/resize.js';
import { generationDefaultsOf, loadManifest } from './package/manifest.js';
import { ModelPackageError } from './package/errors.js';
import { GRAPH_NAMES, type ChatManifest, type GraphDtype, type GraphName, type ModelManifest, type OmniFusionManifest } from './package/manifest-types.js';
import { adoptKvDtype } from './package/hf-folder.js';
import type { ExecutionProvider } from './execution-provider.js';
import { checkGraphSignature, openSession, providerForGraph } from './session.js';
import { TextTokenizer } from './tokenizer.js';
import { buildOmniFusionPrompt, prepareOcrText, type PromptSegment } from './models/omnifusion.js';
import { expandImageTokens, idefics3Messages, maskAddedTokens, mergeImageFeatures, PromptError, renderChatTemplate, splitMarked, unmask } from './models/idefics3.js';
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
  /**
   * A folder in the onnx-community layout ships several onnx variants per graph: which to load
   * (transformers.js dtype names: fp32, fp16, q8, int8, uint8, q4, q4f16, bnb4), for all graphs or
   * per graph. Default: the first present in that order.
   */
  dtype?: GraphDtype | Partial<Record<GraphName, GraphDtype>>;
  /**
   * On webgpu, keep the decoder's KV cache in GPU memory between steps (default true). False
   * returns it to the CPU after every step, as every other provider does: for comparison
   * (bench:engine part 3) and as a way around a driver that mishandles device outputs.
   */
  kvCacheOnDevice?: boolean;
}

/** What the vision encoder of the loaded family takes, from preprocess(). */
export interface VisionInputs {
  /** float32: [N,3,H,W] (OmniFusion, LLaVA) or [1,N,3,H,W] (Idefics3). */
  pixel_values: Float32Array;
  dims: number[];
  /** Idefics3: bool [1,N,H,W] as bytes (1 = real pixel). */
  pixel_attention_mask?: Uint8Array;
  /** Idefics3: each image's tile grid (rows × cols, 0 × 0 = not split); LLaVA: 0 × 0 per image. */
  grids?: ImageGrid[];
}

/** A request turned into the decoder's first input. */
interface PreparedInputs {
  inputsEmbeds: Float32Array;
  /** Prompt token ids the logits processors see before the generated ids (transformers' input_ids); none for a prompt of embeddings. */
  promptIds?: number[];
  ocr?: OcrPromptInfo;
  /** Milliseconds spent on images (decode, preprocess, vision encoder) and on the prompt. */
  imageMs: number;
  promptMs: number;
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
    const manifest = await loadManifest(folder, options.dtype !== undefined ? { dtype: options.dtype } : {});
    const tokenizer = await TextTokenizer.load(folder, manifest);
    const specialEmbeddings = manifest.family === 'omnifusion' ? await readSpecialEmbeddings(folder, manifest) : new Map<string, Float32Array>();
    const requested = options.executionProvider ?? 'cpu';
    const sessions = {} as Record<GraphName, ort.InferenceSession>;
    let executionProvider = 'cpu';
    let visionOnCoreMl = false;
    let visionProvider = 'cpu';
    const notes: string[] = [];
    for (const name of GRAPH_NAMES) {
      const spec = manifest.graphs[name];
      const opened = await openSession(path.join(folder, spec.file), providerForGraph(name, requested), {
        threads: options.threads ?? 0,
        ...(name === 'decoder_model_merged' && options.kvCacheOnDevice !== false
          ? { deviceOutputs: Object.keys(spec.outputs).filter((o) => o.startsWith('present.')) }
          : {}),
      });
      if (name === 'decoder_model_merged' && manifest.origin === 'hf-config') adoptKvDtype(manifest, opened.session);
      checkGraphSignature(name, spec, opened.session);
      sessions[name] = opened.session;
      if (name === 'decoder_model_merged') executionProvider = opened.executionProvider;
      if (name === 'vision_encoder' && requested === 'coreml' && opened.executionProvider === 'coreml') visionOnCoreMl = true;
      if (name === 'vision_encoder') visionProvider = opened.executionProvider;
      if (opened.note && !notes.includes(opened.note)) notes.push(opened.note);
    }
    const gen = manifest.generation;
    const badWordsIds = [...(gen.bad_words_ids ?? []), ...(gen.bad_words ?? []).map((w) => tokenizer.encode(w))];
    if (manifest.family !== 'omnifusion') checkChatTokens(manifest, tokenizer, folder);
    const defaults = generationDefaultsOf(manifest, dedupeSequences(badWordsIds, gen.eos_token_id));
    const info: LoadedModelInfo = {
      name: manifest.name,
      family: manifest.family,
      dir: folder,
      execution_provider: visionOnCoreMl ? 'coreml (vision encoder) + cpu' : executionProvider,
      ...(notes.length ? { note: notes.join('; ') } : {}),
      load_ms: performance.now() - started,
      ...(manifest.family === 'omnifusion' && manifest.prompt.ocr_text ? { ocr_text_position: manifest.prompt.ocr_text.position } : {}),
    };
    const prefillChunk = options.prefillChunk ?? 512;
    if (!Number.isInteger(prefillChunk) || prefillChunk < 1) throw new BadRequestError(`prefillChunk must be a whole number ≥ 1, got ${prefillChunk}`);
    const pipeline = new VlmPipeline(folder, manifest, tokenizer, sessions, specialEmbeddings, defaults, info, prefillChunk);
    pipeline.visionPerFrame = manifest.family === 'idefics3' && visionProvider === 'cpu';
    if (executionProvider === 'webgpu' && options.kvCacheOnDevice !== false) pipeline.kvGather = await openKvGather(manifest.text_config.kv_cache_dtype);
    return pipeline;
  }

  /** On webgpu: the graph that reorders KV cache rows in GPU memory for beam search (see DecoderCache.reorder). */
  private kvGather: ort.InferenceSession | undefined;

  /**
   * Idefics3 on the CPU: run the vision encoder once per frame (tile or global image) instead of
   * once for all of them (see encodeImages).
   */
  private visionPerFrame = false;

  /** The generation settings a request gets when it overrides nothing. */
  get generationDefaults(): GenerationConfig {
    return this.defaults;
  }

  /** Release the onnxruntime sessions. */
  async dispose(): Promise<void> {
    await Promise.all([...GRAPH_NAMES.map((n) => this.sessions[n].release()), this.kvGather?.release()]);
  }

  /** Decode images (EXIF orientation, sRGB, alpha on white, size guards). */
  async decodeImages(images: readonly ImageSource[]): Promise<DecodedImage[]> {
    const decoded: DecodedImage[] = [];
    for (const image of images) {
      decoded.push('path' in image ? await decodeImage(image.path) : await decodeImage(Buffer.from(image.bytes), { name: image.name }));
    }
    return decoded;
  }

  /**
   * Decode and preprocess images into the vision encoder's inputs per the manifest: pixel_values
   * float32 [N,3,H,W] (OmniFusion), or [1,N,3,H,W] tiles with pixel_attention_mask and grids (Idefics3).
   * @throws ImageInputError for an unreadable, empty, truncated or oversized image.
   */
  async preprocess(images: readonly ImageSource[]): Promise<VisionInputs> {
    return this.preprocessDecoded(await this.decodeImages(images));
  }

  /** preprocess() for images already decoded. */
  async preprocessDecoded(decoded: readonly DecodedImage[]): Promise<VisionInputs> {
    const m = this.manifest;
    if (m.family === 'idefics3') {
      const p = idefics3Preprocess(decoded, m.preprocessing);
      return { pixel_values: p.pixel_values, dims: [...p.dims], pixel_attention_mask: p.pixel_attention_mask, grids: p.grids };
    }
    if (m.preprocessing.kind === 'resize') {
      const batch = resizePreprocessBatch(decoded, m.preprocessing);
      return { pixel_values: batch.pixel_values, dims: [...batch.dims], grids: decoded.map(() => ({ rows: 0, cols: 0 })) };
    }
    const batch = await clipPreprocessBatch(decoded, m.preprocessing);
    return { pixel_values: batch.pixel_values, dims: [...batch.dims], ...(m.family === 'llava' ? { grids: decoded.map(() => ({ rows: 0, cols: 0 })) } : {}) };
  }

  /**
   * Run the vision encoder (+ adapter or connector): pixel_values → image_features float32
   * [N,T,D] (OmniFusion: one row of T per image; Idefics3: one per tile).
   * @param pixelAttentionMask Idefics3's mask [1,N,H,W] as bytes; all ones when omitted.
   */
  async encodeImages(pixelValues: Float32Array, dims: readonly number[], pixelAttentionMask?: Uint8Array): Promise<{ data: Float32Array; dims: number[] }> {
    const session = this.sessions.vision_encoder;
    let mask: Uint8Array | undefined;
    const maskDims = [...dims.slice(0, -3), ...dims.slice(-2)];
    if (session.inputNames.includes('pixel_attention_mask')) {
      mask = pixelAttentionMask ?? new Uint8Array(maskDims.reduce((a, b) => a * b, 1)).fill(1);
    }
    const run = async (values: Float32Array, valueDims: number[], frameMask: Uint8Array | undefined, frameMaskDims: number[]): Promise<ort.Tensor> => {
      const feeds: Record<string, ort.Tensor> = { pixel_values: new ort.Tensor('float32', values, valueDims) };
      if (frameMask) feeds.pixel_attention_mask = new ort.Tensor('bool', frameMask, frameMaskDims);
      return (await session.run(feeds)).image_features!;
    };
    // Idefics3 on the CPU, [1,N,3,H,W]: one run per frame. Every frame is encoded on its own inside
    // the graph (per-frame patch mask, position ids and attention), so the features are the same
    // (bit-identical on onnxruntime's CPU kernels), but the activations are one frame's instead of
    // N's: the attention scores alone are N × heads × 1024² floats per layer. With SmolVLM-256M's
    // shapes a 13-frame page peaked at 2.1 GB RSS instead of 4.0 GB, and the vision encoder ran ~10%
    // faster on 2 cores (npm run bench:engine). As the batched graph does, all-zero (padding) frames
    // give no features unless every frame is one, then frame 0 alone is kept.
    if (this.visionPerFrame && dims.length === 5 && dims[0] === 1 && dims[1]! > 1) {
      const [, n, c, h, w] = dims as [number, number, number, number, number];
      const frame = c * h * w;
      const plane = h * w;
      const frames = Array.from({ length: n }, (_, i) => pixelValues.subarray(i * frame, (i + 1) * frame));
      let kept = frames.map((_, i) => i).filter((i) => frames[i]!.some((v) => v !== 0));
      if (!kept.length) kept = [0];
      const parts: Float32Array[] = [];
      let rows = 0;
      let rest: number[] = [];
      for (const i of kept) {
        const features = await run(frames[i]!, [1, 1, c, h, w], mask?.subarray(i * plane, (i + 1) * plane), [1, 1, h, w]);
        parts.push(toFloat32(features));
        rows += features.dims[0]!;
        rest = features.dims.slice(1) as number[];
      }
      const data = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let offset = 0;
      for (const p of parts) {
        data.set(p, offset);
        offset += p.length;
      }
      return { data, dims: [rows, ...rest] };
    }
    const features = await run(pixelValues, [...dims], mask, maskDims);
    return { data: toFloat32(features), dims: [...features.dims] };
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
    const manifest = this.omnifusionManifest();
    const encode = (t: string): number[] => this.tokenizer.encode(t);
    const raw = request.ocr_text ?? [];
    if (!Array.isArray(raw) || raw.some((t) => t !== null && typeof t !== 'string')) throw new BadRequestError('ocr_text must be a list of strings (or null), one per image');
    if (raw.length > numImages) throw new BadRequestError(`ocr_text has ${raw.length} entries for ${numImages} image${numImages === 1 ? '' : 's'}`);
    const layout = manifest.prompt.ocr_text;
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
      manifest.prompt,
      encode,
      { numImages, question: request.question, ...(request.history ? { history: request.history } : {}), ...(ocr ? { ocrTexts } : {}) },
      manifest.text_config.bos_token_id,
    );
    return { segments, ...(ocr ? { ocr } : {}) };
  }

  /** The manifest, for OmniFusion-only steps. */
  private omnifusionManifest(): OmniFusionManifest {
    if (this.manifest.family !== 'omnifusion') throw new Error(`prompt segments are OmniFusion's; this model is ${this.manifest.family}`);
    return this.manifest;
  }

  /**
   * Idefics3 and LLaVA: the chat prompt of a request for images split as `grids` — the template's text (the
   * images as `<image>` leading the first user turn) and the token ids of the expanded prompt.
   * @throws BadRequestError for OCR text (this family's prompt has no place for it).
   */
  buildChatPrompt(request: Pick<GenerateRequest, 'question' | 'history' | 'ocr_text'>, grids: readonly ImageGrid[]): { text: string; expanded: string; ids: number[] } {
    const m = this.manifest;
    if (m.family === 'omnifusion') throw new Error(`chat prompts are for chat-template families; this model is ${m.family}`);
    const raw = request.ocr_text ?? [];
    if (!Array.isArray(raw) || raw.some((t) => t !== null && typeof t !== 'string')) throw new BadRequestError('ocr_text must be a list of strings (or null), one per image');
    if (raw.length > grids.length) throw new BadRequestError(`ocr_text has ${raw.length} entries for ${grids.length} image${grids.length === 1 ? '' : 's'}`);
    if (raw.some((t) => t?.trim())) {
      throw new BadRequestError(`model "${m.name}" takes no OCR text (its ${m.family} prompt has no place for it); ask without OCR text`);
    }
    try {
      // The user's texts are plain text: an `<image>` or `<|im_end|>` typed in a question is masked
      // before rendering and tokenized as its characters, so it cannot place image slots or end a turn.
      const { messages, spans } = maskAddedTokens(idefics3Messages(request.question, request.history, grids.length), this.tokenizer.addedTokens);
      const marked = renderChatTemplate(m.prompt, messages);
      const markedExpanded = expandImageTokens(marked, grids, m.prompt);
      const text = unmask(marked, spans);
      const expanded = unmask(markedExpanded, spans);
      if (!spans.length) return { text, expanded, ids: this.tokenizer.encodePrompt(expanded, m.prompt.add_special_tokens) };
      const { before, after } = this.tokenizer.specialTokensAround(m.prompt.add_special_tokens);
      const ids = [...before];
      for (const piece of splitMarked(markedExpanded, spans)) ids.push(...(piece.plain ? this.tokenizer.encodePlain(piece.text) : this.tokenizer.encodePrompt(piece.text, false)));
      ids.push(...after);
      return { text, expanded, ids };
    } catch (err) {
      if (err instanceof PromptError) throw new BadRequestError(err.message);
      throw err;
    }
  }

  /**
   * Idefics3 / LLaVA: inputs_embeds float32 [L,D] of prompt ids, with the rows of image tokens
   * replaced in order by the image features (flattened [tiles·T, D] or [images·T, D]).
   * @throws BadRequestError when the image tokens and the feature rows differ in number.
   */
  async embedChatPrompt(ids: readonly number[], imageFeatures: { data: Float32Array } | undefined): Promise<Float32Array> {
    const m = this.manifest as ChatManifest;
    const embeds = await this.embedIds(ids, 1);
    try {
      mergeImageFeatures(embeds, ids, m.prompt.image_token_id, imageFeatures?.data ?? new Float32Array(0), m.text_config.hidden_size);
    } catch (err) {
      if (err instanceof PromptError) throw new BadRequestError(err.message);
      throw err;
    }
    return embeds;
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
    return toFloat32(out.inputs_embeds!);
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
    const { inputsEmbeds, promptIds, ocr, imageMs, promptMs } =
      this.manifest.family === 'omnifusion' ? await this.prepareSegments(request, images) : await this.prepareChat(request, images);
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
    try {
      return await this.decode(cache, inputsEmbeds, promptLength, promptIds, config, callbacks, { started, imageMs, promptMs, ocr });
    } finally {
      await cache.dispose();
    }
  }

  /** Prefill, then search token by token, streaming text; the cache is the caller's to dispose. */
  private async decode(
    cache: DecoderCache,
    inputsEmbeds: Float32Array,
    promptLength: number,
    promptIds: number[] | undefined,
    config: GenerationConfig,
    callbacks: GenerateCallbacks,
    { started, imageMs, promptMs, ocr }: { started: number; imageMs: number; promptMs: number; ocr: OcrPromptInfo | undefined },
  ): Promise<GenerateResult> {
    const imageDone = started + imageMs + promptMs;
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
        ? await beamSearch({ prefillLogits, step, config, vocabSize: cache.vocabSize, onToken, shouldStop, ...(promptIds ? { promptIds } : {}) })
        : await greedyOrSample({ prefillLogits, step, config, vocabSize: cache.vocabSize, onToken, shouldStop, ...(promptIds ? { promptIds } : {}) });
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
      kv_cache: cache.location,
      timings: {
        image_ms: imageMs,
        prefill_ms: prefillDone - imageDone + promptMs,
        ttft_ms: (firstTokenAt || end) - started,
        decode_tokens_per_s: cache.steps > 0 ? (cache.steps * 1000) / (cache.lastStepEnd - prefillDone) : 0,
        total_ms: end - started,
      },
      ...(ocr ? { ocr } : {}),
    };
  }

  /** OmniFusion: prompt segments first (a request the model cannot take is refused before the images are encoded), then images. */
  private async prepareSegments(request: GenerateRequest, images: readonly ImageSource[]): Promise<PreparedInputs> {
    const t0 = performance.now();
    const { segments, ocr } = this.assemblePrompt(request, images.length);
    const t1 = performance.now();
    let features: { data: Float32Array; dims: number[] } | undefined;
    if (images.length) {
      const { pixel_values, dims } = await this.preprocess(images);
      features = await this.encodeImages(pixel_values, dims);
    }
    const t2 = performance.now();
    const inputsEmbeds = await this.embedPrompt(segments, features);
    return { inputsEmbeds, ...(ocr ? { ocr } : {}), imageMs: t2 - t1, promptMs: t1 - t0 + (performance.now() - t2) };
  }

  /** Idefics3 / LLaVA: images first (Idefics3's prompt depends on their tile grids), then the chat prompt, its embeddings and the merge. */
  private async prepareChat(request: GenerateRequest, images: readonly ImageSource[]): Promise<PreparedInputs> {
    const t0 = performance.now();
    let vision: VisionInputs | undefined;
    if (images.length) vision = await this.preprocess(images);
    const t1 = performance.now();
    const { ids } = this.buildChatPrompt(request, vision?.grids ?? []);
    const t2 = performance.now();
    const features = vision ? await this.encodeImages(vision.pixel_values, vision.dims, vision.pixel_attention_mask) : undefined;
    const t3 = performance.now();
    const inputsEmbeds = await this.embedChatPrompt(ids, features);
    return { inputsEmbeds, promptIds: ids, imageMs: t1 - t0 + (t3 - t2), promptMs: t2 - t1 + (performance.now() - t3) };
  }

  /** The decoder's prefill over inputs_embeds float32 [1,L,D] (past length 0): last-position logits float32 [vocab]. */
  async prefill(inputsEmbeds: Float32Array): Promise<Float32Array> {
    const cache = new DecoderCache(this);
    try {
      return await cache.prefill(inputsEmbeds, inputsEmbeds.length / this.manifest.text_config.hidden_size);
    } finally {
      await cache.dispose();
    }
  }

  /** Run decoder_model_merged once. Exposed to DecoderCache only. */
  async runDecoder(feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.OnnxValueMapType> {
    return this.sessions.decoder_model_merged.run(feeds);
  }

  /**
   * Rows of a KV tensor in GPU memory gathered on the device: `data` [rows,heads,seq,head_dim] →
   * [parentRows.length,heads,seq,head_dim], row r = data[parentRows[r]]. Exposed to DecoderCache only.
   */
  async gatherOnDevice(data: ort.Tensor, parentRows: readonly number[]): Promise<ort.Tensor> {
    if (!this.kvGather) throw new Error('the KV cache is in GPU memory but no gather graph is loaded');
    const indices = new ort.Tensor('int64', BigInt64Array.from(parentRows, (r) => BigInt(r)), [parentRows.length]);
    return (await this.kvGather.run({ data, indices })).gathered!;
  }

  /** Whether decoder_model_merged has an input (position_ids and num_logits_to_keep are optional). */
  decoderHasInput(name: string): boolean {
    return this.sessions.decoder_model_merged.inputNames.includes(name);
  }

  /** embed_tokens for one new token per row: [rows] → float32 [rows,1,D]. */
  async embedStep(tokens: readonly number[]): Promise<Float32Array> {
    return this.embedIds(tokens, tokens.length);
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
  private past: KvTensors = {};
  /** Where every step so far left the KV cache: 'gpu-buffer' only if all presents stayed on the device. */
  location: 'gpu-buffer' | 'cpu' = 'cpu';
  private ranOnce = false;
  private pastLength = 0;
  private rows = 1;
  readonly vocabSize: number;
  /** Decoder runs after the prefill, and when the last one ended (performance.now() ms). */
  steps = 0;
  lastStepEnd = 0;

  private readonly hasPositionIds: boolean;
  private readonly hasLogitsToKeep: boolean;

  constructor(private readonly pipeline: VlmPipeline) {
    this.vocabSize = pipeline.manifest.text_config.vocab_size;
    this.hasPositionIds = pipeline.decoderHasInput('position_ids');
    this.hasLogitsToKeep = pipeline.decoderHasInput('num_logits_to_keep');
  }

  /** Run the prompt in chunks of pipeline.prefillChunk positions: inputs_embeds [1,L,D] → last-position logits [vocab]. */
  async prefill(inputsEmbeds: Float32Array, length: number): Promise<Float32Array> {
    const cfg = this.pipeline.manifest.text_config;
    const dtype = cfg.kv_cache_dtype;
    await this.dispose();
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
    await this.reorder(parentRows);
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
    const out = await this.pipeline.runDecoder(feeds);
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
        this.past[name] = await this.pipeline.gatherOnDevice(tensor, parentRows);
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
async function openKvGather(dtype: 'float32' | 'float16'): Promise<ort.InferenceSession> {
  const bytes = await readFile(resourcePath(import.meta.url, `graphs/kv_gather.${dtype}.onnx`));
  return ort.InferenceSession.create(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    executionProviders: ['webgpu'],
    preferredOutputLocation: 'gpu-buffer',
    logSeverityLevel: 3,
  });
}

/** Free a tensor held in GPU memory; CPU tensors are left to the garbage collector. */
function disposeOnDevice(tensor: ort.Tensor): void {
  if (tensor.location === 'gpu-buffer') tensor.dispose();
}

/** A float32 or float16 tensor's data as float32 (fp16 graphs may return half-precision outputs). */
function toFloat32(tensor: ort.Tensor): Float32Array {
  if (tensor.type === 'float32') return tensor.data as Float32Array;
  if (tensor.type !== 'float16') throw new Error(`expected a float tensor, got ${tensor.type}`);
  const half = tensor.data as Uint16Array;
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) {
    const h = half[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** The chat prompt's image tokens must be single tokens of this tokenizer, with the ids config.json names. */
function checkChatTokens(manifest: ChatManifest, tokenizer: TextTokenizer, folder: string): void {
  const p = manifest.prompt;
  if (tokenizer.tokenToId(p.image_token) !== p.image_token_id) {
    throw new ModelPackageError(`${folder}: the tokenizer's ${p.image_token} is not image_token_id ${p.image_token_id}`);
  }
  for (const t of p.tiles ? [p.tiles.fake_image_token, p.tiles.global_image_token, '<row_1_col_1>'] : []) {
    const ids = tokenizer.encodePrompt(t, false);
    if (ids.length !== 1) throw new ModelPackageError(`${folder}: ${t} is not one token of the tokenizer`);
  }
}

/** Read special_embeddings.bin (float32 [n, hidden], rows named by the manifest). */
async function readSpecialEmbeddings(dir: string, manifest: OmniFusionManifest): Promise<Map<string, Float32Array>> {
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
function dedupeSequences(seqs: number[][], eosTokenId: number | number[]): number[][] {
  const eos = new Set(Array.isArray(eosTokenId) ? eosTokenId : [eosTokenId]);
  const seen = new Set<string>();
  return seqs.filter((s) => {
    const key = s.join(',');
    if (!s.length || (s.length === 1 && eos.has(s[0]!)) || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
