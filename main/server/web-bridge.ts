/**
 * `omnifusion serve`: the built renderer and the typed API over HTTP + WebSocket, so the same UI
 * runs in any browser (end-to-end tests drive it in headless Chromium). Loopback by default; a
 * per-run token is required on every request (given once in the URL, then an HttpOnly cookie);
 * Host and Origin are checked against the server's own address (DNS rebinding, cross-site calls).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { CALL_NAMES, EVENT_NAMES, type ApiErrorPayload, type CallName, type OmniFusionApi } from '../api/contract.js';
import { decodeBytes, encodeBytes } from './wire.js';

/** What the bridge needs besides the API: where an attachment's bytes are. */
export interface BridgeBackend extends OmniFusionApi {
  attachmentFile(sha256: string): Promise<{ path: string; mime: string } | undefined>;
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
}

/** A running server: its URL with the token, and how to stop it. */
export interface WebBridge {
  url: string;
  origin: string;
  token: string;
  close(): Promise<void>;
}

const COOKIE = 'omnifusion_token';
/** Largest request body: an image attachment base64-encoded (the image decoder itself caps files at 200 MiB). */
const MAX_BODY_BYTES = 96 * 1024 * 1024;

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

/** The same policy as the Electron window, plus WebSocket connections to this origin. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; " +
  "font-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return value.join('=');
  }
  return undefined;
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...headers });
  res.end(body);
}

/** A request body over MAX_BODY_BYTES (answered 413). */
class BodyTooLargeError extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLargeError(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Start the web bridge.
 * @throws the listen error (e.g. EADDRINUSE) if the port cannot be bound.
 */
export async function startWebBridge(options: WebBridgeOptions): Promise<WebBridge> {
  const { backend, staticDir } = options;
  const token = options.token ?? randomBytes(32).toString('base64url');
  const root = path.resolve(staticDir);
  let origin = '';
  let allowedHosts = new Set<string>();

  const authorized = (req: IncomingMessage, url: URL): boolean =>
    sameToken(cookieToken(req), token) ||
    sameToken(req.headers.authorization?.replace(/^Bearer /, ''), token) ||
    sameToken(url.searchParams.get('token') ?? undefined, token);

  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(options.host ?? '127.0.0.1');
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

  async function serveStatic(res: ServerResponse, url: URL, setCookie: boolean): Promise<void> {
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
      'content-type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    };
    if (setCookie) headers['set-cookie'] = `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(200, headers);
    createReadStream(target).pipe(res);
  }

  async function serveCall(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    if (!(CALL_NAMES as readonly string[]).includes(name)) return send(res, 404, 'unknown call');
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      // The rest of the body is not read: the connection cannot be reused, so it is closed.
      if (err instanceof BodyTooLargeError) return send(res, 413, `payload too large: ${err.message}`, undefined, { connection: 'close' });
      throw err;
    }
    let reply: unknown;
    try {
      const request = JSON.parse(body || '{}', decodeBytes) as never;
      reply = { ok: true, value: await backend.call(name as CallName, request) };
    } catch (err) {
      reply = { ok: false, error: backend.describeError(err) };
    }
    send(res, 200, JSON.stringify(reply, encodeBytes), 'application/json');
  }

  async function serveFile(res: ServerResponse, sha256: string): Promise<void> {
    const file = /^[0-9a-f]{64}$/.test(sha256) ? await backend.attachmentFile(sha256) : undefined;
    if (!file) return send(res, 404, 'not found');
    res.writeHead(200, { 'content-type': file.mime, 'cache-control': 'private, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' });
    createReadStream(file.path).pipe(res);
  }

  const server = createServer((req, res) => {
    const url = requestUrl(req);
    if (!url) return send(res, 400, 'bad request: malformed URL');
    if (!trustedPeer(req)) return send(res, 403, 'forbidden: unexpected Host or Origin');
    if (!authorized(req, url)) return send(res, 401, 'unauthorized: open the URL with ?token= that `omnifusion serve` printed');
    const handle = async (): Promise<void> => {
      if (req.method === 'POST' && url.pathname.startsWith('/api/call/')) return serveCall(req, res, url.pathname.slice('/api/call/'.length));
      if (req.method === 'GET' && url.pathname.startsWith('/files/')) return serveFile(res, url.pathname.slice('/files/'.length));
      if (req.method === 'GET' || req.method === 'HEAD') return serveStatic(res, url, url.searchParams.has('token'));
      send(res, 405, 'method not allowed');
    };
    handle().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, `internal error: ${(err as Error).message}`);
      else res.destroy();
    });
  });

  const sockets = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = requestUrl(req);
    if (!url || url.pathname !== '/api/events' || !trustedPeer(req) || !authorized(req, url)) {
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => subscribe(ws));
  });

  function subscribe(ws: WebSocket): void {
    const unsubscribe = EVENT_NAMES.map((event) =>
      backend.on(event, (payload) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }, encodeBytes));
      }),
    );
    ws.on('close', () => unsubscribe.forEach((off) => off()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
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
