/**
 * The app:// scheme the window loads from, as pure functions (main.ts registers the handler).
 *
 * Why not file://: every file: URL shares one opaque origin, so a CSP of 'self', a sender check or
 * a navigation rule could not tell the app's index.html from any other file on disk, and Electron's
 * security checklist asks apps to prefer a custom protocol. A privileged *standard*, *secure*
 * scheme gives the renderer a real origin (app://omnifusion) that 'self' means exactly, that
 * `isTrustedSender` compares against, that can use fetch and secure-context APIs (camera), and
 * whose handler serves only files inside the built renderer folder plus attachments by hash.
 */
import path from 'node:path';
import type { CustomScheme } from 'electron';

export const APP_SCHEME = 'app';
export const APP_HOST = 'omnifusion';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/**
 * The scheme's privileges; registered before app 'ready' (protocol.registerSchemesAsPrivileged).
 * Vite emits `<script type="module" crossorigin>`, a CORS-mode fetch: `corsEnabled` makes the
 * scheme take part in CORS so module scripts and their imports load (same-origin here; the
 * handler sends no Access-Control-Allow-Origin, so other origins still cannot read it). Never
 * `bypassCSP`.
 */
export const APP_SCHEME_PRIVILEGES: CustomScheme = {
  scheme: APP_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true, stream: true, codeCache: true },
};

/**
 * `scheme://host[:port]` of a URL, for any scheme with an authority (WHATWG `URL.origin` is
 * "null" for non-special schemes such as app:, so it cannot be used here). Undefined for URLs
 * without a host (file:, about:, data:, javascript:, blob:, mailto:), with credentials, or that
 * do not parse.
 */
export function urlOrigin(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.host === '' || parsed.username !== '' || parsed.password !== '') return undefined;
  if (parsed.protocol === 'file:') return undefined;
  // Hosts are case-insensitive; WHATWG URL lowercases them only for special schemes (http, …).
  return `${parsed.protocol}//${parsed.host.toLowerCase()}`;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
};

/** What an app:// request asks for. */
export type AppRequest =
  | { kind: 'asset'; file: string; contentType: string }
  | { kind: 'attachment'; sha256: string }
  /** A display's frozen screenshot while its capture overlay is open (api/capture.ts captureFrameUrl). */
  | { kind: 'capture-frame'; displayId: number }
  | { kind: 'not_found' };

/**
 * Map an app:// URL to a file of the built renderer (`rendererDir`) or to an attachment
 * (`/files/<sha256>`, the same path the web bridge serves) or to a capture frame
 * (`/capture/<displayId>.png`). Refuses other hosts, encoded or plain
 * `..` that would leave the folder, NUL bytes, and hashes that are not 64 lowercase hex digits.
 */
export function resolveAppRequest(url: string, rendererDir: string): AppRequest {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { kind: 'not_found' };
  }
  if (parsed.protocol !== `${APP_SCHEME}:` || parsed.host.toLowerCase() !== APP_HOST || parsed.username !== '' || parsed.password !== '') {
    return { kind: 'not_found' };
  }
  let pathname: string;
  try {
    pathname = decodeURIComponent(parsed.pathname);
  } catch {
    return { kind: 'not_found' };
  }
  if (pathname.includes('\0') || pathname.includes('\\')) return { kind: 'not_found' };
  const files = /^\/files\/([^/]*)$/.exec(pathname);
  if (files) return /^[0-9a-f]{64}$/.test(files[1]!) ? { kind: 'attachment', sha256: files[1]! } : { kind: 'not_found' };
  if (pathname.startsWith('/capture/')) {
    const frame = /^\/capture\/(\d{1,15})\.png$/.exec(pathname);
    return frame ? { kind: 'capture-frame', displayId: Number(frame[1]) } : { kind: 'not_found' };
  }
  const relative = pathname.replace(/^\/+/, '') || 'index.html';
  const root = path.resolve(rendererDir);
  const file = path.resolve(root, relative);
  if (!file.startsWith(root + path.sep)) return { kind: 'not_found' };
  const contentType = CONTENT_TYPES[path.extname(file).toLowerCase()];
  if (contentType === undefined) return { kind: 'not_found' };
  return { kind: 'asset', file, contentType };
}
