/**
 * The OmniFusion family: prompt layout from the manifest, as OmniFusion 1.1 builds it in
 * `gen_answer` (README of AIRI-Institute/OmniFusion) and trains it in train_src/dataset.py:
 * text(system) [SOI image EOI]… USER text(q) BOT, with no BOS; a history appends
 * answer, USER, q, BOT. A request's own system text replaces the manifest's (encoded as written). Special pieces are learned embeddings, not token ids.
 *
 * OCR tokens (text read from the images) go where the manifest's `prompt.ocr_text` says. For
 * OmniFusion that is the paper's TextVQA-with-OCR-tokens form (arXiv 2404.06212, Table 9, scored
 * with lmms-eval, whose `textvqa_doc_to_text` with ocr=True appends
 * "\nReference OCR token: " + the tokens joined by ", " to the question): inside the user turn,
 * after the question, encoded together with it: text(system) SOI image EOI USER text(q + ocr) BOT.
 */
import type { OcrTextLayout, PromptLayout } from '../package/manifest-types.js';
import type { ChatTurn } from '../protocol.js';

/** One piece of the prompt, in order: token ids, a special embedding row, or an image's features. */
export type PromptSegment =
  | { kind: 'text'; ids: number[] }
  | { kind: 'special'; name: string }
  | { kind: 'image'; index: number };

/** What a prompt is built from. */
export interface PromptInput {
  numImages: number;
  question: string;
  history?: readonly ChatTurn[];
  /**
   * Text read from each image, already normalised and capped by prepareOcrText (`ocrTexts[i]` is
   * image i's; null or '' for none). Needs `layout.ocr_text`.
   */
  ocrTexts?: readonly (string | null | undefined)[];
  /** The system text put first in place of the layout's `system` ('' for none); absent: the layout's. */
  system?: string;
}

const IMAGE_PLACEHOLDER = '<image>';
const QUESTION_PLACEHOLDER = '<question>';

/**
 * Build the prompt segments for OmniFusion.
 * @param encode tokenizer without special tokens (each text piece is encoded separately, as upstream).
 * @param bosTokenId prepended only when the layout asks for it (OmniFusion 1.1 does not).
 */
export function buildOmniFusionPrompt(
  layout: PromptLayout,
  encode: (text: string) => number[],
  input: PromptInput,
  bosTokenId: number,
): PromptSegment[] {
  const segments: PromptSegment[] = [];
  const ocr = layout.ocr_text;
  const ocrTexts = input.ocrTexts ?? [];
  if (ocrTexts.some((t) => t) && !ocr) throw new Error('OCR text given for a prompt layout without ocr_text');
  if (layout.add_bos_token) segments.push({ kind: 'text', ids: [bosTokenId] });
  const system = input.system ?? layout.system;
  if (system) segments.push({ kind: 'text', ids: encode(system) });
  for (let index = 0; index < input.numImages; index++) {
    for (const piece of layout.image) {
      segments.push(piece === IMAGE_PLACEHOLDER ? { kind: 'image', index } : { kind: 'special', name: piece });
    }
    const text = ocrTexts[index];
    if (ocr?.position === 'after_image' && text) segments.push({ kind: 'text', ids: encode(fillOcrTemplate(ocr, text)) });
  }
  const pushTurn = (question: string): void => {
    for (const piece of layout.turn) {
      segments.push(piece === QUESTION_PLACEHOLDER ? { kind: 'text', ids: encode(question) } : { kind: 'special', name: piece });
    }
  };
  for (const turn of input.history ?? []) {
    pushTurn(turn.question);
    if (layout.answer_follows_bot) segments.push({ kind: 'text', ids: encode(turn.answer) });
  }
  // The OCR text belongs to the question being asked now (the images lead the whole dialog).
  pushTurn(ocr && ocr.position !== 'after_image' ? questionWithOcr(ocr, input.question, ocrTexts) : input.question);
  return segments.filter((s) => s.kind !== 'text' || s.ids.length > 0);
}

/** The template with "{text}" replaced (a function replacer: "$&" and the like in the text stay literal). */
export function fillOcrTemplate(ocr: OcrTextLayout, text: string): string {
  return ocr.template.replace('{text}', () => text);
}

