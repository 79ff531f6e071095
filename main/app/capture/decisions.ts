// Pure decisions for the screenshot hotkey: session detection, Electron
// switches, blank-frame detection, shortcut confirmation, fallback choice and
// the hotkey status line. No Electron imports; the caller passes what it observed.

import { CAPTURE_COMMAND, type CaptureStatus, type HotkeyState } from '../../api/capture.js';

export type SessionType = 'wayland' | 'x11' | 'windows' | 'macos' | 'unknown';

export type CaptureFallback = 'system-picker' | 'clipboard' | 'open-file';

export interface SessionEnv {
  /** process.platform-like value. */
  platform: string;
  env: Readonly<Record<string, string | undefined>>;
}

/**
 * win32 → windows, darwin → macos. Other platforms (linux, *bsd): XDG_SESSION_TYPE
 * wins when it says wayland or x11; otherwise WAYLAND_DISPLAY → wayland, then
 * DISPLAY → x11 (a Wayland session also sets DISPLAY for XWayland, so
 * WAYLAND_DISPLAY is checked first). A Wayland session stays 'wayland' even if
 * Electron runs through XWayland: X11 grabs then only fire while one of our own
 * windows has focus, so the global-shortcut caveats still apply.
 */
export function detectSessionType({ platform, env }: SessionEnv): SessionType {
  if (platform === 'win32') return 'windows';
  if (platform === 'darwin') return 'macos';
  if (platform === 'aix' || platform === 'android' || platform === 'sunos' || platform === 'cygwin') return 'unknown';
  const xdg = (env.XDG_SESSION_TYPE ?? '').trim().toLowerCase();
  if (xdg === 'wayland') return 'wayland';
  if (xdg === 'x11') return 'x11';
  if (env.WAYLAND_DISPLAY) return 'wayland';
  if (env.DISPLAY) return 'x11';
  return 'unknown';
}

/**
 * Command-line switches to set before `app.ready`. On Wayland, globalShortcut
 * works only through the xdg-desktop-portal GlobalShortcuts interface, behind
 * the GlobalShortcutsPortal feature (electron PR #45171, Electron 34/35+).
 */
export function electronSwitchesFor(session: SessionType): string[] {
  return session === 'wayland' ? ['--enable-features=GlobalShortcutsPortal'] : [];
}

/** '--name=value' → ['name', 'value'] for app.commandLine.appendSwitch. */
export function switchToAppendArgs(sw: string): [string, string] | [string] {
  const body = sw.replace(/^--/, '');
  const eq = body.indexOf('=');
  return eq < 0 ? [body] : [body.slice(0, eq), body.slice(eq + 1)];
}

/** Samples per axis of the blank-frame grid (at most 64 × 64 = 4096 pixels read). */
export const BLANK_GRID = 64;
/** Per-channel distance still counted as "the same colour" (compression noise). */
export const BLANK_COLOUR_TOLERANCE = 8;
/** A pixel whose R, G and B are all ≤ this is "black". */
export const BLANK_BLACK_MAX = 16;
/** Share of sampled pixels that may differ (a mouse cursor, a blinking dot). */
export const BLANK_OUTLIER_SHARE = 0.002;

/**
 * True when a FULL-DISPLAY capture is unusable: the frame is empty (zero size
 * or a buffer shorter than width × height × 4), fully transparent, (nearly)
 * all black, or (nearly) one colour (the grey/white Wayland overlay of
 * pix2tex #249/#358). "Nearly" = at most BLANK_OUTLIER_SHARE of the sampled
 * pixels differ from the reference colour by more than BLANK_COLOUR_TOLERANCE
 * per channel (or are not black, for the black test). Reads a grid of at most
 * BLANK_GRID × BLANK_GRID pixel centres, so cost does not grow with resolution.
 * Meant for whole-display captures: a real desktop is never one colour, but a
 * user's crop of a white page can be, so do not run it on crops.
 */
export function isBlankFrame(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): boolean {
  if (!(width > 0 && height > 0) || !Number.isInteger(width) || !Number.isInteger(height)) return true;
  if (rgba.length < width * height * 4) return true;
  const nx = Math.min(width, BLANK_GRID);
  const ny = Math.min(height, BLANK_GRID);
  const total = nx * ny;
  const allowed = Math.floor(total * BLANK_OUTLIER_SHARE);
  const r0 = rgba[0]!;
  const g0 = rgba[1]!;
  const b0 = rgba[2]!;
  let transparent = 0;
  let notBlack = 0;
  let differs = 0;
  for (let j = 0; j < ny; j++) {
    const y = Math.floor(((j + 0.5) * height) / ny);
    for (let i = 0; i < nx; i++) {
      const x = Math.floor(((i + 0.5) * width) / nx);
      const o = (y * width + x) * 4;
      const r = rgba[o]!;
      const g = rgba[o + 1]!;
      const b = rgba[o + 2]!;
      if (rgba[o + 3] === 0) transparent++;
      if (r > BLANK_BLACK_MAX || g > BLANK_BLACK_MAX || b > BLANK_BLACK_MAX) notBlack++;
      if (
        Math.abs(r - r0) > BLANK_COLOUR_TOLERANCE ||
        Math.abs(g - g0) > BLANK_COLOUR_TOLERANCE ||
        Math.abs(b - b0) > BLANK_COLOUR_TOLERANCE
      )
        differs++;
    }
  }
  // Reference colour = pixel (0,0). Known miss: a one-colour frame whose
  // (0,0) pixel is itself the outlier is not flagged (unless it is black).
  return total - transparent <= allowed || notBlack <= allowed || differs <= allowed;
}

