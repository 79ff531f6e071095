/**
 * The inference pipeline on onnxruntime-node, one for every model family — the orchestrator of
 * its stages: loading a package (manifest, tokenizer, three graph sessions), then per request
 *
 *   stages/image.ts   images → pixel_values → vision encoder (+ adapter/connector) → image_features;
 *   stages/prompt.ts  system text, question, history, OCR text → prompt → inputs_embeds with the image rows in place;
 *   stages/decode.ts  decoder_model_merged with a KV cache (past_key_values) → logits → logits
 *                     processors, greedy / sampling / beam search → streamed text.
 *
 * Runs inside the engine process (onnxruntime-node's `run()` blocks its JS thread).
 *
 * What differs per family (manifest.family):
 * - `omnifusion` (manifest.json package): CLIP preprocessing, prompt segments with learned special
 *   embeddings (models/omnifusion.ts); the prompt is built first, so a request the model cannot
 *   take is refused before the images are encoded;
 * - `idefics3` (SmolVLM / granite-docling folder in the onnx-community layout, read as published):
 *   tiles + global image with pixel_attention_mask (preprocess/idefics3.ts), the folder's chat
 *   template, `<image>` expansion, image-token rows of the token embeddings replaced in order by
 *   the image features (models/idefics3.ts), prompt ids seen by the logits processors as in
 *   transformers' generate(input_ids=…); the images come first (the prompt depends on their tile grids);
 * - `llava` (llava-interleave-qwen-0.5b folder, read as published): one resize per image
 *   (preprocess/resize.ts, or CLIP's), each `<image>` repeated once per feature row, then as Idefics3.
 */
import type * as ort from 'onnxruntime-node';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { DecodedImage } from '../media/images/index.js';
import type { ImageGrid } from './preprocess/idefics3.js';
import { generationDefaultsOf, loadManifest } from './package/manifest.js';
import { GRAPH_NAMES, type ChatManifest, type GraphDtype, type GraphName, type ModelManifest } from './package/manifest-types.js';
import { adoptKvDtype } from './package/hf-folder.js';
import type { ExecutionProvider } from './execution-provider.js';
import { checkGraphSignature, openSession, providerForGraph } from './session.js';
import { TextTokenizer } from './tokenizer.js';
import type { PromptSegment } from './models/omnifusion.js';
import { chatGenerationDefaults, presetDefaults, resolveGenerationConfig, type GenerationConfig } from './generation/index.js';
import type { GenerateRequest, GenerateResult, ImageSource, LoadedModelInfo, OcrPromptInfo } from './protocol.js';
import { BadRequestError } from './stages/errors.js';
import { decodeImages, ImageStage, type ImageFeatures, type VisionInputs } from './stages/image.js';
import { checkChatTokens, PromptStage, readSpecialEmbeddings, type PromptRequest } from './stages/prompt.js';
import { DecodeStage, openKvGather, type GenerateCallbacks } from './stages/decode.js';
import { imagesKey, ReuseCache, type PositionKey, type ReuseStats } from './stages/reuse-cache.js';
import { chatPositionKeys, omniFusionPositionKeys, fitHistory } from './stages/context.js';

export { BadRequestError } from './stages/errors.js';
export type { ImageFeatures, VisionInputs } from './stages/image.js';
export type { GenerateCallbacks } from './stages/decode.js';

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
  /**
   * Bytes of KV cache and image features kept between requests so follow-ups prefill only their
   * new positions (stages/reuse-cache.ts); default 512 MiB (OmniFusion 1.1's fp16 Mistral-7B KV
   * cache holds 128 KiB per position, so about 3 000 positions); 0 turns reuse off.
   */
  reuseCacheBytes?: number;
  /**
   * Positions (prompt + answer) a request may use, at most the model's max_position_embeddings
   * (its default): a smaller context bounds the KV cache's memory, as llama.cpp's --ctx-size and
   * Ollama's num_ctx do. A conversation longer than it leaves out its earliest turns.
   */
  contextLength?: number;
}

/**
 * Positions OmniFusion 1.1 was fine-tuned at: stage 2's max_context_len 2048 (AIRI-Institute/
 * OmniFusion train_src; the paper's base setups use 2048). Longer prompts run, with a warning.
 */
