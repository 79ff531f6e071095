/**
 * Errors of the model catalog, downloads and installs.
 *
 * Messages are one line, fit to show the user as they are; `code` is for code.
 */

/** Why a model operation failed. Stable across releases. */
export type ModelErrorCode =
  /** The server answered 404 for a file (wrong path, revision or repository). */
  | 'not_found'
  /** The server answered 401/403: a gated or private repository. */
  | 'access_denied'
  /** Not enough free disk space (checked before any byte is written), or ENOSPC while writing. */
  | 'disk_full'
  /** A file's content did not match its expected sha256 / git hash, after one fresh retry. */
  | 'checksum_mismatch'
  /** Neither the catalog nor the server gave a checksum for a file, so it cannot be verified. */
  | 'unverifiable'
  /** The catalog and the server disagree on a file's size or sha256 at the pinned revision. */
  | 'hub_mismatch'
  /** Network errors (reset, timeout, DNS) persisted after every retry. */
  | 'network'
  /** An HTTP status the download cannot use (5xx after every retry, other 4xx, bad Content-Range). */
  | 'http'
  /** The caller's AbortSignal fired; downloaded bytes are kept for a later resume. */
  | 'cancelled'
  /** The model has no Hub download (e.g. OmniFusion is exported locally, then imported). */
  | 'no_download'
  /** Another pull or import of the same model is running. */
  | 'busy'
  /** The model is not installed (remove, lookup). */
  | 'not_installed'
  /** A folder to import is missing files or does not match what it is checked against. */
  | 'invalid_package'
  /** An argument is malformed (model id, dtype, path). */
  | 'invalid_argument';

/** A failed model operation; `message` is one line. */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly code: ModelErrorCode;
  /** Extra facts for callers (e.g. `neededBytes`/`freeBytes` for disk_full, `status` for http). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ModelErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(oneLine(message), options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = Object.freeze({ ...(options?.details ?? {}) });
  }
}

/** Collapse whitespace runs that contain a newline so a message stays on one line. */
export function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Bytes as a short human figure in decimal units, as the Hub lists them: 512 B, 94.2 MB, 1.87 GB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return String(bytes);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${units[unit]}`;
}
