/**
 * The screenshot-to-question flow's shared vocabulary: what the settings hold, what the app
 * reports about the global hotkey, what a region-selection overlay answers, and the routes of
 * the capture windows. Pure (no Node, no Electron, no DOM): the Electron main process, the
 * preload, the API service and the renderer all import it.
 */
import type { Drag, Rect } from './capture-geometry.js';

/** What a capture is for; chooses the question asked when the user presses Enter on an empty box. */
export type CaptureMode = 'ask' | 'ocr';

/** Where the crop goes: a compact quick-ask window or the main window's composer. */
export type CaptureOpens = 'quick-ask' | 'main';

/** The question sent for Enter on an empty question box (issue 4: "Describe this", "Convert to LaTeX"). */
export const CAPTURE_DEFAULT_QUESTION: Readonly<Record<CaptureMode, string>> = {
  ask: 'Describe this',
  ocr: 'Convert to LaTeX',
};

/** The command a desktop shortcut should run (electron-builder executableName). */
export const CAPTURE_COMMAND = 'omnifusion-desktop --capture';

/**
 * The global hotkey as the user should see it:
 * - confirmed: registered and known to work (or it has fired);
 * - unconfirmed: registered, but this desktop (Wayland) may not deliver it until it fires once;
 * - failed: could not be registered (taken by another app, or not a valid accelerator);
 * - unavailable: no global hotkey here (the browser UI of `omnifusion serve`).
 */
export type HotkeyState = 'confirmed' | 'unconfirmed' | 'failed' | 'unavailable';

/** The capture hotkey's state; `message` (one line) says what to do when it is not confirmed. */
export interface CaptureStatus {
  /** Electron accelerator, e.g. "Control+Alt+Shift+M". */
  accelerator: string;
  state: HotkeyState;
  message?: string;
  /** Bind this to a desktop shortcut where the global hotkey cannot work. */
  command: string;
}

/**
 * Default capture hotkey (Electron accelerator).
 * - macOS: Command+Alt+Shift+M. Avoids Cmd+Shift+3/4/5 (system screenshots),
 *   Cmd+Ctrl+Shift+3/4 (screenshot to clipboard) and Ctrl+Cmd+M (Mathpix Snip's
 *   default, so both apps can coexist); "M" for math.
 * - Windows/Linux: Control+Alt+Shift+M. Avoids PrintScreen, Win+Shift+S (Snip &
 *   Sketch), Super+… (GNOME/KDE/Windows shell), Ctrl+Alt+M (Mathpix; and
 *   Ctrl+Alt is AltGr on many European layouts, so Ctrl+Alt+letter types
 *   characters there; the Shift makes it a non-character chord), and GNOME's
 *   Ctrl+Alt+Shift+R (screen recording) / KDE's Ctrl+Alt+Shift+Del/PgDn.
 */
export function defaultHotkey(platform: string): string {
  return platform === 'darwin' ? 'Command+Alt+Shift+M' : 'Control+Alt+Shift+M';
}

/** System/common shortcuts the default must not take (normalized, see normalizeAccelerator). */
export const AVOIDED_ACCELERATORS: Readonly<Record<'darwin' | 'other', readonly string[]>> = {
  darwin: ['command+shift+3', 'command+shift+4', 'command+shift+5', 'command+control+shift+3', 'command+control+shift+4', 'command+control+m', 'command+shift+m'],
  other: ['printscreen', 'super+shift+s', 'control+alt+m', 'control+alt+shift+r', 'control+alt+shift+delete', 'control+alt+delete', 'super+shift+m', 'shift+printscreen', 'alt+printscreen'],
};

const MOD_ALIASES: Record<string, string> = {
  cmd: 'command', command: 'command', cmdorctrl: 'commandorcontrol', commandorcontrol: 'commandorcontrol',
  ctrl: 'control', control: 'control', alt: 'alt', option: 'alt', altgr: 'altgr', shift: 'shift',
  super: 'super', meta: 'super', win: 'super', prtsc: 'printscreen', printscreen: 'printscreen', del: 'delete',
};
const MOD_ORDER = ['command', 'commandorcontrol', 'control', 'alt', 'altgr', 'shift', 'super'];