export const OMNIFUSION_FINETUNE_POSITIONS = 2048;

/** LoadOptions.reuseCacheBytes by default: 512 MiB. */
export const DEFAULT_REUSE_CACHE_BYTES = 512 * 1024 * 1024;

/** A request turned into the decoder's first input. */
interface PreparedInputs {
  /** float32 [1,L,D]. */
  inputsEmbeds: Float32Array;
  /** What each of the L positions holds (reuse-cache.ts). */
  keys: PositionKey[];
  /** Earliest turns of the request's history left out to fit the context. */
  droppedTurns: number;
  /** Prompt token ids the logits processors see before the generated ids (transformers' input_ids); none for a prompt of embeddings. */
  promptIds?: number[];
  ocr?: OcrPromptInfo;
  /** Milliseconds spent on images (decode, preprocess, vision encoder) and on the prompt. */
  imageMs: number;
  promptMs: number;
}

/** A loaded model package with its three sessions and the stages that run on them. */
export class VlmPipeline {
  private constructor(
    readonly dir: string,
    readonly manifest: ModelManifest,
    readonly tokenizer: TextTokenizer,
    private readonly sessions: Record<GraphName, ort.InferenceSession>,
    private readonly image: ImageStage,
    private readonly prompt: PromptStage,
    private readonly decoder: DecodeStage,
    private readonly defaults: GenerationConfig,
    readonly info: LoadedModelInfo,
    /** Prompt positions per prefill run (see LoadOptions.prefillChunk). */
    readonly prefillChunk: number,
    private readonly reuse: ReuseCache,
    /** Positions a request may use (LoadOptions.contextLength, else the model's); undefined: no limit known. */
    readonly contextLength: number | undefined,
  ) {}

  /** Whether a prompt longer than OmniFusion's fine-tuning length was already warned about. */
  private warnedLongPrompt = false;

  /**
   * Load a package: manifest, tokenizer, special embeddings, three sessions whose inputs and
   * outputs are checked against the manifest.
   * @throws ModelPackageError with a one-line message naming the problem; BadRequestError for a bad prefillChunk.
   */
  static async load(dir: string, options: LoadOptions = {}): Promise<VlmPipeline> {
    const started = performance.now();
    const prefillChunk = options.prefillChunk ?? 512;
    if (!Number.isInteger(prefillChunk) || prefillChunk < 1) throw new BadRequestError(`prefillChunk must be a whole number ≥ 1, got ${prefillChunk}`);
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
    // What the app's answers start from: the chat defaults over the package's (generation/presets.ts).
    const chat = chatGenerationDefaults(defaults);
    const info: LoadedModelInfo = {
      name: manifest.name,
      family: manifest.family,
      dir: folder,
      execution_provider: visionOnCoreMl ? 'coreml (vision encoder) + cpu' : executionProvider,
      ...(notes.length ? { note: notes.join('; ') } : {}),
      load_ms: performance.now() - started,
      defaults: {
        system: manifest.family === 'omnifusion' ? manifest.prompt.system : '',
        do_sample: chat.do_sample,
        temperature: chat.temperature,
        top_p: chat.top_p,
        max_new_tokens: chat.max_new_tokens,
        num_beams: chat.num_beams,
      },
      ...(manifest.family === 'omnifusion' && manifest.prompt.ocr_text ? { ocr_text_position: manifest.prompt.ocr_text.position } : {}),
    };
    // Idefics3 on the CPU: the vision encoder runs once per frame (see ImageStage.encode).
    const image = new ImageStage(manifest, sessions.vision_encoder, manifest.family === 'idefics3' && visionProvider === 'cpu');
    const prompt = new PromptStage(manifest, tokenizer, sessions.embed_tokens, specialEmbeddings, folder);
    // On webgpu the KV cache rows of beam search are reordered in GPU memory (see stages/decode.ts).
    const kvGather = executionProvider === 'webgpu' && options.kvCacheOnDevice !== false ? await openKvGather(manifest.text_config.kv_cache_dtype) : undefined;
    const decoder = new DecodeStage({
      decoder: sessions.decoder_model_merged,
      textConfig: manifest.text_config,
      prefillChunk,
      embedStep: (tokens) => prompt.embedIds(tokens, tokens.length),
      ...(kvGather ? { kvGather } : {}),
    });
    const reuseBytes = options.reuseCacheBytes ?? DEFAULT_REUSE_CACHE_BYTES;
    if (!Number.isFinite(reuseBytes) || reuseBytes < 0) throw new BadRequestError(`reuseCacheBytes must be a number of bytes ≥ 0, got ${reuseBytes}`);
    const modelContext = manifest.text_config.max_position_embeddings;
    const asked = options.contextLength;
    if (asked !== undefined && (!Number.isInteger(asked) || asked < 2)) throw new BadRequestError(`contextLength must be a whole number ≥ 2, got ${asked}`);
    const contextLength = asked !== undefined ? Math.min(asked, modelContext ?? asked) : modelContext;
    return new VlmPipeline(folder, manifest, tokenizer, sessions, image, prompt, decoder, defaults, info, prefillChunk, new ReuseCache(reuseBytes), contextLength);
  }

