/**
 * Window hardening as pure functions (Electron's security checklist): the BrowserWindow options,
 * the Content-Security-Policy, which navigations stay in the window, which URLs may open in the
 * user's browser, and which permission requests are granted. main.ts wires them to Electron; the
 * tests in test/unit/app check them without Electron's binary.
 */
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';
import { APP_ORIGIN, urlOrigin } from './app-protocol.js';
import type { Settings } from '../api/contract.js';

/** Background painted before the renderer's first frame (no white flash in dark mode). */
export const BACKGROUND = { light: '#ffffff', dark: '#16181d' } as const;

export const MIN_WIDTH = 720;
export const MIN_HEIGHT = 520;

/** The colour to paint before the page loads, for the user's theme setting and the OS preference. */
export function backgroundColor(theme: Settings['theme'], systemPrefersDark: boolean): string {
  const dark = theme === 'dark' || (theme === 'system' && systemPrefersDark);
  return dark ? BACKGROUND.dark : BACKGROUND.light;
}

/**
 * Renderer preferences: context isolation, the Chromium sandbox, no Node anywhere in the page,
 * web security on, and the bundled preload as the only bridge.
 */
export function webPreferences(preloadPath: string): WebPreferences {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    // A file dropped outside the composer's drop zone must not replace the app with file://…
    navigateOnDragDrop: false,
    safeDialogs: true,
    spellcheck: true,
  };
}

/** Options of the main window. It is shown on 'ready-to-show' (show: false avoids a blank frame). */
export function mainWindowOptions(options: {
  preloadPath: string;
  theme: Settings['theme'];
  systemPrefersDark: boolean;
  icon?: string;
}): BrowserWindowConstructorOptions {
  return {
    title: 'OmniFusion',
    width: 1180,
    height: 820,
    minWidth: MIN_WIDTH,
    minHeight: MIN_HEIGHT,
    show: false,
    backgroundColor: backgroundColor(options.theme, options.systemPrefersDark),
    autoHideMenuBar: true,
    ...(options.icon ? { icon: options.icon } : {}),
    webPreferences: webPreferences(options.preloadPath),
  };
}

/**
 * The page's Content-Security-Policy (sent as a response header by the app:// protocol handler).
 * Inline styles are allowed because KaTeX positions glyphs with style attributes; scripts are not.
 * Attachments are served by the same origin (app://omnifusion/files/<sha256>); camera frames and
 * pasted images are blob: or data: URLs. KaTeX's fonts are same-origin files (vite.config.ts
 * inlines no assets).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' blob: data:",
  "font-src 'self'",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-src 'none'",
  "worker-src 'self'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Whether the window may navigate to `url`: only to the app's own origin (a reload of the app);
 * anything else is refused (and, if safe, opened in the user's browser instead).
 */
export function isAllowedNavigation(url: string, appOrigin: string = APP_ORIGIN): boolean {
  const origin = urlOrigin(url);
  return origin !== undefined && origin === appOrigin;
}

const EXTERNAL_PROTOCOLS: ReadonlySet<string> = new Set(['https:', 'http:', 'mailto:']);

/**
 * Whether a link may be handed to the OS (shell.openExternal): web and mail links only. Never
 * file:, javascript:, data:, blob: or custom schemes (those can launch local programs).
 */
export function shouldOpenExternally(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (!EXTERNAL_PROTOCOLS.has(parsed.protocol)) return false;
  if (parsed.protocol === 'mailto:') return parsed.pathname.length > 0;
  return parsed.hostname.length > 0;
}

/** What a permission request or check tells about itself (Electron's request and check details). */
export interface PermissionDetails {
  /** The URL of the frame asking (request details; optional on checks). */
  requestingUrl?: string;
  /** The origin asking (check details for media). */
  securityOrigin?: string;
  isMainFrame?: boolean;
  /** Request: the devices asked for ('video' = camera, 'audio' = microphone). */
  mediaTypes?: ReadonlyArray<'video' | 'audio'>;
  /** Check: the device asked about. */
  mediaType?: 'video' | 'audio' | 'unknown';
}

/**
 * Whether to grant a permission. The app uses the camera (capture a page or a formula) and writes
 * to the clipboard (copy LaTeX or an answer); nothing else: no microphone, no screen capture
 * through the web API, no notifications, geolocation, MIDI, HID, USB, serial or clipboard reads.
 * Only the app's own main frame is ever granted anything.
 */
export function permissionAllowed(permission: string, details: PermissionDetails, appOrigin: string = APP_ORIGIN): boolean {
  if (details.isMainFrame === false) return false;
  const asker = details.requestingUrl ?? details.securityOrigin;
  if (asker === undefined || urlOrigin(asker) !== appOrigin) return false;
  if (permission === 'clipboard-sanitized-write') return true;
  if (permission !== 'media') return false;
  if (details.mediaTypes !== undefined) {
    return details.mediaTypes.length > 0 && details.mediaTypes.every((type) => type === 'video');
  }
  return details.mediaType === 'video';
}

/** What a getDisplayMedia request tells (Electron's DisplayMediaRequestHandlerHandlerRequest). */
export interface DisplayMediaRequestLike {
  securityOrigin: string;
  /** URL of the asking frame; undefined when the frame is gone. */
  frameUrl: string | undefined;
  /** Whether the asking frame is the top-level frame. */
  isMainFrame: boolean;
  videoRequested: boolean;
  audioRequested: boolean;
  userGesture: boolean;
}

/**
 * Whether to answer a getDisplayMedia request (the in-page capture the window falls back to when
 * the desktop capture is blank): only the app's own top-level page, video only, and only after a
 * click (Chromium's own rule for the API), so no page can film the screen on its own.
 */
export function displayMediaAllowed(request: DisplayMediaRequestLike, appOrigin: string = APP_ORIGIN): boolean {
  if (!request.isMainFrame || request.frameUrl === undefined) return false;
  if (urlOrigin(request.frameUrl) !== appOrigin || urlOrigin(request.securityOrigin) !== appOrigin) return false;
  return request.videoRequested && !request.audioRequested && request.userGesture;
}