export type ShortcutState = Exclude<HotkeyState, 'unavailable'>;

/**
 * globalShortcut.register() result + whether the callback has fired.
 * - register() false → 'failed' (taken by another app, or refused).
 * - it fired at least once (firedWithinMs defined: ms from registration to the
 *   first call) → 'confirmed', on any session.
 * - registered, never fired: on X11, Windows and macOS register() is reliable →
 *   'confirmed'; on Wayland (and an unknown Linux session) register() can return
 *   true while the callback never fires (cherry-studio#20524, electron#45607,
 *   #51875 on GNOME 50 / xdg-desktop-portal ≥ 1.20) → 'unconfirmed' until the
 *   first press.
 */
export function shortcutState(registerResult: boolean, firedWithinMs: number | undefined, session: SessionType): ShortcutState {
  if (!registerResult) return 'failed';
  if (firedWithinMs !== undefined && Number.isFinite(firedWithinMs) && firedWithinMs >= 0) return 'confirmed';
  return session === 'wayland' || session === 'unknown' ? 'unconfirmed' : 'confirmed';
}

export function isShortcutConfirmed(registerResult: boolean, firedWithinMs: number | undefined, session: SessionType): boolean {
  return shortcutState(registerResult, firedWithinMs, session) === 'confirmed';
}

export interface FallbackInput {
  session: SessionType;
  shortcutConfirmed: boolean;
  captureBlank: boolean;
  /** xdg-desktop-portal Screenshot/ScreenCast (or another OS picker) is usable. */
  portalAvailable: boolean;
  clipboardHasImage: boolean;
}

export interface FallbackDecision {
  /** Offered in this order; the first is the default button. Empty: capture worked. */
  fallbacks: CaptureFallback[];
  /** One line for the user, or undefined when there is nothing to say. */
  message: string | undefined;
}

const BIND_HINT =
  `bind a desktop shortcut to \`${CAPTURE_COMMAND}\` (GNOME: Settings → Keyboard → View and Customize Shortcuts → Custom Shortcuts; ` +
  `KDE: System Settings → Shortcuts → Add New → Command or Script)`;

/**
 * Order when the capture is blank: an image already on the clipboard first (the
 * user likely just took it with the system tool; no dialog), then the system
 * picker when a portal is available, then open-file, which always works and is
 * always offered. When the capture worked, no fallback is offered, but an
 * unconfirmed or failed shortcut still gets the bind-a-desktop-shortcut line.
 */
export function chooseCaptureFallback(input: FallbackInput): FallbackDecision {
  const { session, shortcutConfirmed, captureBlank, portalAvailable, clipboardHasImage } = input;
  const fallbacks: CaptureFallback[] = [];
  if (captureBlank) {
    if (clipboardHasImage) fallbacks.push('clipboard');
    if (portalAvailable) fallbacks.push('system-picker');
    fallbacks.push('open-file');
  }
  const linux = session === 'wayland' || session === 'x11' || session === 'unknown';
  let message: string | undefined;
  if (captureBlank) {
    if (session === 'macos') {
      message =
        'The screenshot came back blank: allow OmniFusion Desktop in System Settings → Privacy & Security → Screen Recording, or paste or open an image.';
    } else if (linux) {
      message = `The screenshot came back blank on this ${session === 'unknown' ? 'desktop' : session === 'wayland' ? 'Wayland session' : 'X11 session'}: use the system picker, paste or open an image, or ${BIND_HINT} to use your desktop's screenshot tool.`;
    } else {
      message = 'The screenshot came back blank: press Win+Shift+S to snip with Windows, then paste it here, or open an image file.';
    }
  } else if (!shortcutConfirmed) {
    if (linux) {
      message = `The global shortcut could not be confirmed on this ${session === 'wayland' ? 'Wayland session' : 'desktop'}; if it does nothing, ${BIND_HINT}.`;
    } else {
      message = 'The global shortcut could not be registered (another app may use it); choose another one in Settings.';
    }
  }
  return { fallbacks, message };
}

/**
 * What the settings and the chat window show about the hotkey: nothing to do when confirmed;
 * otherwise one line that says why and how to bind `omnifusion-desktop --capture` instead.
 */
export function hotkeyStatus(accelerator: string, state: ShortcutState, session: SessionType): CaptureStatus {
  const status: CaptureStatus = { accelerator, state, command: CAPTURE_COMMAND };
  const linux = session === 'wayland' || session === 'x11' || session === 'unknown';
  if (state === 'unconfirmed') {
    status.message = `${accelerator} is registered, but this ${session === 'wayland' ? 'Wayland session' : 'desktop'} has not confirmed it: press it once to check; if nothing happens, ${BIND_HINT}.`;
  } else if (state === 'failed') {
    status.message = linux
      ? `${accelerator} could not be registered (another app may use it): choose another in Settings, or ${BIND_HINT}.`
      : `${accelerator} could not be registered (another app may use it): choose another in Settings.`;
  }
  return status;
}
