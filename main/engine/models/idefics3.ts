/**
 * The Idefics3 family (SmolVLM-256M/500M-Instruct, granite-docling-258M) as published by
 * onnx-community for transformers.js, read straight from the model folder's Hugging Face files:
 *
 * - prompt: the conversation rendered with the chat template of the folder (tokenizer_config.json
 *   `chat_template`, or chat_template.json / chat_template.jinja) through @huggingface/jinja, the
 *   images as `{type: 'image'}` items leading the first user turn; then, as Idefics3Processor does,
 *   each `<image>` expanded per image: for a split image
 *   `<fake_token_around_image><row_r_col_c><image>×N` per tile, "\n" after each row, then
 *   `\n<fake_token_around_image><global-img><image>×N<fake_token_around_image>`; for an unsplit one
 *   only the global block. N = image_seq_len (processor_config.json, else
 *   (vision image_size / patch_size)² / scale_factor², 64 for SmolVLM);
 * - the prompt is tokenized as a whole (added tokens split first, then byte-level BPE), and the
 *   rows of inputs_embeds whose id is `config.image_token_id` are replaced, in order, by the rows of
 *   image_features ([tiles, N, hidden] flattened), as transformers and transformers.js do.
 *
 * The LLaVA family (llava-interleave-qwen-0.5b) shares all of it but the expansion: each `<image>`
 * becomes `<image>` × N (N = the vision encoder's tokens per image, 729 for SigLIP-384/14), one block
 * of image_features rows per image; see models/llava.ts for its preprocessing.
 */
import { Template } from '@huggingface/jinja';
import type { ChatTurn } from '../protocol.js';
import type { ChatPromptConfig } from '../package/manifest-types.js';
import type { ImageGrid } from '../preprocess/idefics3.js';

/** One chat message in the Hugging Face multimodal form the templates expect. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: ({ type: 'image' } | { type: 'text'; text: string })[];
}

/**
 * The conversation for a request: a system message when `system` is non-empty (content
 * `[{type:'text'}]`, the form the SmolVLM and llava-interleave templates iterate), earlier turns
 * (user question, assistant answer), then the question; the images lead the first user turn
 * (`[{type:'image'}×n, {type:'text'}]`).
 */
export function idefics3Messages(question: string, history: readonly ChatTurn[] | undefined, numImages: number, system?: string): ChatMessage[] {
  const turns = [...(history ?? []).map((t) => ({ question: t.question, answer: t.answer as string | undefined })), { question, answer: undefined }];
  const messages: ChatMessage[] = system ? [{ role: 'system', content: [{ type: 'text', text: system }] }] : [];
  turns.forEach((turn, i) => {
    const images = i === 0 ? Array.from({ length: numImages }, () => ({ type: 'image' as const })) : [];
    messages.push({ role: 'user', content: [...images, { type: 'text', text: turn.question }] });
    if (turn.answer !== undefined) messages.push({ role: 'assistant', content: [{ type: 'text', text: turn.answer }] });
  });
  return messages;
}

const templates = new Map<string, Template>();

/**
 * The parsed chat template (cached by its text).
 * @throws Error with the parser's message when the template does not parse.
 */
export function compileChatTemplate(source: string): Template {
  let template = templates.get(source);
  if (!template) {
    template = new Template(source);
    templates.set(source, template);
  }
  return template;
}

/** The first line of an error's message, for one-line reports. */
export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]!.trim();
}

/**
 * Render `messages` with the chat template and the generation prompt (add_generation_prompt: true).
 * @throws PromptError when the template refuses the conversation (its `raise_exception('…')`, or
 * any other error while rendering: the message is the template's).
 */
export function renderChatTemplate(config: Pick<ChatPromptConfig, 'chat_template' | 'template_variables'>, messages: readonly ChatMessage[]): string {
  let template: Template;
  try {
    template = compileChatTemplate(config.chat_template);
  } catch (err) {
    throw new PromptError(`the model's chat template does not parse (${firstLine(err)})`);
  }
  try {
    return template.render({ ...config.template_variables, messages, add_generation_prompt: true });
  } catch (err) {
    throw new PromptError(`the model's chat template refused the conversation: ${firstLine(err)}`);
  }
}

/** Private-use characters that mark, in a rendered prompt, a span of user text to tokenize as plain text. */
const MARK = /\uE000(\d+)\uE001/g;

