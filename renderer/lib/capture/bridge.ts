/**
 * The Electron overlay window's line back to the main process. The capture overlay's preload
 * exposes `window.omnifusionCapture`; the page answers once, with the selection in overlay-local
 * CSS px (= DIP: the window covers exactly its display) or a cancel, and main crops in physical
 * pixels itself (api/capture.ts parseSelection checks the answer).
 */
import type { Drag } from '../../../main/api/capture-geometry';

/** What an overlay answers (SELECT_CHANNEL in main/api/capture.ts). */
export type OverlayAnswer = { displayId: number; selection: Drag } | { cancel: true };

/** The object the capture overlay's preload exposes. */
export interface CaptureBridge {
  select(answer: OverlayAnswer): void | Promise<unknown>;
}

declare global {
  interface Window {
    /** Set by the preload of a capture overlay window only. */
    omnifusionCapture?: CaptureBridge;
  }
}

/** The line for the user where the page is opened without the desktop app's overlay preload. */
export const NO_BRIDGE_MESSAGE = 'This is the desktop app’s screenshot overlay; it works only in a capture window of OmniFusion.';

/** The overlay preload's bridge, or undefined outside an Electron capture window. */
export function captureBridge(): CaptureBridge | undefined {
  return typeof window !== 'undefined' && window.omnifusionCapture && typeof window.omnifusionCapture.select === 'function'
    ? window.omnifusionCapture
    : undefined;
}

/**
 * Send the overlay's answer to main; a failure to deliver it (main gone) is reported as an Error.
 * @returns false when there is no bridge.
 */
export async function answerOverlay(answer: OverlayAnswer): Promise<boolean> {
  const bridge = captureBridge();
  if (!bridge) return false;
  await bridge.select(answer);
  return true;
}
