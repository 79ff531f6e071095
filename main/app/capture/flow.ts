/**
 * The capture flow: capture → region selection (one overlay window per display; the overlay page
 * is the renderer's job and answers over IPC) → selectionToPhysical → crop → PNG → attachment →
 * tell the main window. Every step is a dependency, so the flow is tested without Electron.
 */
import type { BrowserWindow, BrowserWindowConstructorOptions, IpcMain, IpcMainInvokeEvent } from 'electron';
import type { AttachmentInfo } from '../../api/contract.js';
import { webPreferences } from '../window-options.js';
import type { CaptureFailure, CaptureResult, CapturedFrame } from './capture.js';
import type { FallbackDecision } from './decisions.js';
import { selectionToPhysical, type CropRefusal, type Display, type Drag, type Rect } from './geometry.js';

/** What the overlay answers: the display it was on and the selection in overlay-local DIP. */
export interface RegionSelection {
  displayId: number;
  selection: Drag | Rect;
}

export interface CaptureFlowDeps {
  capture(): Promise<CaptureResult>;
  /** undefined: cancelled (Esc, or the overlays were closed). */
  selectRegion(frames: readonly CapturedFrame[]): Promise<RegionSelection | undefined>;
  addAttachment(name: string, bytes: Uint8Array): Promise<AttachmentInfo>;
  /** Show the main window with the attachment in the composer. */
  attached(attachment: AttachmentInfo): void;
  /** Offer the fallback (decided by decisions.chooseCaptureFallback) when the capture failed. */
  fallback(reason: CaptureFailure): FallbackDecision;
}

export type CaptureOutcome =
  | { kind: 'attached'; attachment: AttachmentInfo }
  | { kind: 'cancelled' }
  | { kind: 'refused'; reason: CropRefusal }
  | { kind: 'fallback'; reason: CaptureFailure; decision: FallbackDecision }
  | { kind: 'busy' };

export const SCREENSHOT_NAME = 'screenshot.png';

/** One capture from start to attachment. */
export async function startCapture(deps: CaptureFlowDeps): Promise<CaptureOutcome> {
  const result = await deps.capture();
  if (!result.ok) return { kind: 'fallback', reason: result.reason, decision: deps.fallback(result.reason) };
  const picked = await deps.selectRegion(result.frames);
  if (!picked) return { kind: 'cancelled' };
  const frame = result.frames.find((f) => f.display.id === picked.displayId);
  if (!frame) return { kind: 'refused', reason: 'no-display' };
  const crop = selectionToPhysical(frame.display, picked.selection, frame.physical);
  if (!crop.ok) return { kind: 'refused', reason: crop.reason };
  const png = frame.image.crop(crop.rect).toPNG();
  const bytes = new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
  const attachment = await deps.addAttachment(SCREENSHOT_NAME, bytes);
  deps.attached(attachment);
  return { kind: 'attached', attachment };
}

/** startCapture with a guard: a second press while a capture is open does nothing. */
export function captureRunner(deps: CaptureFlowDeps): () => Promise<CaptureOutcome> {
  let running = false;
  return async () => {
    if (running) return { kind: 'busy' };
    running = true;
    try {
      return await startCapture(deps);
    } finally {
      running = false;
    }
  };
}

/** An overlay covering exactly one display: frameless, transparent, on top, hardened like the main window. */
export function overlayWindowOptions(display: Display, preloadPath: string): BrowserWindowConstructorOptions {
  return {
    title: 'OmniFusion capture',
    x: display.bounds.x,
    y: display.bounds.y,
    width: display.bounds.width,
    height: display.bounds.height,
    frame: false,
    transparent: true,
    backgroundColor: '#00000000',
    alwaysOnTop: true,
    skipTaskbar: true,
    resizable: false,
    movable: false,
    minimizable: false,
    maximizable: false,
    fullscreenable: false,
    enableLargerThanScreen: true,
    hasShadow: false,
    show: false,
    webPreferences: webPreferences(preloadPath),
  };
}

/** The IPC channel an overlay answers on: `{ displayId, selection }` or `{ cancel: true }`. */
export const SELECT_CHANNEL = 'omnifusion:capture.select';

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

export interface OverlayDeps {
  createWindow(options: BrowserWindowConstructorOptions): BrowserWindow;
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  preloadPath: string;
  /** The overlay page for a display (the renderer serves it). */
  overlayUrl(display: Display): string;
  trusted(event: IpcMainInvokeEvent): boolean;
}

/**
 * selectRegion for startCapture: one overlay per captured display; resolves with the first
 * answer on SELECT_CHANNEL, or undefined on Esc (caught in main, so it works whatever the page
 * does) or when an overlay is closed. The overlays are closed and the handler removed after.
 */
export function overlaySelector(deps: OverlayDeps): (frames: readonly CapturedFrame[]) => Promise<RegionSelection | undefined> {
  return (frames) =>
    new Promise((resolve) => {
      const windows: BrowserWindow[] = [];
      let done = false;
      const finish = (answer: RegionSelection | undefined): void => {
        if (done) return;
        done = true;
        deps.ipcMain.removeHandler(SELECT_CHANNEL);
        for (const w of windows) if (!w.isDestroyed()) w.close();
        resolve(answer);
      };
      deps.ipcMain.handle(SELECT_CHANNEL, (event, payload: unknown) => {
        if (!deps.trusted(event)) return false;
        const cancel = typeof payload === 'object' && payload !== null && (payload as { cancel?: unknown }).cancel === true;
        const answer = cancel ? undefined : parseSelection(payload);
        if (!cancel && !answer) return false;
        finish(answer);
        return true;
      });
      for (const frame of frames) {
        const win = deps.createWindow(overlayWindowOptions(frame.display, deps.preloadPath));
        windows.push(win);
        win.webContents.on('before-input-event', (event, input) => {
          if (input.type === 'keyDown' && input.key === 'Escape') {
            event.preventDefault();
            finish(undefined);
          }
        });
        win.once('ready-to-show', () => win.show());
        win.on('closed', () => finish(undefined));
        win.loadURL(deps.overlayUrl(frame.display)).catch(() => finish(undefined));
      }
      if (windows.length === 0) finish(undefined);
    });
}