/**
 * Replace, in every text of `messages`, each spelling of one of `tokens` (the tokenizer's added
 * tokens: `<image>`, `<|im_end|>`, …) by a marker; `spans[k]` is the text marker k stands for.
 * The user's text then cannot place image slots or end a turn: the markers are tokenized as plain
 * text (see splitMarked). Marker characters already in the text are masked too.
 */
export function maskAddedTokens(messages: readonly ChatMessage[], tokens: readonly string[]): { messages: ChatMessage[]; spans: string[] } {
  const spans: string[] = [];
  const alternatives = [...tokens, '\uE000', '\uE001'].filter(Boolean).sort((a, b) => b.length - a.length);
  const pattern = new RegExp(alternatives.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const mask = (text: string): string =>
    text.replace(pattern, (found) => {
      spans.push(found);
      return `\uE000${spans.length - 1}\uE001`;
    });
  const masked = messages.map((m) => ({ ...m, content: m.content.map((c) => (c.type === 'text' ? { type: 'text' as const, text: mask(c.text) } : c)) }));
  return { messages: masked, spans };
}

/** `text` with each marker of maskAddedTokens back to the text it stands for. */
export function unmask(text: string, spans: readonly string[]): string {
  return text.replace(MARK, (found, k: string) => spans[Number(k)] ?? found);
}

/** Split a marked text into the template's pieces and the user's plain-text spans, in order. */
export function splitMarked(text: string, spans: readonly string[]): { text: string; plain: boolean }[] {
  const pieces: { text: string; plain: boolean }[] = [];
  let last = 0;
  for (const match of text.matchAll(MARK)) {
    const span = spans[Number(match[1])];
    if (span === undefined) continue;
    if (match.index > last) pieces.push({ text: text.slice(last, match.index), plain: false });
    pieces.push({ text: span, plain: true });
    last = match.index + match[0].length;
  }
  if (last < text.length) pieces.push({ text: text.slice(last), plain: false });
  return pieces;
}

type ExpansionConfig = Pick<ChatPromptConfig, 'image_token' | 'tiles' | 'image_seq_len'>;

/**
 * The prompt text of one image: Idefics3Processor's get_image_prompt_string (with `tiles`), or
 * LlavaProcessor's `<image>` × image_seq_len (without; `grid` unused).
 */
export function imagePromptString(grid: ImageGrid, cfg: ExpansionConfig): string {
  const tokens = cfg.image_token.repeat(cfg.image_seq_len);
  if (!cfg.tiles) return tokens;
  const { fake_image_token: fake, global_image_token: globalImg } = cfg.tiles;
  const globalBlock = `${fake}${globalImg}${tokens}${fake}`;
  if (grid.rows === 0 && grid.cols === 0) return globalBlock;
  let text = '';
  for (let r = 1; r <= grid.rows; r++) {
    for (let c = 1; c <= grid.cols; c++) text += `${fake}<row_${r}_col_${c}>${tokens}`;
    text += '\n';
  }
  return `${text}\n${globalBlock}`;
}

/** A request the prompt cannot be built for; one line for the user. */
export class PromptError extends Error {
  override name = 'PromptError';
}

/**
 * Replace the i-th `<image>` of the rendered text by image i's prompt string.
 * @throws PromptError when the text has another number of `<image>` than there are images.
 */
export function expandImageTokens(text: string, grids: readonly ImageGrid[], cfg: ExpansionConfig): string {
  const parts = text.split(cfg.image_token);
  if (parts.length - 1 !== grids.length) {
    throw new PromptError(`the chat template placed ${parts.length - 1} image${parts.length === 2 ? '' : 's'} for ${grids.length} given`);
  }
  let out = parts[0]!;
  grids.forEach((grid, i) => {
    out += imagePromptString(grid, cfg) + parts[i + 1]!;
  });
  return out;
}

/**
 * Overwrite, in order, the rows of `embeds` ([ids.length, hidden]) whose id is `imageTokenId` with
 * the rows of `features` ([rows, hidden] flattened), in place.
 * @throws PromptError when the counts differ.
 */
export function mergeImageFeatures(embeds: Float32Array, ids: readonly number[], imageTokenId: number, features: Float32Array, hidden: number): void {
  const rows = features.length / hidden;
  let next = 0;
  ids.forEach((id, i) => {
    if (id !== imageTokenId) return;
    if (next >= rows) {
      next += 1;
      return;
    }
    embeds.set(features.subarray(next * hidden, (next + 1) * hidden), i * hidden);
    next += 1;
  });
  if (next !== rows) throw new PromptError(`the prompt has ${next} image tokens for ${rows} image feature rows`);
}