  /** The generation settings a request gets when it overrides nothing. */
  get generationDefaults(): GenerationConfig {
    return this.defaults;
  }

  /** What the reuse cache holds and has saved since load. */
  reuseStats(): ReuseStats {
    return this.reuse.stats();
  }

  /** Drop everything the reuse cache holds (the next request computes from scratch). */
  clearReuseCache(): void {
    this.reuse.clear();
  }

  /** Release the onnxruntime sessions. */
  async dispose(): Promise<void> {
    this.reuse.clear();
    await Promise.all([...GRAPH_NAMES.map((n) => this.sessions[n].release()), this.decoder.dispose()]);
  }

  /** Decode images (EXIF orientation, sRGB, alpha on white, size guards); see stages/image.ts. */
  async decodeImages(images: readonly ImageSource[]): Promise<DecodedImage[]> {
    return decodeImages(images);
  }

  /**
   * Decode and preprocess images into the vision encoder's inputs per the manifest: pixel_values
   * float32 [N,3,H,W] (OmniFusion), or [1,N,3,H,W] tiles with pixel_attention_mask and grids (Idefics3).
   * @throws ImageInputError for an unreadable, empty, truncated or oversized image.
   */
  async preprocess(images: readonly ImageSource[]): Promise<VisionInputs> {
    return this.image.preprocess(await decodeImages(images));
  }

  /** preprocess() for images already decoded. */
  async preprocessDecoded(decoded: readonly DecodedImage[]): Promise<VisionInputs> {
    return this.image.preprocess(decoded);
  }

  /**
   * Run the vision encoder (+ adapter or connector): pixel_values → image_features float32
   * [N,T,D] (OmniFusion: one row of T per image; Idefics3: one per tile).
   * @param pixelAttentionMask Idefics3's mask [1,N,H,W] as bytes; all ones when omitted.
   */
  async encodeImages(pixelValues: Float32Array, dims: readonly number[], pixelAttentionMask?: Uint8Array): Promise<ImageFeatures> {
    return this.image.encode(pixelValues, dims, pixelAttentionMask);
  }

  /** OmniFusion: prompt segments for a request (see models/omnifusion.ts for the order). */
  buildPrompt(request: PromptRequest, numImages: number): PromptSegment[] {
    return this.prompt.assemblePrompt(request, numImages).segments;
  }

  /**
   * OmniFusion: prompt segments for a request, with its OCR text (if any) normalised, capped and
   * placed where the manifest's `prompt.ocr_text` says.
   * @throws BadRequestError for OCR text the package has no place for, or more OCR texts than images.
   */
  assemblePrompt(request: PromptRequest, numImages: number): { segments: PromptSegment[]; ocr?: OcrPromptInfo } {
    return this.prompt.assemblePrompt(request, numImages);
  }

  /**
   * Idefics3 and LLaVA: the chat prompt of a request for images split as `grids` (template text,
   * expanded text, token ids).
   * @throws BadRequestError for OCR text (this family's prompt has no place for it).
   */
  buildChatPrompt(request: PromptRequest, grids: readonly ImageGrid[]): { text: string; expanded: string; ids: number[] } {
    return this.prompt.buildChatPrompt(request, grids);
  }