/** Lower-case, alias-resolved, modifiers in a fixed order: 'Shift+Cmd+4' → 'command+shift+4'. */
export function normalizeAccelerator(accel: string): string {
  const parts = accel.split('+').map((p) => p.trim().toLowerCase()).filter(Boolean).map((p) => MOD_ALIASES[p] ?? p);
  const mods = parts.filter((p) => MOD_ORDER.includes(p)).sort((a, b) => MOD_ORDER.indexOf(a) - MOD_ORDER.indexOf(b));
  const keys = parts.filter((p) => !MOD_ORDER.includes(p));
  return [...mods, ...keys].join('+');
}

/**
 * A usable global accelerator: exactly one key with at least one modifier (a bare letter would
 * swallow that letter in every app), or a bare function key F1–F24; at most 100 characters.
 */
export function isAcceleratorLike(accel: string): boolean {
  if (typeof accel !== 'string' || accel.length === 0 || accel.length > 100) return false;
  const parts = normalizeAccelerator(accel).split('+');
  const keys = parts.filter((p) => !MOD_ORDER.includes(p));
  if (keys.length !== 1) return false;
  return keys.length < parts.length || /^f([1-9]|1\d|2[0-4])$/.test(keys[0]!);
}

/** Whether `accel` is one of the system or common shortcuts the app must not take on `platform`. */
export function isAvoidedAccelerator(accel: string, platform: string): boolean {
  const list = AVOIDED_ACCELERATORS[platform === 'darwin' ? 'darwin' : 'other'];
  return list.map(normalizeAccelerator).includes(normalizeAccelerator(accel));
}

/** What the overlay answers: the display it was on and the selection in overlay-local DIP. */
export interface RegionSelection {
  displayId: number;
  selection: Drag | Rect;
}

/** The IPC channel an overlay answers on: `{ displayId, selection }` or `{ cancel: true }`. */
export const SELECT_CHANNEL = 'omnifusion:capture.select';

/** A well-formed overlay answer, or undefined (anything from a page is checked). */
export function parseSelection(value: unknown): RegionSelection | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as { displayId?: unknown; selection?: unknown };
  if (typeof v.displayId !== 'number' || typeof v.selection !== 'object' || v.selection === null) return undefined;
  const s = v.selection as Record<string, unknown>;
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  const point = (p: unknown): p is { x: number; y: number } =>
    typeof p === 'object' && p !== null && num((p as { x?: unknown }).x) && num((p as { y?: unknown }).y);
  if (point(s['start']) && point(s['end'])) return { displayId: v.displayId, selection: { start: s['start'], end: s['end'] } };
  if (num(s['x']) && num(s['y']) && num(s['width']) && num(s['height'])) {
    return { displayId: v.displayId, selection: { x: s['x'], y: s['y'], width: s['width'], height: s['height'] } };
  }
  return undefined;
}


/** The window routes (location hash) the renderer serves besides the chat window. */
export type AppRoute =
  | { kind: 'main' }
  /** The region-selection overlay of one display; its frame is at captureFrameUrl(displayId). */
  | { kind: 'capture-overlay'; displayId: number }
  /** The compact quick-ask window with a crop (attachment sha256) already attached. */
  | { kind: 'quick-ask'; attachment: string; mode: CaptureMode };

/** The hash of a route: '#capture-overlay/7', '#quick-ask/<sha256>/ocr'; '' for the chat window. */
export function routeHash(route: AppRoute): string {
  switch (route.kind) {
    case 'main':
      return '';
    case 'capture-overlay':
      return `#capture-overlay/${route.displayId}`;
    case 'quick-ask':
      return `#quick-ask/${route.attachment}/${route.mode}`;
  }
}

/** location.hash → route; anything unknown is the chat window. */
export function parseRoute(hash: string): AppRoute {
  const overlay = /^#capture-overlay\/(\d{1,15})$/.exec(hash);
  if (overlay) return { kind: 'capture-overlay', displayId: Number(overlay[1]) };
  const quick = /^#quick-ask\/([0-9a-f]{64})\/(ask|ocr)$/.exec(hash);
  if (quick) return { kind: 'quick-ask', attachment: quick[1]!, mode: quick[2] as CaptureMode };
  return { kind: 'main' };
}

/** Path (on the app's origin) of a display's frozen screenshot while its overlay is open. */
export function captureFrameUrl(displayId: number): string {
  return `/capture/${displayId}.png`;
}
