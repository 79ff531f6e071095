/**
 * The composer's rules for a captured image (pure, so they are unit-tested without a DOM):
 * Enter on an empty question asks the capture mode's default question, and Esc on an empty
 * question takes the capture back out.
 */
import { CAPTURE_DEFAULT_QUESTION, type CaptureMode } from '../../../main/api/capture.js';

/** The composer's placeholder when no capture is attached. */
export const DEFAULT_PLACEHOLDER = 'Ask about a page, a formula or a photo…';

/** The placeholder: the default question while a capture is attached, so the user sees what Enter asks. */
export function placeholderFor(mode: CaptureMode | null): string {
  return mode ? CAPTURE_DEFAULT_QUESTION[mode] : DEFAULT_PLACEHOLDER;
}

/**
 * The text Enter sends: the draft when it has any non-blank text; the capture mode's default
 * question when it is blank and a capture is attached; null (nothing to send) otherwise.
 */
export function questionToSend(draft: string, mode: CaptureMode | null): string | null {
  if (draft.trim()) return draft;
  return mode ? CAPTURE_DEFAULT_QUESTION[mode] : null;
}

/**
 * Whether Esc in the question box removes the captured image: only with an empty box (Esc never
 * throws away typed text) and not while an answer streams (there Esc stops the answer first, as
 * everywhere in the window; a second Esc then removes the capture).
 */
export function escapeRemovesCapture(draft: string, mode: CaptureMode | null, generating: boolean): boolean {
  return mode !== null && draft.trim() === '' && !generating;
}
