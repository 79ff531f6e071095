/** Content hashes for model files: sha256 (LFS oid) and the git blob sha1 (the Hub's ETag of a non-LFS file). */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

const SHA256_RE = /^[0-9a-f]{64}$/;
const SHA1_RE = /^[0-9a-f]{40}$/;

/** Whether `s` is a lowercase hex sha256 (64 digits). */
export function isSha256(s: unknown): s is string {
  return typeof s === 'string' && SHA256_RE.test(s);
}

/** Whether `s` is a lowercase hex sha1 (40 digits), the form of a git object id. */
export function isSha1(s: unknown): s is string {
  return typeof s === 'string' && SHA1_RE.test(s);
}

/**
 * An HTTP ETag without its weak prefix and quotes, lowercased: `W/"abc"` → `abc`.
 * Returns undefined for a missing header.
 */
export function normalizeEtag(etag: string | null | undefined): string | undefined {
  if (!etag) return undefined;
  return etag.trim().replace(/^W\//i, '').replace(/^"+|"+$/g, '').toLowerCase() || undefined;
}

/**
 * Feed `hash` with bytes [start, end) of a file, streaming (64 KiB reads).
 * @param end exclusive; omit for the whole rest of the file.
 * @throws the fs error of a missing or unreadable file.
 */
export async function hashFileInto(hash: Hash, file: string, start = 0, end?: number, signal?: AbortSignal): Promise<void> {
  if (end !== undefined && end <= start) return;
  const stream = createReadStream(file, { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 16, signal });
  for await (const chunk of stream) hash.update(chunk as Buffer);
}

/** sha256 (lowercase hex) of a whole file, streaming. @throws fs errors. */
export async function sha256File(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(hash, file, 0, undefined, signal);
  return hash.digest('hex');
}

/**
 * The git blob id of a file: sha1("blob <size>\0" + content), lowercase hex. This is the
 * Hub's ETag for files stored in git rather than LFS (configs, tokenizers).
 * @param size the file's size in bytes (the header needs it before the content).
 */
export async function gitBlobSha1File(file: string, size: number, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha1');
  hash.update(`blob ${size}\0`);
  await hashFileInto(hash, file, 0, undefined, signal);
  return hash.digest('hex');
}

/** The git blob id of bytes in memory (see gitBlobSha1File). */
export function gitBlobSha1(content: Uint8Array): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}
