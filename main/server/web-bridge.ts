/**
 * `omnifusion serve`: the built renderer and the typed API over HTTP + WebSocket, so the same UI
 * runs in any browser (end-to-end tests drive it in headless Chromium). Loopback by default; a
 * per-run token is required on every API request and attachment (web-auth.ts: a bearer header,
 * never a cookie); Host and Origin are checked against the server's own address (DNS rebinding,
 * cross-site calls). The renderer's static files are the same for everyone and need no token.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { CALL_NAMES, EVENT_NAMES, type ApiErrorPayload, type CallName, type OmniFusionApi } from '../api/contract.js';
import { decodeBytes, encodeBytes } from './wire.js';
import { ATTACHMENT_HEADERS, type ServedAttachment } from '../core/images/served.js';
import { bearerAuthorized, chooseProtocol, fileCapability, newToken, sameSecret, upgradeAuthorized, withCapability } from './web-auth.js';

/** What the bridge needs besides the API: where an attachment's bytes are. */
export interface BridgeBackend extends OmniFusionApi {
  attachmentFile(sha256: string): Promise<ServedAttachment | undefined>;
  /** Turn any error into the payload the renderer shows. */
  describeError(err: unknown): ApiErrorPayload;
}

/** Options of the server. `port` 0 picks a free one. */
export interface WebBridgeOptions {
  backend: BridgeBackend;
  host?: string;
  port?: number;
  /** Folder of the built renderer (index.html and assets). */
  staticDir: string;
  /** Defaults to 32 random bytes, base64url. */
  token?: string;
  /**
   * Listen on an address other than loopback (plain HTTP: the token is the only protection).
   * Without it a non-loopback `host` is refused.
   */
  allowRemote?: boolean;
}

/** A running server: its URL with the token, and how to stop it. */
export interface WebBridge {
  url: string;
  origin: string;
  token: string;
  close(): Promise<void>;
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** A non-loopback --host without allowRemote; `message` is one line. */
export class RemoteHostError extends Error {
  override name = 'RemoteHostError';
}
/** Largest body of `attachments.add`: an image base64-encoded (the image decoder itself caps files at 200 MiB). */
const MAX_ATTACHMENT_BODY_BYTES = 96 * 1024 * 1024;
/**
 * Largest body of any other call: 4 MiB is far above the longest question the service accepts
 * (limits in main/api/limits.ts), so such a body is refused before it is read whole.
 */
const MAX_CALL_BODY_BYTES = 4 * 1024 * 1024;
/** Largest WebSocket message from a page: the page sends nothing on the event stream, a close frame at most. */
const MAX_WS_PAYLOAD_BYTES = 4 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

function contentType(file: string): string {
  const ext = path.extname(file).toLowerCase();
  return Object.hasOwn(CONTENT_TYPES, ext) ? CONTENT_TYPES[ext]! : 'application/octet-stream';
}

/** The same policy as the Electron window, plus WebSocket connections to this origin. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; " +
  "font-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
  res.end(body);
}

/** A request body over its call's limit (answered 413 with a bad_request reply). */
class BodyTooLargeError extends Error {}

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

/** The body, refused by its declared length or as soon as it passes `limit` bytes (never read whole). */
async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (size: string) => new BodyTooLargeError(`the request is ${size}; this call takes at most ${mebibytes(limit)}`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(mebibytes(declared));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge(`over ${mebibytes(limit)}`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether a POST declares a JSON body: a form or text/plain POST (which a page of any site can send without a preflight) is refused. */
function isJsonRequest(req: IncomingMessage): boolean {
  return /^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''));
}

/**
 * Start the web bridge.
 * @throws the listen error (e.g. EADDRINUSE) if the port cannot be bound.
 */
export async function startWebBridge(options: WebBridgeOptions): Promise<WebBridge> {
  const { backend, staticDir } = options;
  const listenHost = options.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(listenHost);
  if (!loopback && !options.allowRemote) {
    throw new RemoteHostError(`${listenHost} is not a loopback address: serving other machines is plain HTTP with only the token as protection; allow it explicitly (--allow-remote)`);
  }
  const token = options.token ?? newToken();
  const root = path.resolve(staticDir);
  let origin = '';
  let allowedHosts = new Set<string>();

  /** JSON for the page: bytes as {"$bytes"}, attachment URLs with their capability (web-auth.ts). */
  const toWire = (value: unknown): string =>
    JSON.stringify(value, (key, v: unknown) => (key === 'url' && typeof v === 'string' ? withCapability(token, v) : encodeBytes(key, v)));

  /** On loopback, Host must name this server (DNS rebinding); Origin, when sent, must be the page's own. */
  const trustedPeer = (req: IncomingMessage): boolean => {
    const host = req.headers.host ?? '';
    if (loopback && !allowedHosts.has(host)) return false;
    return req.headers.origin === undefined || req.headers.origin === `http://${host}`;
  };

  /** The request's URL, or undefined for one that does not parse (any client can send one: it must not throw). */
  function requestUrl(req: IncomingMessage): URL | undefined {
    try {
      return new URL(req.url ?? '/', origin);
    } catch {
      return undefined;
    }
  }

  async function serveStatic(res: ServerResponse, url: URL): Promise<void> {
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return send(res, 400, 'bad request: malformed URL');
    }
    const relative = pathname.replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(root, relative);
    if (file !== root && !file.startsWith(root + path.sep)) return send(res, 404, 'not found');
    const info = await stat(file).catch(() => undefined);
    const target = info?.isFile() ? file : path.join(root, 'index.html');
    const found = info?.isFile() || (await stat(target).then((s) => s.isFile(), () => false));
    if (!found) return send(res, 404, 'the renderer is not built: run npm run build');
    const headers: Record<string, string> = {
      'content-type': contentType(target),
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    };
    res.writeHead(200, headers);
    createReadStream(target).pipe(res);
  }

