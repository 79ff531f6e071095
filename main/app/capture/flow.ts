/**
 * The capture flow: capture → region selection (one overlay window per display; the overlay page
 * is the renderer's job and answers over IPC) → selectionToPhysical → crop → PNG → attachment →
 * tell the main window. Every step is a dependency, so the flow is tested without Electron.
 */
import type { BrowserWindow, BrowserWindowConstructorOptions, IpcMain, IpcMainInvokeEvent } from 'electron';
import type { AttachmentInfo } from '../../api/contract.js';
import { webPreferences } from '../window-options.js';
import type { CaptureFailure, CaptureResult, CapturedFrame } from './capture.js';
import type { CaptureFallback, FallbackDecision } from './decisions.js';
import { selectionToPhysical, type CropRefusal, type Display } from '../../api/capture-geometry.js';
import { parseSelection, SELECT_CHANNEL, type RegionSelection } from '../../api/capture.js';

export interface CaptureFlowDeps {
  capture(): Promise<CaptureResult>;
  /** undefined: cancelled (Esc, or the overlays were closed). */
  selectRegion(frames: readonly CapturedFrame[]): Promise<RegionSelection | undefined>;
  addAttachment(name: string, bytes: Uint8Array): Promise<AttachmentInfo>;
  /** Show the main window with the attachment in the composer. */
  attached(attachment: AttachmentInfo): void;
  /** Offer the fallback (decided by decisions.chooseCaptureFallback) when the capture failed. */
  fallback(reason: CaptureFailure): FallbackDecision | Promise<FallbackDecision>;
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
  if (!result.ok) return { kind: 'fallback', reason: result.reason, decision: await deps.fallback(result.reason) };
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

/** The compact quick-ask window a capture opens in (settings.captureOpens = 'quick-ask'): small, on top, hardened. */
export function quickAskWindowOptions(preloadPath: string, backgroundColor: string): BrowserWindowConstructorOptions {
  return {
    title: 'OmniFusion — Ask about the capture',
    width: 520,
    height: 440,
    minWidth: 360,
    minHeight: 300,
    alwaysOnTop: true,
    skipTaskbar: false,
    fullscreenable: false,
    backgroundColor,
    show: false,
    webPreferences: webPreferences(preloadPath),
  };
}

/** The buttons of the "capture came back blank" dialog, in decision order, then Cancel. */
export const FALLBACK_LABELS: Readonly<Record<CaptureFallback, string>> = {
  clipboard: 'Use the image on the clipboard',
  'system-picker': 'Pick a screen with the system picker',
  'open-file': 'Open an image…',
};

/** The dialog's buttons for a decision, and the fallback a clicked button index stands for (undefined: Cancel). */
export function fallbackButtons(decision: FallbackDecision): { labels: string[]; choice(index: number): CaptureFallback | undefined } {
  const labels = [...decision.fallbacks.map((f) => FALLBACK_LABELS[f]), 'Cancel'];
  return { labels, choice: (index) => decision.fallbacks[index] };
}
