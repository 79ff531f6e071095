/**
 * The screenshot button's flow. In the desktop app (capture.status is not 'unavailable') it asks
 * the shell to run the hotkey's flow (capture.start: overlays on every display, crop in main).
 * Otherwise (the browser UI of `omnifusion serve`, or the desktop shell refusing) the capture
 * happens in the page: a screen frame (getDisplayMedia) or an image file is shown in the in-page
 * CaptureOverlay, the selected physical rectangle is cut with a canvas (crop.ts), stored with
 * attachments.add as screenshot.png and attached to the composer with the 'ask' default question.
 */
import type { Rect } from '../../../main/api/capture-geometry';
import { getApi } from '../platform';
import { errorMessage } from '../platform/errors';
import { composer } from '../state/composer.svelte';
import { ui } from '../state/ui.svelte';
import { CAPTURE_FILE_NAME, cropToPng } from './crop';
import { sourceFromFile, sourceFromScreen, type CaptureSource } from './sources';

/** What the screenshot button does here: ask the desktop shell, or offer the in-page sources. */
export type CaptureRoute = 'desktop' | 'in-page';

class InPageCapture {
  /** The image the in-page overlay shows, or null when it is closed. */
  source = $state<CaptureSource | null>(null);
  /** A source is being read, or a crop stored. */
  busy = $state(false);
  /** The desktop capture came back blank ('capture.pick'): the composer offers the in-page sources. */
  pickOffered = $state(false);

  /** Offer the in-page sources (a click on "Capture screen…" then opens the system's picker). */
  offerPick(): void {
    this.pickOffered = true;
  }

  #show(source: CaptureSource | null): void {
    this.source = source;
    // The overlay owns Escape and paste while it is open (ui.modalOpen).
    ui.captureOpen = source !== null;
  }

  /** Where a capture happens now; 'in-page' when the status cannot be read. */
  async route(): Promise<CaptureRoute> {
    try {
      const status = await getApi().call('capture.status', {});
      return status.state === 'unavailable' ? 'in-page' : 'desktop';
    } catch {
      return 'in-page';
    }
  }

  /**
   * Start the desktop flow. @returns false (after a toast) when the shell refused, so the caller
   * can offer the in-page sources instead.
   */
  async startDesktop(): Promise<boolean> {
    try {
      const { started } = await getApi().call('capture.start', {});
      return started;
    } catch (err) {
      ui.toast(`Screen capture did not start: ${errorMessage(err)}`, 'error');
      return false;
    }
  }

  /** Open the overlay on one frame of a screen the user picks. */
  async fromScreen(): Promise<void> {
    await this.#open(() => sourceFromScreen());
  }

  /** Open the overlay on an image file. */
  async fromFile(file: File): Promise<void> {
    await this.#open(() => sourceFromFile(file));
  }

  async #open(load: () => Promise<CaptureSource | null>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const source = await load();
      if (!source) return; // the picker was closed
      this.source?.close();
      this.#show(source);
    } catch (err) {
      ui.toast(errorMessage(err), 'error');
    } finally {
      this.busy = false;
    }
  }

  /** Close the overlay without attaching anything. */
  cancel(): void {
    this.source?.close();
    this.#show(null);
    composer.focus();
  }

  /** Cut `physical` out of the open source, store it and attach it to the composer. */
  async select(physical: Rect): Promise<void> {
    const source = this.source;
    if (!source) return;
    this.#show(null); // close the overlay at once; the upload shows as busy
    this.busy = true;
    try {
      const bytes = await cropToPng(source.bitmap, physical);
      const info = await getApi().call('attachments.add', { name: CAPTURE_FILE_NAME, bytes });
      composer.attachCapture(info, 'ask');
    } catch (err) {
      ui.toast(`The screenshot was not attached: ${errorMessage(err)}`, 'error');
      composer.focus();
    } finally {
      source.close();
      this.busy = false;
    }
  }
}

export const inPageCapture = new InPageCapture();
