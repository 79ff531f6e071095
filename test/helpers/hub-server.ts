/**
 * A local stand-in for the Hugging Face Hub's file endpoints, on 127.0.0.1 (port 0), for
 * download tests without network:
 *
 * - `GET|HEAD /<owner>/<name>/resolve/<revision>/<path>`:
 *   - an LFS file → 302 to `/cdn/<sha256>` with `X-Linked-Size` (bytes) and `X-Linked-ETag`
 *     (`"<sha256>"`), as the Hub does;
 *   - a file in git → 200 with the bytes and `ETag: "<git blob sha1>"` (Range honoured too);
 *   - 404 (`X-Error-Code: EntryNotFound`) for an unknown repo, revision or path;
 *   - 401 (`X-Error-Code: GatedRepo`) for a gated repo without the right bearer token.
 * - `GET|HEAD /cdn/<sha256>`: the bytes, `Accept-Ranges: bytes`, `ETag`, `Range: bytes=a-[b]`
 *   → 206 + `Content-Range`, a range past the end → 416 `bytes *\/size`.
 *
 * Fault injection (by file path, each for a number of requests): cut the connection after N
 * bytes of a body, corrupt one byte of a body, answer 404, answer 500, ignore Range (200 with
 * the whole file); plus slow sending. Every request is logged with its Range header and the
 * body bytes sent.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HubFileSpec {
  repo: string;
  revision: string;
  /** Path in the repo (POSIX). */
  path: string;
  content: Buffer | string;
  /** Served through the CDN redirect with linked headers (default: larger than 1 kB). */
  lfs?: boolean;
}

export interface HubRequest {
  method: string;
  /** Path and query as requested. */
  url: string;
  kind: 'resolve' | 'cdn' | 'other';
  /** Repo path of the file the request is about, when known. */
  file?: string;
  range?: string;
  authorization?: string;
  status: number;
  /** Body bytes written to the socket for this request. */
  bytesSent: number;
}

interface StoredFile {
  repo: string;
  revision: string;
  path: string;
  content: Buffer;
  lfs: boolean;
  sha256: string;
  gitSha1: string;
}

interface Countdown {
  times: number;
}

export class HubServer {
  readonly requests: HubRequest[] = [];
  private readonly files = new Map<string, StoredFile>();
  private readonly bySha = new Map<string, StoredFile>();
  private readonly cuts = new Map<string, Countdown & { afterBytes: number }>();
  private readonly corruptions = new Map<string, Countdown & { offset?: number }>();
  private readonly notFounds = new Map<string, Countdown>();
  private readonly errors = new Map<string, Countdown & { status: number }>();
  private readonly rangeIgnored = new Map<string, Countdown>();
  private readonly gated = new Map<string, string | undefined>();
  private slow: { chunkBytes: number; delayMs: number } | undefined;
  private server!: http.Server;
  url = '';

