/**
 * The prompt stage of the pipeline: a request (question, earlier turns, OCR text) → prompt →
 * inputs_embeds float32 [1,L,D] with the image_features rows in place, per family:
 *
 * - `omnifusion`: prompt segments (models/omnifusion.ts) of text ids through embed_tokens, learned
 *   special embeddings (special_embeddings.bin) and image rows;
 * - `idefics3` / `llava`: the folder's chat template, `<image>` expanded (models/idefics3.ts),
 *   the prompt ids through embed_tokens, then the image-token rows replaced in order by the
 *   image_features rows.
 *
 * Also embeds the decoder's new tokens step by step (embed_tokens is this stage's graph).
 */
import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImageGrid } from '../preprocess/idefics3.js';
import { ModelPackageError } from '../package/errors.js';
import type { ChatManifest, ModelManifest, OmniFusionManifest } from '../package/manifest-types.js';
import type { TextTokenizer } from '../tokenizer.js';
import { buildOmniFusionPrompt, prepareOcrText, type PromptSegment } from '../models/omnifusion.js';
import { expandImageTokens, idefics3Messages, maskAddedTokens, mergeImageFeatures, PromptError, renderChatTemplate, splitMarked, unmask, type ChatMessage } from '../models/idefics3.js';
import type { GenerateRequest, OcrPromptInfo } from '../protocol.js';
import { BadRequestError } from './errors.js';
import type { ImageFeatures } from './image.js';
import { toFloat32 } from './tensors.js';

/** The parts of a request the prompt is built from. */
export type PromptRequest = Pick<GenerateRequest, 'question' | 'history' | 'ocr_text' | 'system'>;

/** The prompt stage of one loaded model: its tokenizer, embed_tokens session and special embeddings. */
export class PromptStage {
  /**
   * @param specialEmbeddings OmniFusion's learned rows by name, float32 [D] each (readSpecialEmbeddings); empty for the chat families.
   * @param dir the model folder, for error messages.
   */
  constructor(
    private readonly manifest: ModelManifest,
    private readonly tokenizer: TextTokenizer,
    private readonly embedTokens: ort.InferenceSession,
    private readonly specialEmbeddings: Map<string, Float32Array>,
    private readonly dir: string,
  ) {}

