/**
 * The text read from an attached image as the app keeps it: the engine's page text OCR result
 * turned into the stored layout (JSON beside the text in attachment_text) and back into the
 * API's ImageText (its "document-like" flag from main/api/ocr-tokens.ts). Pure: no store, no
 * engine.
 */
import type { ImageText, ImageTextLine } from '../api/contract.js';
import { isDocumentLike } from '../api/ocr-tokens.js';

// The rule lives in main/api, where the renderer reads it too; the service takes it from here.
export { useOcrTokens } from '../api/ocr-tokens.js';

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