  /** Start listening on 127.0.0.1 with a free port. */
  static async start(files: HubFileSpec[] = []): Promise<HubServer> {
    const hub = new HubServer();
    for (const f of files) hub.addFile(f);
    hub.server = http.createServer((req, res) => {
      hub.handle(req, res).catch((err) => {
        if (!res.headersSent) res.writeHead(500).end(String(err));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => hub.server.listen(0, '127.0.0.1', resolve));
    hub.url = `http://127.0.0.1:${(hub.server.address() as AddressInfo).port}`;
    return hub;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Add or replace a file. Returns its sha256 and git blob sha1. */
  addFile(spec: HubFileSpec): { sha256: string; gitSha1: string; size: number } {
    const content = Buffer.isBuffer(spec.content) ? spec.content : Buffer.from(spec.content);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const gitSha1 = createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
    const f: StoredFile = { repo: spec.repo, revision: spec.revision, path: spec.path, content, lfs: spec.lfs ?? content.length > 1024, sha256, gitSha1 };
    this.files.set(key(spec.repo, spec.revision, spec.path), f);
    this.bySha.set(sha256, f);
    return { sha256, gitSha1, size: content.length };
  }

  /** Send only `afterBytes` bytes of the next `times` bodies of `path`, then drop the connection. */
  cutAfter(path: string, afterBytes: number, times = 1): void {
    this.cuts.set(path, { afterBytes, times });
  }

  /** Flip one byte (at `offset` of the file, default its middle) in the next `times` bodies of `path`. */
  corrupt(path: string, times = 1, offset?: number): void {
    this.corruptions.set(path, { times, ...(offset !== undefined ? { offset } : {}) });
  }

  /** Answer 404 to the next `times` resolve requests of `path` (default: always). */
  notFound(path: string, times = Infinity): void {
    this.notFounds.set(path, { times });
  }

  /** Answer `status` (default 500) to the next `times` resolve requests of `path`. */
  fail(path: string, times: number, status = 500): void {
    this.errors.set(path, { times, status });
  }

  /** Ignore Range (answer 200 with the whole file) for the next `times` bodies of `path`. */
  ignoreRange(path: string, times = 1): void {
    this.rangeIgnored.set(path, { times });
  }

  /** Make `repo` gated: 401 unless `Authorization: Bearer <token>` (no token: always 401). */
  gate(repo: string, token?: string): void {
    this.gated.set(repo, token);
  }

  /** Send bodies in `chunkBytes` pieces with `delayMs` between them (undefined: full speed). */
  throttle(chunkBytes?: number, delayMs = 0): void {
    this.slow = chunkBytes === undefined ? undefined : { chunkBytes, delayMs };
  }

  /** The logged requests about `path` of one kind. */
  requestsFor(path: string, kind?: HubRequest['kind']): HubRequest[] {
    return this.requests.filter((r) => r.file === path && (kind === undefined || r.kind === kind));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rec: HubRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      kind: 'other',
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      status: 0,
      bytesSent: 0,
    };
    this.requests.push(rec);
    res.on('finish', () => (rec.status = res.statusCode));
    res.on('close', () => (rec.status ||= res.statusCode));
    const pathname = new URL(rec.url, 'http://x').pathname;
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(pathname);
    if (cdn) {
      rec.kind = 'cdn';
      const f = this.bySha.get(cdn[1]!);
      if (!f) return void res.writeHead(404).end();
      rec.file = f.path;
      return this.serveBytes(req, res, f, `"${f.sha256}"`, rec);
    }
    const m = /^\/([^/]+)\/([^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(pathname);
    if (!m) return void res.writeHead(404).end();
    rec.kind = 'resolve';
    const repo = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    const revision = decodeURIComponent(m[3]!);
    const filePath = m[4]!.split('/').map(decodeURIComponent).join('/');
    rec.file = filePath;
    if (this.gated.has(repo)) {
      const token = this.gated.get(repo);
      if (token === undefined || req.headers.authorization !== `Bearer ${token}`) {
        return void res.writeHead(401, { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access to this model is restricted.' }).end('gated');
      }
    }
    const err = this.errors.get(filePath);
    if (err && take(err)) return void res.writeHead(err.status).end('server error');
    const nf = this.notFounds.get(filePath);
    const f = this.files.get(key(repo, revision, filePath));
    if ((nf && take(nf)) || !f) {
      return void res.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-error-message': 'Entry not found' }).end('Entry not found');
    }
    if (f.lfs) {
      res.writeHead(302, {
        location: `${this.url}/cdn/${f.sha256}`,
        'x-linked-size': String(f.content.length),
        'x-linked-etag': `"${f.sha256}"`,
        etag: `W/"${f.gitSha1}"`,
        'x-repo-commit': revision,
        'content-length': '0',
      });
      return void res.end();
    }
    res.setHeader('x-repo-commit', revision);
    return this.serveBytes(req, res, f, `"${f.gitSha1}"`, rec);
  }

  private async serveBytes(req: http.IncomingMessage, res: http.ServerResponse, f: StoredFile, etag: string, rec: HubRequest): Promise<void> {
    const size = f.content.length;
    const base = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream' };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const ignore = this.rangeIgnored.get(f.path);
    const range = req.headers.range;
    if (range && !(ignore && take(ignore))) {
      const r = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
      if (r) {
        start = Number(r[1]);
        if (r[2]) end = Math.min(size - 1, Number(r[2]));
        if (start >= size || start > end) {
          return void res.writeHead(416, { ...base, 'content-range': `bytes */${size}` }).end();
        }
        status = 206;
      }
    }
    let body = f.content.subarray(start, end + 1);
    const corruption = this.corruptions.get(f.path);
    if (req.method !== 'HEAD' && corruption && take(corruption)) {
      const at = (corruption.offset ?? Math.floor(size / 2)) - start;
      if (at >= 0 && at < body.length) {
        body = Buffer.from(body);
        body[at] = body[at]! ^ 0xff;
      }
    }
    res.writeHead(status, {
      ...base,
      'content-length': String(body.length),
      ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const cut = this.cuts.get(f.path);
    if (cut && cut.afterBytes < body.length && take(cut)) {
      await this.send(res, body.subarray(0, cut.afterBytes), rec);
      // Let the bytes reach the client before the connection drops, as on a real network.
      await new Promise((resolve) => setTimeout(resolve, 30));
      await new Promise<void>((resolve) => res.socket?.end(resolve) ?? resolve());
      res.socket?.destroy();
      return;
    }
    await this.send(res, body, rec);
    res.end();
  }

  private async send(res: http.ServerResponse, body: Buffer, rec: HubRequest): Promise<void> {
    const step = this.slow?.chunkBytes ?? body.length;
    for (let i = 0; i < body.length; i += step) {
      if (res.destroyed) return;
      const piece = body.subarray(i, Math.min(body.length, i + step));
      const ok = res.write(piece);
      rec.bytesSent += piece.length;
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
      if (this.slow?.delayMs) await new Promise((resolve) => setTimeout(resolve, this.slow!.delayMs));
    }
  }
}

function key(repo: string, revision: string, path: string): string {
  return `${repo}@${revision}:${path}`;
}

function take(c: Countdown): boolean {
  if (c.times <= 0) return false;
  c.times--;
  return true;
}

/** Deterministic pseudo-random bytes (xorshift) of a given length, for test files. */
export function testBytes(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
