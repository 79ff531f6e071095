/**
 * Whole-display captures at physical resolution through desktopCapturer, checked for blank
 * frames; a typed result instead of exceptions. The fallback (and the line for the user) when
 * the capture is unusable comes from decisions.chooseCaptureFallback.
 */
import type { DesktopCapturer, NativeImage, Screen } from 'electron';
import { chooseCaptureFallback, isBlankFrame, type FallbackDecision, type SessionType } from './decisions.js';
import { physicalSize, type Display, type Size } from '../../api/capture-geometry.js';

export type CapturerApi = Pick<DesktopCapturer, 'getSources'>;
export type ScreenApi = Pick<Screen, 'getAllDisplays'>;

export interface CapturedFrame {
  display: Display;
  image: NativeImage;
  /** The screenshot's size in pixels (what selectionToPhysical scales to). */
  physical: Size;
}

export type CaptureFailure = 'blank' | 'no-sources' | 'permission';

export type CaptureResult =
  | { ok: true; frames: CapturedFrame[]; /** displays whose capture was blank (no overlay there) */ blankDisplays: number[] }
  | { ok: false; reason: CaptureFailure };

/**
 * Capture every display. The thumbnail size asked for is the largest display's physical size
 * (Electron scales each source to fit it, keeping the aspect ratio, so every display comes back at
 * its own physical resolution or above; selectionToPhysical uses the actual image size).
 * Sources are matched by display_id; if the platform leaves display_id empty and the counts agree,
 * by order. `toBitmap()` is BGRA on most platforms: isBlankFrame is channel-order independent
 * (alpha is byte 3 in both, and the black and one-colour tests compare each channel with itself).
 */
export async function captureDisplays(capturer: CapturerApi, screen: ScreenApi): Promise<CaptureResult> {
  const displays: Display[] = screen.getAllDisplays().map((d) => ({ id: d.id, bounds: { ...d.bounds }, scaleFactor: d.scaleFactor }));
  if (displays.length === 0) return { ok: false, reason: 'no-sources' };
  let largest = { width: 0, height: 0 };
  for (const d of displays) {
    const s = physicalSize(d);
    largest = { width: Math.max(largest.width, s.width), height: Math.max(largest.height, s.height) };
  }
  let sources: Awaited<ReturnType<CapturerApi['getSources']>>;
  try {
    sources = await capturer.getSources({ types: ['screen'], thumbnailSize: largest, fetchWindowIcons: false });
  } catch {
    // macOS without Screen Recording permission, or a portal that refused.
    return { ok: false, reason: 'permission' };
  }
  if (sources.length === 0) return { ok: false, reason: 'no-sources' };
  const byOrder = sources.length === displays.length && sources.every((s) => !s.display_id);
  const frames: CapturedFrame[] = [];
  const blankDisplays: number[] = [];
  displays.forEach((display, i) => {
    const source = byOrder ? sources[i] : sources.find((s) => s.display_id === String(display.id));
    if (!source) return;
    const image = source.thumbnail;
    const size = image.getSize();
    if (image.isEmpty() || isBlankFrame(image.toBitmap(), size.width, size.height)) {
      blankDisplays.push(display.id);
      return;
    }
    frames.push({ display, image, physical: { width: size.width, height: size.height } });
  });
  if (frames.length > 0) return { ok: true, frames, blankDisplays };
  return { ok: false, reason: blankDisplays.length > 0 ? 'blank' : 'no-sources' };
}

export interface FallbackContext {
  session: SessionType;
  shortcutConfirmed: boolean;
  portalAvailable: boolean;
  clipboardHasImage: boolean;
}

/** What to offer when the capture is unusable (every failure counts as blank for the policy). */
export function captureFallback(result: CaptureResult, context: FallbackContext): FallbackDecision {
  return chooseCaptureFallback({ ...context, captureBlank: !result.ok });
}
