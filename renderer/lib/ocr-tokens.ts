/**
 * Pure rules behind the "Image text in prompt" control and the notes around it (no DOM):
 * which images a question's OCR tokens come from, whether they are on for a conversation's
 * setting, and the words that say so. The decision is the service's own rule
 * (main/api/ocr-tokens.ts); as in the service (main/core/api-service.ts), a question is answered
 * about the images of the latest user message that has images.
 */
import type { ImageText, Message, OcrTokensSetting } from '../../main/api/contract.js';
import { useOcrTokens } from '../../main/api/ocr-tokens.js';

export const OCR_TOKENS_SETTINGS: readonly OcrTokensSetting[] = ['auto', 'on', 'off'];

export const OCR_TOKENS_LABELS: Record<OcrTokensSetting, string> = { auto: 'Auto', on: 'On', off: 'Off' };

/** One line per choice, shown beside it. */
export const OCR_TOKENS_HINTS: Record<OcrTokensSetting, string> = {
  auto: 'On for document-like images (pages, receipts, slides), off for photos.',
  on: 'The text read from every image goes into the prompt.',
  off: 'The model sees the images only.',
};

/** The sha256 of the images the next question is answered about: the latest user message with images. */
export function latestImages(messages: readonly Pick<Message, 'role' | 'attachments'>[]): string[] {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === 'user' && m.attachments.length > 0) return m.attachments.map((a) => a.sha256);
  }
  return [];
}

/**
 * Whether the images' text goes into the prompt, as far as the renderer can tell: true/false, or
 * 'unknown' while an image of an 'auto' conversation is still being read (or was not asked for).
 */
export type OcrTokensEffect = { state: 'on' | 'off' | 'unknown'; reason: string };

/**
 * The effect of `setting` on a conversation whose latest images are `images`, with the texts read
 * from them so far (`texts`, by sha256; a missing entry: not known yet).
 */
export function ocrTokensEffect(setting: OcrTokensSetting, images: readonly string[], texts: ReadonlyMap<string, ImageText> | ((sha: string) => ImageText | undefined)): OcrTokensEffect {
  const get = typeof texts === 'function' ? texts : (sha: string) => texts.get(sha);
  if (setting === 'off') return { state: 'off', reason: 'Off: the model sees the images only.' };
  if (images.length === 0) {
    return setting === 'on'
      ? { state: 'on', reason: 'On: the text of the images you attach goes into the prompt.' }
      : { state: 'unknown', reason: 'Auto: no image yet; a document-like image will have its text added.' };
  }
  const known = images.map(get);
  const done = known.filter((t): t is ImageText => t !== undefined && t.status !== 'pending');
  const pending = known.length - done.length;
  // What the service would decide from the images read so far.
  const used = useOcrTokens(setting, done);
  if (setting === 'on') {
    if (used) return { state: 'on', reason: 'On: the text read from the image goes into the prompt.' };
    if (pending > 0) return { state: 'on', reason: 'On: the image is still being read.' };
    return { state: 'off', reason: 'On, but no text was found in the image.' };
  }
  if (used) return { state: 'on', reason: 'Auto: on, the image reads like a document.' };
  if (pending > 0) return { state: 'unknown', reason: 'Auto: the image is still being read.' };
  return { state: 'off', reason: 'Auto: off, the image does not read like a document.' };
}

/** The note under an answer that had OCR tokens in its prompt ("" when it had none). */
export function ocrTokensNote(ocrTokens: number | undefined): string {
  if (!ocrTokens || ocrTokens <= 0) return '';
  return `used ${ocrTokens} OCR ${ocrTokens === 1 ? 'token' : 'tokens'} from the image`;
}