  /**
   * Idefics3 / LLaVA: inputs_embeds float32 [L,D] of prompt ids, the image-token rows replaced by image_features.
   * @throws BadRequestError when the image tokens and the feature rows differ in number.
   */
  async embedChatPrompt(ids: readonly number[], imageFeatures: Pick<ImageFeatures, 'data'> | undefined): Promise<Float32Array> {
    return this.prompt.embedChatPrompt(ids, imageFeatures);
  }

  /** OmniFusion: inputs_embeds float32 [1,L,D] from prompt segments and image_features. */
  async embedPrompt(segments: readonly PromptSegment[], imageFeatures: ImageFeatures | undefined): Promise<Float32Array> {
    return this.prompt.embedPrompt(segments, imageFeatures);
  }

  /** The decoder's prefill over inputs_embeds float32 [1,L,D] (past length 0): last-position logits float32 [vocab]. */
  async prefill(inputsEmbeds: Float32Array): Promise<Float32Array> {
    return this.decoder.prefill(inputsEmbeds);
  }

  /**
   * Answer a request: images and question in, streamed text deltas out.
   * @throws ImageInputError, BadRequestError (one-line messages), GenerationConfigError.
   */
  async generate(request: GenerateRequest, callbacks: GenerateCallbacks = {}): Promise<GenerateResult> {
    const started = performance.now();
    if (typeof request.question !== 'string' || !request.question.trim()) throw new BadRequestError('the question is empty');
    const config = resolveGenerationConfig(presetDefaults(request.defaults, this.defaults), request.generation ?? {});

    const images = request.images ?? [];
    const context = this.contextLength;
    // The answer's room when earlier turns must be left out: max_new_tokens, at most a quarter of the context.
    const room = context !== undefined ? Math.min(config.max_new_tokens, Math.ceil(context / 4)) : 0;
    const fits = (length: number): boolean => context === undefined || length + room <= context;
    const { inputsEmbeds, keys, droppedTurns, promptIds, ocr, imageMs, promptMs } =
      this.manifest.family === 'omnifusion' ? await this.prepareSegments(request, images, fits) : await this.prepareChat(request, images, fits);
    const hidden = this.manifest.text_config.hidden_size;
    const promptLength = inputsEmbeds.length / hidden;
    if (context !== undefined) {
      if (promptLength >= context) {
        throw new BadRequestError(`the prompt is ${promptLength} tokens, more than the model's context of ${context} tokens`);
      }
      // Like transformers' max_length: the answer stops where the context ends.
      config.max_new_tokens = Math.min(config.max_new_tokens, context - promptLength);
    }
    let warning: string | undefined;
    if (this.manifest.family === 'omnifusion' && promptLength > OMNIFUSION_FINETUNE_POSITIONS && !this.warnedLongPrompt) {
      this.warnedLongPrompt = true;
      warning = `the prompt is ${promptLength} positions, more than the ${OMNIFUSION_FINETUNE_POSITIONS} OmniFusion was fine-tuned at: answers may get worse (it still runs up to ${context ?? 'the model\'s limit'})`;
    }
    const imageDone = started + imageMs + promptMs;
    const prefix = this.reuse.enabled ? this.reuse.takePrefix(keys) : undefined;
    const reused = prefix?.length ?? 0;
    const out = await this.decoder.decode(
      reused ? inputsEmbeds.subarray(reused * hidden) : inputsEmbeds,
      promptIds,
      config,
      (ids) => this.tokenizer.decode(ids),
      callbacks,
      this.reuse.enabled ? { ...(prefix ? { prefix } : {}), keep: (past, fed) => this.reuse.putSequence([...keys, ...fed.map((id) => `t${id}`)], past) } : {},
    );
    return {
      answer: out.answer,
      token_ids: out.token_ids,
      finish_reason: out.finish_reason,
      prompt_length: promptLength,
      reused_prompt_tokens: reused,
      ...(droppedTurns ? { dropped_turns: droppedTurns } : {}),
      ...(warning ? { warning } : {}),
      execution_provider: this.info.execution_provider,
      kv_cache: out.kv_cache,
      timings: {
        image_ms: imageMs,
        prefill_ms: out.prefillEnd - imageDone + promptMs,
        ttft_ms: (out.firstTokenAt || out.end) - started,
        decode_tokens_per_s: out.steps > 0 ? (out.steps * 1000) / (out.lastStepEnd - out.prefillEnd) : 0,
        total_ms: out.end - started,
      },
      ...(ocr ? { ocr } : {}),
    };
  }

