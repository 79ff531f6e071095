/**
 * The text read from an attached image as the app keeps it: the engine's page text OCR result
 * turned into the stored layout (JSON beside the text in attachment_text) and back into the
 * API's ImageText, and the "document-like" test that turns OCR tokens on for 'auto'
 * conversations. Pure: no store, no engine.
 */
import type { ImageText, ImageTextLine, OcrTokensSetting } from '../api/contract.js';

/** The source name of page text OCR rows in attachment_text. */
export const PAGE_TEXT_SOURCE = 'ocr';

/** What is stored as `layout` beside the text (version 1). */
interface StoredLayout {
  v: 1;
  blocks: Array<{ lines: ImageTextLine[] }>;
  width: number;
  height: number;
  rotation: ImageText['rotation'];
  error?: string;
}

/** The part of the engine's RecognizeTextResult kept for the app. */
export interface PageTextResult {
  text: string;
  blocks: Array<{ lines: ImageTextLine[] }>;
  width: number;
  height: number;
  rotation: ImageText['rotation'];
}

/** A line counts towards "document-like" from this mean character confidence up. */
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

/** The layout JSON stored for a read page. */
export function layoutOf(result: PageTextResult): string {
  const layout: StoredLayout = { v: 1, blocks: result.blocks, width: result.width, height: result.height, rotation: result.rotation };
  return JSON.stringify(layout);
}

/** The layout JSON stored for an image that could not be read (one-line reason). */
export function failedLayout(error: string): string {
  const layout: StoredLayout = { v: 1, blocks: [], width: 0, height: 0, rotation: 0, error: error.split('\n')[0]! };
  return JSON.stringify(layout);
}

/** A stored row (text + layout JSON) as the API's ImageText; a row without a usable layout is text only. */
export function imageTextFromStored(sha256: string, text: string, layout: string | null): ImageText {
  let parsed: StoredLayout | undefined;
  try {
    const value = layout ? (JSON.parse(layout) as StoredLayout) : undefined;
    if (value?.v === 1 && Array.isArray(value.blocks)) parsed = value;
  } catch {
    // an unreadable layout leaves the text, which is what search and OCR tokens need
  }
  const blocks = parsed?.blocks ?? [];
  return {
    sha256,
    status: parsed?.error ? 'failed' : 'done',
    text,
    blocks,
    width: parsed?.width ?? 0,
    height: parsed?.height ?? 0,
    rotation: parsed?.rotation ?? 0,
    documentLike: isDocumentLike(blocks),
    ...(parsed?.error ? { error: parsed.error } : {}),
  };
}

/** An ImageText for an image whose reading has not finished. */
export function pendingImageText(sha256: string): ImageText {
  return { sha256, status: 'pending', text: '', blocks: [], width: 0, height: 0, rotation: 0, documentLike: false };
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
