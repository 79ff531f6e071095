/**
 * When an image's text goes into a question's prompt as OCR tokens: the "document-like" test
 * and the Auto / On / Off rule. Pure (no Node, no DOM): the API service decides with it
 * (main/core/page-text.ts) and the renderer's "Image text in prompt" control says what it decided
 * (renderer/lib/ocr-tokens.ts).
 */
import type { ImageText, ImageTextLine, OcrTokensSetting } from './contract.js';

/** A line counts towards "document-like" from this mean character confidence (0..1) up. */
export const DOCUMENT_MIN_CONFIDENCE = 0.8;
/** At least this many confident lines … */
export const DOCUMENT_MIN_LINES = 3;
/** … holding at least this many non-space characters (a caption or a UI label is not a document). */
export const DOCUMENT_MIN_CHARS = 60;

/**
 * Whether an image reads like a document (a page, a receipt, a slide) rather than a photo with a
 * word or two in it: enough confidently read lines and characters. Thresholds are ours, chosen
 * so that the real pages of the test set pass and photos with a sign or a label do not.
 */
export function isDocumentLike(blocks: ReadonlyArray<{ lines: readonly ImageTextLine[] }>): boolean {
  const confident = blocks.flatMap((b) => b.lines).filter((l) => l.confidence >= DOCUMENT_MIN_CONFIDENCE);
  const chars = confident.reduce((n, l) => n + l.text.replace(/\s+/g, '').length, 0);
  return confident.length >= DOCUMENT_MIN_LINES && chars >= DOCUMENT_MIN_CHARS;
}

/**
 * Whether a conversation's question gets its images' text as OCR tokens: never when 'off';
 * always (where there is text) when 'on'; for 'auto', when any of the images is document-like.
 */
export function useOcrTokens(setting: OcrTokensSetting, texts: readonly ImageText[]): boolean {
  if (setting === 'off') return false;
  if (setting === 'on') return texts.some((t) => t.text.trim() !== '');
  return texts.some((t) => t.documentLike);
}