  async function serveCall(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!(CALL_NAMES as readonly string[]).includes(name)) return send(res, 404, 'unknown call');
    if (!isJsonRequest(req)) return send(res, 415, 'unsupported media type: API calls take an application/json body', undefined, { connection: 'close' });
    let body: string;
    try {
      body = await readBody(req, name === 'attachments.add' ? MAX_ATTACHMENT_BODY_BYTES : MAX_CALL_BODY_BYTES);
    } catch (err) {
      // The rest of the body is discarded as it arrives (never kept), so the client reads the
      // reply instead of a reset.
      if (err instanceof BodyTooLargeError) {
        req.resume();
        const reply = { ok: false, error: { code: 'bad_request', message: `${name}: ${err.message}` } };
        return send(res, 413, JSON.stringify(reply), 'application/json');
      }
      throw err;
    }
    let reply: unknown;
    try {
      const request = JSON.parse(body || '{}', decodeBytes) as unknown;
      if (typeof request !== 'object' || request === null || Array.isArray(request)) {
        return send(res, 200, JSON.stringify({ ok: false, error: { code: 'bad_request', message: 'the request must be a JSON object' } }), 'application/json');
      }
      reply = { ok: true, value: await backend.call(name as CallName, request as never) };
    } catch (err) {
      reply = { ok: false, error: backend.describeError(err) };
    }
    send(res, 200, toWire(reply), 'application/json');
  }

  /** An attachment: its capability `?k=` (an `<img>` sends no header) or the bearer token; only raster renditions. */
  async function serveFile(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sha256 = url.pathname.slice('/files/'.length);
    if (!/^[0-9a-f]{64}$/.test(sha256)) return send(res, 404, 'not found');
    if (!sameSecret(url.searchParams.get('k'), fileCapability(token, sha256)) && !bearerAuthorized(req, token)) {
      return send(res, 401, 'unauthorized: this attachment link is not valid for this server run');
    }
    const file = await backend.attachmentFile(sha256);
    if (!file) return send(res, 404, 'not found');
    res.writeHead(200, { ...ATTACHMENT_HEADERS, 'content-type': file.mime });
    if ('bytes' in file) res.end(file.bytes);
    else createReadStream(file.path).on('error', () => res.destroy()).pipe(res);
  }

  const server = createServer((req, res) => {
    const url = requestUrl(req);
    if (!url) return send(res, 400, 'bad request: malformed URL');
    if (!trustedPeer(req)) return send(res, 403, 'forbidden: unexpected Host or Origin');
    const unauthorized = () => send(res, 401, 'unauthorized: open the URL with ?token= that `omnifusion serve` printed');
    const handle = async (): Promise<void> => {
      if (url.pathname.startsWith('/api/')) {
        // The token only as a bearer header: never from the query string (logs, history, Referer).
        if (!bearerAuthorized(req, token)) return unauthorized();
        if (url.pathname.startsWith('/api/call/')) {
          if (req.method === 'POST') return serveCall(req, res, url.pathname.slice('/api/call/'.length));
          return send(res, 405, 'method not allowed: API calls are POST requests', undefined, { allow: 'POST' });
        }
        if (url.pathname === '/api/events') return send(res, 426, 'upgrade required: /api/events is a WebSocket', undefined, { upgrade: 'websocket', connection: 'Upgrade' });
        return send(res, 404, 'not found');
      }
      if (url.pathname.startsWith('/files/')) {
        if (req.method === 'GET' || req.method === 'HEAD') return serveFile(req, res, url);
        return send(res, 405, 'method not allowed', undefined, { allow: 'GET' });
      }
      if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(res, url);
      send(res, 405, 'method not allowed');
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    });
  });

  // A client's bad frame (unmasked, reserved bits, unknown opcode, invalid UTF-8, a bad close
  // code, an oversized message) is that socket's error: it is closed, the server goes on.
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_WS_PAYLOAD_BYTES, handleProtocols: chooseProtocol });
  sockets.on('error', () => {});
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => socket.destroy());
    const url = requestUrl(req);
    if (!url || url.pathname !== '/api/events' || !trustedPeer(req) || !upgradeAuthorized(req, token)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => subscribe(ws));
  });

  function subscribe(ws: WebSocket): void {
    ws.on('error', () => ws.terminate());
    // The page sends nothing on the event stream: any message is ignored.
    ws.on('message', () => {});
    const unsubscribe = EVENT_NAMES.map((event) =>
      backend.on(event, (payload) => {
        if (ws.readyState === ws.OPEN) ws.send(toWire({ event, payload }), (err) => err && ws.terminate());
      }),
    );
    ws.on('close', () => unsubscribe.forEach((off) => off()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, listenHost, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${host}:${address.port}`;
  allowedHosts = new Set([`${host}:${address.port}`, `localhost:${address.port}`]);
  return {
    url: `${origin}/?token=${token}`,
    origin,
    token,
    close: async () => {
      for (const ws of sockets.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
    },
  };
}