  /**
   * OmniFusion: prompt segments first (a request the model cannot take is refused before the
   * images are encoded), then the images' features (from the reuse cache when seen before), then
   * the earliest turns left out until the prompt `fits`, and its embeddings.
   */
  private async prepareSegments(request: GenerateRequest, images: readonly ImageSource[], fits: (length: number) => boolean): Promise<PreparedInputs> {
    const t0 = performance.now();
    this.prompt.assemblePrompt(request, images.length);
    const t1 = performance.now();
    let imageFeatures: ImageFeatures | undefined;
    let imageKeys: string[] = [];
    if (images.length) {
      const key = this.reuse.enabled ? await imagesKey(images) : undefined;
      imageKeys = key?.split(',') ?? images.map((_, i) => `request-${i}`);
      imageFeatures = key !== undefined ? this.reuse.getFeatures<ImageFeatures>(key) : undefined;
      if (!imageFeatures) {
        const { pixel_values, dims } = await this.preprocess(images);
        imageFeatures = await this.image.encode(pixel_values, dims);
        if (key !== undefined) this.reuse.putFeatures(key, imageFeatures, imageFeatures.data.byteLength);
      }
    }
    const t2 = performance.now();
    const rowsPerImage = imageFeatures?.dims[1] ?? 0;
    const { value: assembled, dropped } = fitHistory(request, (r) => {
      const a = this.prompt.assemblePrompt(r, images.length);
      return { value: a, length: omniFusionPositionKeys(a.segments, rowsPerImage, imageKeys).length };
    }, fits);
    const keys = omniFusionPositionKeys(assembled.segments, rowsPerImage, imageKeys);
    const inputsEmbeds = await this.prompt.embedPrompt(assembled.segments, imageFeatures);
    const { ocr } = assembled;
    return { inputsEmbeds, keys, droppedTurns: dropped, ...(ocr ? { ocr } : {}), imageMs: t2 - t1, promptMs: t1 - t0 + (performance.now() - t2) };
  }

  /**
   * Idefics3 / LLaVA: images first (Idefics3's prompt depends on their tile grids; from the reuse
   * cache when seen before), then the chat prompt with the earliest turns left out until it
   * `fits`, its embeddings and the merge.
   */
  private async prepareChat(request: GenerateRequest, images: readonly ImageSource[], fits: (length: number) => boolean): Promise<PreparedInputs> {
    const t0 = performance.now();
    let key: string | undefined;
    let cached: { grids: ImageGrid[]; features: ImageFeatures } | undefined;
    let vision: VisionInputs | undefined;
    if (images.length) {
      key = this.reuse.enabled ? await imagesKey(images) : undefined;
      cached = key !== undefined ? this.reuse.getFeatures(key) : undefined;
      if (!cached) vision = await this.preprocess(images);
    }
    const grids = cached?.grids ?? vision?.grids ?? [];
    const t1 = performance.now();
    const { value: ids, dropped } = fitHistory(request, (r) => {
      const built = this.prompt.buildChatPrompt(r, grids).ids;
      return { value: built, length: built.length };
    }, fits);
    const t2 = performance.now();
    let imageFeatures = cached?.features;
    if (vision) {
      imageFeatures = await this.image.encode(vision.pixel_values, vision.dims, vision.pixel_attention_mask);
      if (key !== undefined) this.reuse.putFeatures(key, { grids, features: imageFeatures }, imageFeatures.data.byteLength);
    }
    const t3 = performance.now();
    const inputsEmbeds = await this.prompt.embedChatPrompt(ids, imageFeatures);
    const keys = chatPositionKeys(ids, (this.manifest as ChatManifest).prompt.image_token_id, key ?? 'request');
    return { inputsEmbeds, keys, droppedTurns: dropped, promptIds: ids, imageMs: t1 - t0 + (t3 - t2), promptMs: t2 - t1 + (performance.now() - t3) };
  }
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