/** The current question with the images' OCR text before or after it (`before_question` / `after_question`). */
export function questionWithOcr(ocr: OcrTextLayout, question: string, ocrTexts: readonly (string | null | undefined)[]): string {
  const joined = ocrTexts.filter((t): t is string => !!t).join(ocr.word_separator ?? '\n\n');
  if (!joined) return question;
  const inserted = fillOcrTemplate(ocr, joined);
  return ocr.position === 'before_question' ? inserted + question : question + inserted;
}

/** Recognised text of the images, ready for buildOmniFusionPrompt, and what was done to it. */
export interface PreparedOcrText {
  /** Per image: normalised and capped text, or null for none. */
  texts: (string | null)[];
  /** Tokens of recognised text kept, each image's text encoded alone (templates not counted). */
  tokens: number;
  /** Whether some text was cut (or left out) to stay within `max_tokens`. */
  truncated: boolean;
}

/**
 * Normalise and cap the images' OCR text for the prompt.
 * - Blank or missing text is none (null).
 * - With `word_separator`, the words (split at whitespace) are joined with it; otherwise line
 *   breaks are kept (CRLF → LF) and the text is trimmed.
 * - All images' texts together stay within `max_tokens` tokens, counted on each text encoded alone
 *   with the package's tokenizer: the budget is shared fairly (texts shorter than an equal share
 *   keep all their tokens and the rest is split among the longer ones), and a text over its share
 *   is cut at the last word boundary that fits (inside the first word only when that word alone is
 *   too long, as an unspaced CJK line can be).
 */
export function prepareOcrText(ocr: OcrTextLayout, ocrTexts: readonly (string | null | undefined)[], encode: (text: string) => number[]): PreparedOcrText {
  const sep = ocr.word_separator;
  // Each text as units that a cut keeps whole: its words (word_separator), or words with the
  // whitespace after them, so a prefix keeps the text's own line breaks.
  const units = ocrTexts.map((raw): string[] => {
    if (typeof raw !== 'string') return [];
    if (sep !== undefined) return raw.split(/\s+/u).filter(Boolean);
    return raw.replace(/\r\n?/g, '\n').trim().match(/\S+\s*/gu) ?? [];
  });
  const join = (u: readonly string[]): string => (sep !== undefined ? u.join(sep) : u.join('').trimEnd());
  const texts = units.map((u) => (u.length ? join(u) : null));
  const counts = texts.map((t) => (t ? encode(t).length : 0));
  // Water-filling: the shortest texts first, each gets at most an equal share of what is left.
  const allowed = counts.slice();
  const order = counts.map((_, i) => i).filter((i) => counts[i]! > 0).sort((a, b) => counts[a]! - counts[b]!);
  let left = ocr.max_tokens;
  order.forEach((i, k) => {
    allowed[i] = Math.min(counts[i]!, Math.floor(left / (order.length - k)));
    left -= allowed[i]!;
  });
  let truncated = false;
  let tokens = 0;
  const out = texts.map((text, i) => {
    if (!text) return null;
    if (counts[i]! <= allowed[i]!) {
      tokens += counts[i]!;
      return text;
    }
    truncated = true;
    const cut = cutToTokens(units[i]!, join, allowed[i]!, encode);
    if (!cut) return null;
    tokens += encode(cut).length;
    return cut;
  });
  return { texts: out, tokens, truncated };
}

/** The longest text of whole leading units that encodes to at most `max` tokens; inside the first unit only when it alone is too long. */
function cutToTokens(units: readonly string[], join: (u: readonly string[]) => string, max: number, encode: (text: string) => number[]): string {
  if (max < 1) return '';
  const fits = (t: string): boolean => encode(t).length <= max;
  /** Largest k in [0, n] with ok(k), given ok(0) and ok monotone. */
  const largest = (n: number, ok: (k: number) => boolean): number => {
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (ok(mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const whole = largest(units.length, (k) => fits(join(units.slice(0, k))));
  if (whole > 0) return join(units.slice(0, whole));
  const chars = [...(units[0] ?? '').trimEnd()];
  return chars.slice(0, largest(chars.length, (k) => fits(chars.slice(0, k).join('')))).join('');
}
