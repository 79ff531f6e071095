/**
 * Talking to a Hugging Face Hub-like file server:
 * `<base>/<repo>/resolve/<revision>/<path>` answers a file in git directly (200, ETag = git blob
 * sha1) or, for an LFS/Xet file, redirects (302) to a CDN with `X-Linked-Size` (bytes) and
 * `X-Linked-ETag` (the content sha256) on the redirect itself. Redirects are followed by hand so
 * those headers are seen and the token never leaves the Hub's origin.
 */
import { ModelError } from './errors.js';
import { isSha1, isSha256, normalizeEtag } from './hash.js';
import { parseRetryAfter } from './retry.js';

export const DEFAULT_HUB_URL = 'https://huggingface.co';
const MAX_REDIRECTS = 10;

/** fetch, or a stand-in for tests. */
export type FetchFn = typeof fetch;

/** Where one file lives. */
export interface HubFileRef {
  baseUrl: string;
  repo: string;
  revision: string;
  path: string;
}

/** What the server said about a file. */
export interface HubFileMeta {
  /** Exact size (bytes): X-Linked-Size, else Content-Length of a full answer / total of Content-Range. */
  size?: number;
  /** Content sha256 from X-Linked-ETag (LFS/Xet files). */
  sha256?: string;
  /** Git blob sha1 from the ETag of a file served from git (no redirect to a CDN). */
  gitSha1?: string;
}

/** The resolve URL of a file: `<base>/<repo>/resolve/<revision>/<path>`, segments percent-encoded. */
export function resolveUrl(ref: HubFileRef): string {
  const base = ref.baseUrl.replace(/\/+$/, '');
  const enc = (s: string): string => s.split('/').map(encodeURIComponent).join('/');
  return `${base}/${enc(ref.repo)}/resolve/${encodeURIComponent(ref.revision)}/${enc(ref.path)}`;
}

/** An HTTP answer the download can retry (5xx, 408, 429). */
export class RetryableHttpError extends Error {
  override name = 'RetryableHttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/**
 * Turn a final non-success status into the error the user sees.
 * @throws ModelError not_found (404), access_denied (401/403), http (other 4xx);
 *   RetryableHttpError for 5xx/408/429.
 */
export function throwForStatus(res: Response, ref: HubFileRef): never {
  const where = `${ref.repo}@${ref.revision}`;
  const status = res.status;
  if (status === 404) {
    throw new ModelError('not_found', `${ref.path} not found in ${where}`, { details: { status, url: res.url } });
  }
  if (status === 401 || status === 403) {
    throw new ModelError(
      'access_denied',
      `the Hub refused access to ${ref.repo} (gated or private: accept the model's terms on its Hub page and set a token, or check the token; HTTP ${status})`,
      { details: { status } },
    );
  }
  if (status >= 500 || status === 408 || status === 429) {
    throw new RetryableHttpError(status, `HTTP ${status} for ${ref.path} from ${where}`, parseRetryAfter(res.headers.get('retry-after')));
  }
  throw new ModelError('http', `unexpected HTTP ${status} for ${ref.path} from ${where}`, { details: { status } });
}

/** A response after redirects, with the Hub's facts seen along the way. */
export interface HubResponse {
  res: Response;
  meta: HubFileMeta;
  /** Final URL (the CDN for LFS files). */
  url: string;
}

/**
 * Request a file, following up to 10 redirects by hand. `X-Linked-Size`/`X-Linked-ETag` are
 * read from the first response that carries them; the Authorization header is sent only to
 * the origin of `ref.baseUrl`. Bodies of redirects are discarded.
 * @param range first byte to ask for (`Range: bytes=<n>-`), or undefined for the whole file.
 * @throws ModelError / RetryableHttpError via throwForStatus for a final 4xx/5xx (except 416,
 *   which is returned for the caller to handle); fetch's own errors for network failures.
 */
export async function requestFile(
  ref: HubFileRef,
  init: { method: 'GET' | 'HEAD'; rangeStart?: number; token?: string; signal?: AbortSignal; fetch: FetchFn },
): Promise<HubResponse> {
  const origin = new URL(ref.baseUrl).origin;
  let url = resolveUrl(ref);
  const meta: HubFileMeta = {};
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (init.rangeStart !== undefined && init.rangeStart > 0) headers.range = `bytes=${init.rangeStart}-`;
    if (init.token && new URL(url).origin === origin) headers.authorization = `Bearer ${init.token}`;
    const res = await init.fetch(url, { method: init.method, headers, redirect: 'manual', signal: init.signal });
    readLinked(res, meta);
    if (res.status >= 300 && res.status < 400 && res.status !== 304) {
      // HEAD needs no CDN hop once the Hub has named the linked file's size and sha256.
      if (init.method === 'HEAD' && meta.size !== undefined && meta.sha256 !== undefined) return { res, meta, url };
      const location = res.headers.get('location');
      await res.body?.cancel().catch(() => {});
      if (!location) throw new ModelError('http', `HTTP ${res.status} without a Location for ${ref.path} from ${ref.repo}@${ref.revision}`);
      if (hop >= MAX_REDIRECTS) throw new ModelError('http', `too many redirects for ${ref.path} from ${ref.repo}@${ref.revision}`);
      url = new URL(location, url).toString();
      continue;
    }
    if (res.status === 416 || (res.status >= 200 && res.status < 300)) {
      // A file served from git (no X-Linked-ETag on the way): its ETag is the git blob sha1.
      if (meta.sha256 === undefined) {
        const etag = normalizeEtag(res.headers.get('etag'));
        if (isSha1(etag)) meta.gitSha1 = etag;
      }
      if (meta.size === undefined) {
        const size = sizeFromResponse(res);
        if (size !== undefined) meta.size = size;
      }
      return { res, meta, url };
    }
    await res.body?.cancel().catch(() => {});
    throwForStatus(res, ref);
  }
}

/**
 * Ask for a file's size and checksum without its bytes (HEAD, redirects by hand).
 * @throws as requestFile.
 */
export async function headFile(ref: HubFileRef, init: { token?: string; signal?: AbortSignal; fetch: FetchFn }): Promise<HubFileMeta> {
  const { res, meta } = await requestFile(ref, { method: 'HEAD', ...init });
  await res.body?.cancel().catch(() => {});
  return meta;
}

function readLinked(res: Response, meta: HubFileMeta): void {
  const linkedSize = res.headers.get('x-linked-size');
  if (meta.size === undefined && linkedSize !== null && /^\d+$/.test(linkedSize.trim())) meta.size = Number(linkedSize.trim());
  const linkedEtag = normalizeEtag(res.headers.get('x-linked-etag'));
  if (meta.sha256 === undefined && isSha256(linkedEtag)) meta.sha256 = linkedEtag;
}

/** The full size a response speaks of: total of Content-Range (206/416), else Content-Length of a 200. */
export function sizeFromResponse(res: Response): number | undefined {
  const range = parseContentRange(res.headers.get('content-range'));
  if (range?.total !== undefined) return range.total;
  if (res.status === 200) {
    const length = res.headers.get('content-length');
    if (length !== null && /^\d+$/.test(length.trim())) return Number(length.trim());
  }
  return undefined;
}

/** `bytes a-b/total` or `bytes *\/total` → parts; undefined when absent or unreadable. */
export function parseContentRange(value: string | null): { start?: number; end?: number; total?: number } | undefined {
  if (!value) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return undefined;
  return {
    ...(m[1] !== undefined ? { start: Number(m[1]), end: Number(m[2]) } : {}),
    ...(m[3] !== '*' ? { total: Number(m[3]) } : {}),
  };
}