  /**
   * OmniFusion: prompt segments for a request, with its OCR text (if any) normalised, capped and
   * placed where the manifest's `prompt.ocr_text` says.
   * @throws BadRequestError for OCR text the package has no place for, or more OCR texts than images.
   */
  assemblePrompt(request: PromptRequest, numImages: number): { segments: PromptSegment[]; ocr?: OcrPromptInfo } {
    const manifest = this.omnifusionManifest();
    const encode = (t: string): number[] => this.tokenizer.encode(t);
    const raw = checkOcrTextList(request.ocr_text, numImages);
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
    const system = checkSystem(request.system);
    const segments = buildOmniFusionPrompt(
      manifest.prompt,
      encode,
      {
        numImages,
        question: request.question,
        ...(request.history ? { history: request.history } : {}),
        ...(ocr ? { ocrTexts } : {}),
        ...(system !== undefined ? { system } : {}),
      },
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
   * @throws BadRequestError for OCR text (this family's prompt has no place for it), and for a
   *   system text the template refuses (saying so).
   */
  buildChatPrompt(request: PromptRequest, grids: readonly ImageGrid[]): { text: string; expanded: string; ids: number[] } {
    const m = this.manifest;
    if (m.family === 'omnifusion') throw new Error(`chat prompts are for chat-template families; this model is ${m.family}`);
    const raw = checkOcrTextList(request.ocr_text, grids.length);
    if (raw.some((t) => t?.trim())) {
      throw new BadRequestError(`model "${m.name}" takes no OCR text (its ${m.family} prompt has no place for it); ask without OCR text`);
    }
    const system = checkSystem(request.system);
    try {
      // The user's texts are plain text: an `<image>` or `<|im_end|>` typed in a question (or in the
      // system text) is masked before rendering and tokenized as its characters, so it cannot place
      // image slots or end a turn.
      const { messages, spans } = maskAddedTokens(idefics3Messages(request.question, request.history, grids.length, system), this.tokenizer.addedTokens);
      const marked = renderSystemAware(m.prompt, messages, !!system);
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
   * replaced in order by the image_features rows (flattened [tiles·T, D] or [images·T, D]).
   * @throws BadRequestError when the image tokens and the feature rows differ in number.
   */
  async embedChatPrompt(ids: readonly number[], imageFeatures: Pick<ImageFeatures, 'data'> | undefined): Promise<Float32Array> {
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
   * OmniFusion: assemble inputs_embeds float32 [1,L,D] from segments: text ids through embed_tokens
   * (one run for all text), special rows from special_embeddings.bin, image rows from image_features.
   * @throws ModelPackageError for a special embedding the package lacks.
   */
  async embedPrompt(segments: readonly PromptSegment[], imageFeatures: ImageFeatures | undefined): Promise<Float32Array> {
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
  async embedIds(ids: readonly number[], rows: number): Promise<Float32Array> {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (id) => BigInt(id)), [rows, ids.length / rows]);
    const out = await this.embedTokens.run({ input_ids: input });
    return toFloat32(out.inputs_embeds!);
  }
}

/** A request's `system` (absent: the family's default). @throws BadRequestError when it is not a string. */
function checkSystem(system: unknown): string | undefined {
  if (system === undefined) return undefined;
  if (typeof system !== 'string') throw new BadRequestError("system must be a string (the prompt's system text; '' for none)");
  return system;
}

/**
 * renderChatTemplate, telling a template that refuses system messages (Gemma's raise
 * "System role not supported") apart from one that refuses the conversation itself: when the
 * render with a system message fails and the same conversation without it renders, the error
 * says the model takes no system prompt. Folding the text into the first user turn instead would
 * be a guess at what the model was trained on, so it is refused in one line.
 * @throws PromptError.
 */
function renderSystemAware(config: ChatManifest['prompt'], messages: ChatMessage[], hasSystem: boolean): string {
  try {
    return renderChatTemplate(config, messages);
  } catch (err) {
    if (!hasSystem || !(err instanceof PromptError)) throw err;
    try {
      renderChatTemplate(config, messages.slice(1));
    } catch {
      throw err;
    }
    const reason = err.message.replace(/^the model's chat template refused the conversation: /, '');
    throw new PromptError(`this model's chat template takes no system prompt (it says: ${reason}); ask without one`);
  }
}

/**
 * A request's `ocr_text` (absent: none), checked: strings or null, at most one per image.
 * @throws BadRequestError otherwise.
 */
function checkOcrTextList(ocrText: GenerateRequest['ocr_text'], numImages: number): (string | null)[] {
  const raw = ocrText ?? [];
  if (!Array.isArray(raw) || raw.some((t) => t !== null && typeof t !== 'string')) throw new BadRequestError('ocr_text must be a list of strings (or null), one per image');
  if (raw.length > numImages) throw new BadRequestError(`ocr_text has ${raw.length} entries for ${numImages} image${numImages === 1 ? '' : 's'}`);
  return raw;
}

/**
 * The chat prompt's image tokens must be single tokens of this tokenizer, with the ids config.json names.
 * @throws ModelPackageError naming the token.
 */
export function checkChatTokens(manifest: ChatManifest, tokenizer: TextTokenizer, folder: string): void {
  const p = manifest.prompt;
  if (tokenizer.tokenToId(p.image_token) !== p.image_token_id) {
    throw new ModelPackageError(`${folder}: the tokenizer's ${p.image_token} is not image_token_id ${p.image_token_id}`);
  }
  for (const t of p.tiles ? [p.tiles.fake_image_token, p.tiles.global_image_token, '<row_1_col_1>'] : []) {
    const ids = tokenizer.encodePrompt(t, false);
    if (ids.length !== 1) throw new ModelPackageError(`${folder}: ${t} is not one token of the tokenizer`);
  }
}

/**
 * Read special_embeddings.bin (float32 [n, hidden], rows named by the manifest).
 * @throws ModelPackageError when its size or dtype differs from the manifest's.
 */
export async function readSpecialEmbeddings(dir: string, manifest: OmniFusionManifest): Promise<Map<string, Float32Array>> {
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
