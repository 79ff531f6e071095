/**
 * The text of attached images (page text OCR in the engine): reading each image once in the
 * background, storing the text with its layout (searchable at once) and announcing it
 * (`attachments.text` event); the attachments.text call; and the OCR tokens an answer puts in
 * its prompt. The conversions to and from the stored layout are main/core/page-text.ts's.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { ImageText } from '../../api/contract.js';
import { failedLayout, imageTextFromStored, layoutOf, pendingImageText, PAGE_TEXT_SOURCE, useOcrTokens } from '../page-text.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';
import { isSha256 } from './validation.js';

/** How long an answer waits for its images' text before going ahead without OCR tokens, ms. */
const OCR_WAIT_MS = 60_000;

/** Reading the text of stored images. */
export interface ImageTexts {
  /**
   * The text of stored image `sha256`: from the store when it was read before, else read now in
   * the engine (one reading per image at a time), stored and announced. Never rejects: a failure
   * is stored as 'failed' with its one-line reason, so an unreadable image is not read again and
   * again; during close it resolves as pending and nothing is stored.
   */
  read(sha256: string): Promise<ImageText>;
  /**
   * OCR tokens for a question of conversation `conversationId` with images `images` (sha256s):
   * each image's recognised text (null for none) when the conversation's setting and its images
   * call for them and the model places them (`takesOcrText`); undefined for no OCR tokens. Waits
   * at most OCR_WAIT_MS for the texts, and no longer once `signal` aborts (the answer was
   * stopped: undefined; the reading itself goes on, for search and the viewer).
   */
  ocrTextFor(conversationId: number, images: readonly string[], takesOcrText: boolean, signal?: AbortSignal): Promise<(string | null)[] | undefined>;
  /** Stop every reading in progress (close). */
  cancelAll(): void;
  handlers: Pick<Handlers, 'attachments.text'>;
}

/** Image text reading for the service of `ctx`. */
export function createImageTexts(ctx: ServiceContext): ImageTexts {
  const { store, engine } = ctx;
  /** Images being read (page text OCR in the engine process), by sha256. */
  const reading = new Map<string, { result: Promise<ImageText>; cancel(): void }>();

  const read = (sha256: string): Promise<ImageText> => {
    const stored = store.getAttachmentText(sha256, PAGE_TEXT_SOURCE);
    if (stored) return Promise.resolve(imageTextFromStored(sha256, stored.text, stored.layout));
    const running = reading.get(sha256);
    if (running) return running.result;
    const handle = engine.recognizeText({ path: store.attachmentPath(sha256) });
    const result = handle.result.then(
      (page) => ({ text: page.text, layout: layoutOf(page) }),
      (err: unknown) => ({ text: '', layout: failedLayout(err instanceof Error ? err.message : String(err)) }),
    ).then(({ text, layout }) => {
      reading.delete(sha256);
      if (ctx.closing) return pendingImageText(sha256);
      try {
        store.setAttachmentText(sha256, PAGE_TEXT_SOURCE, text, layout);
      } catch {
        // The image is gone (its message deleted meanwhile): nothing to keep.
      }
      const done = imageTextFromStored(sha256, text, layout);
      ctx.emit('attachments.text', done);
      return done;
    });
    reading.set(sha256, { result, cancel: handle.cancel });
    return result;
  };

  return {
    read,
    async ocrTextFor(conversationId, images, takesOcrText, signal) {
      const setting = store.getConversation(conversationId)?.ocrTokens ?? 'auto';
      if (!takesOcrText || setting === 'off' || images.length === 0 || signal?.aborted) return undefined;
      const stopWaiting = new AbortController();
      const onStop = (): void => stopWaiting.abort();
      signal?.addEventListener('abort', onStop, { once: true });
      const timeout = delay(OCR_WAIT_MS, undefined, { signal: stopWaiting.signal }).catch(() => undefined);
      const texts = await Promise.race([Promise.all(images.map(read)), timeout]).finally(() => {
        stopWaiting.abort();
        signal?.removeEventListener('abort', onStop);
      });
      if (!texts || signal?.aborted || !useOcrTokens(setting, texts)) return undefined;
      return texts.map((t) => (t.status === 'done' && t.text.trim() ? t.text : null));
    },
    cancelAll() {
      for (const r of reading.values()) r.cancel();
    },
    handlers: {
      'attachments.text': ({ sha256 }) => {
        if (!isSha256(sha256)) throw new ApiRequestError('bad_request', 'sha256 must be the hash of an added image');
        if (!store.getAttachment(sha256)) throw new ApiRequestError('not_found', `attachment ${sha256} does not exist`);
        const stored = store.getAttachmentText(sha256, PAGE_TEXT_SOURCE);
        if (stored) return imageTextFromStored(sha256, stored.text, stored.layout);
        void read(sha256);
        return pendingImageText(sha256);
      },
    },
  };
}
