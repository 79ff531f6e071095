/**
 * The platform layer (Element's idea): the renderer asks for one OmniFusionApi and does not care
 * what carries it. In Electron the preload exposes `window.omnifusion`; in a browser the page was
 * served by `omnifusion serve` and talks to it over the web bridge.
 */
import type { OmniFusionApi } from '../../../main/api/contract';
import { WebBridge } from './web-bridge';

declare global {
  interface Window {
    /** Set by the Electron preload (contextBridge). */
    omnifusion?: OmniFusionApi;
  }
}

export type PlatformKind = 'electron' | 'web';

let api: OmniFusionApi | undefined;

/** Which platform carries the API (decided once, at the first call). */
export function platformKind(): PlatformKind {
  return window.omnifusion ? 'electron' : 'web';
}

/** The API for this page: the preload's object when present, otherwise the web bridge. */
export function getApi(): OmniFusionApi {
  if (api) return api;
  if (window.omnifusion) {
    api = window.omnifusion;
  } else {
    api = new WebBridge();
  }
  return api;
}

/** Use another implementation (demo mode, tests). */
export function setApi(replacement: OmniFusionApi): void {
  api = replacement;
}

const SAFE_SCHEMES = new Set(['http:', 'https:', 'mailto:']);

/**
 * Open a link from an answer outside the app. Model output is untrusted: only http(s) and mailto,
 * and in the browser only after the user has seen the full address. In Electron the main process
 * (setWindowOpenHandler) checks and confirms, then opens it in the system browser.
 */
export function openExternal(href: string): void {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return;
  }
  if (!SAFE_SCHEMES.has(url.protocol) || url.username || url.password) {
    window.alert(`This link was not opened: only plain http(s) and mailto links are.\n\n${href}`);
    return;
  }
  if (platformKind() === 'web' && !window.confirm(`Open this link in a new tab?\n\n${url.href}`)) return;
  window.open(url.href, '_blank', 'noopener');
}
