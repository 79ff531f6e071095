/**
 * The text read from attached images (page text OCR), by sha256: asked for with
 * `attachments.text` when something shows it (the image viewer's text layer, the OCR tokens
 * control) and updated by the `attachments.text` event when a reading ends. An answer of
 * 'pending' never replaces a finished reading that an event already brought.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { ImageText, OmniFusionApi } from '../../../main/api/contract';
import { errorMessage } from '../platform/errors';

class ImageTextState {
  /** What is known, by sha256. */
  texts = new SvelteMap<string, ImageText>();
  /** Why the text of an image could not be asked for (e.g. a server without `attachments.text`). */
  errors = new SvelteMap<string, string>();

  #api: OmniFusionApi | undefined;
  #inFlight = new Map<string, Promise<void>>();

  init(api: OmniFusionApi): void {
    this.#api = api;
    api.on('attachments.text', (text) => this.#put(text));
  }

  get(sha256: string): ImageText | undefined {
    return this.texts.get(sha256);
  }

  /** Ask for an image's text unless it is known and finished (or a request is on its way). */
  load(sha256: string): Promise<void> {
    const known = this.texts.get(sha256);
    if (known && known.status !== 'pending') return Promise.resolve();
    return this.refresh(sha256);
  }

  /** Ask again (a pending reading whose event may have been missed). */
  refresh(sha256: string): Promise<void> {
    const running = this.#inFlight.get(sha256);
    if (running) return running;
    const api = this.#api;
    if (!api) return Promise.resolve();
    const request = api
      .call('attachments.text', { sha256 })
      .then(
        (text) => {
          this.errors.delete(sha256);
          this.#put(text);
        },
        (err: unknown) => {
          this.errors.set(sha256, errorMessage(err));
        },
      )
      .finally(() => this.#inFlight.delete(sha256));
    this.#inFlight.set(sha256, request);
    return request;
  }

  #put(text: ImageText): void {
    const known = this.texts.get(text.sha256);
    if (text.status === 'pending' && known && known.status !== 'pending') return;
    this.texts.set(text.sha256, text);
    if (text.status !== 'pending') this.errors.delete(text.sha256);
  }
}

export const imageTexts = new ImageTextState();
