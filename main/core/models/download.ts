/**
 * Pulling a catalog model from a Hub-like server into the models folder.
 *
 * Files go to `<modelsDir>/.partial/<id>/` and are fetched at the catalog's pinned revision
 * from `<base>/<repo>/resolve/<revision>/<path>`. An interrupted transfer resumes with
 * `Range: bytes=<n>-` (a 206 appends, a 200 starts the file over); every file is hashed while it
 * streams and checked against the catalog's sha256, else the Hub's X-Linked-ETag (LFS/Xet), else
 * the git blob sha1 of its ETag (files in git); a mismatch deletes the file and fetches it once
 * more, then fails. Network errors, stalls and 5xx/408/429 are retried with exponential backoff.
 * Free space is checked before any byte is written. Only when every file is verified is the
 * folder moved to `<modelsDir>/<id>/` and `installed.json` written, last.
 */
import { createHash, type Hash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { CatalogError, filesFor, type CatalogFile, type CatalogModel, type Dtype } from './catalog.js';
import { ensureFreeSpace, type StatfsFn } from './disk.js';
import { ModelError, formatBytes } from './errors.js';
import { gitBlobSha1File, hashFileInto } from './hash.js';
import { DEFAULT_HUB_URL, RetryableHttpError, headFile, parseContentRange, requestFile, type FetchFn, type HubFileMeta, type HubFileRef } from './hub.js';
import { acquireLock, installStaged, modelDir, partialDir, readInstalled, MARKER_FILE, type InstalledMarker, type InstalledModel } from './install.js';
import { ProgressMeter, type PullProgress } from './progress.js';
import { DEFAULT_RETRY, backoffDelay, defaultSleep, type RetryOptions, type SleepFn } from './retry.js';

/** Name of the resume state file inside `.partial/<id>/`. */
export const PULL_STATE_FILE = '.pull.json';

/** Options of pullModel. Times in milliseconds, sizes in bytes. */
export interface PullOptions {
  /** Folder holding installed models (created if missing). */
  modelsDir: string;
  /** Weight format to fetch (default: the model's `defaultDtype.cpu`). */
  dtype?: Dtype;
  /** Hub base URL (default https://huggingface.co); files come from `<base>/<repo>/resolve/<revision>/<path>`. */
  baseUrl?: string;
  /** Hub access token for gated/private repositories; sent only to `baseUrl`'s origin. */
  token?: string;
  /** Cancels the pull; bytes already downloaded stay in `.partial/<id>/` for a later resume. */
  signal?: AbortSignal;
  /** Progress events (bytes done/total, rate, ETA), throttled to one per `progressIntervalMs`. */
  onProgress?: (p: PullProgress) => void;
  /** Minimum time between progress events (ms, default 250). */
  progressIntervalMs?: number;
  /** Retries of network errors, stalls and 5xx/408/429 (default 5 retries, 500 ms doubling, 30 s cap). */
  retry?: RetryOptions;
  /** A transfer that receives no byte for this long is dropped and retried (ms, default 60 000). */
  stallTimeoutMs?: number;
  /** Bytes to keep free beyond the download (default 0). */
  diskMarginBytes?: number;
  /** Injectable for tests: backoff sleep, jitter source (0..1), fs.statfs, fetch, clock (ms). */
  sleep?: SleepFn;
  random?: () => number;
  statfs?: StatfsFn;
  fetch?: FetchFn;
  now?: () => number;
}

/** An installed model, and whether it was already installed before this pull. */
export interface PullResult extends InstalledModel {
  alreadyInstalled: boolean;
}

interface PullState {
  repo: string;
  revision: string;
  dtype: string;
  /** Files already verified in this partial folder: size and content sha256. */
  verified: Record<string, { bytes: number; sha256: string }>;
}

interface PlannedFile {
  file: CatalogFile;
  ref: HubFileRef;
  /** Exact size when known (catalog, else a HEAD). */
  size?: number;
  /** What the server said (HEAD at planning, then the GET's headers). */
  meta: HubFileMeta;
}

interface Ctx {
  model: CatalogModel;
  options: PullOptions;
  retry: Required<RetryOptions>;
  sleep: SleepFn;
  random: () => number;
  fetch: FetchFn;
  meter: ProgressMeter;
  staging: string;
}

/**
 * Download, verify and install a catalog model (see the module comment for the steps).
 * A model already installed from the same repository, revision and dtype is returned as is.
 *
 * @throws ModelError with a one-line message:
 *   - no_download: the model has no Hub source (OmniFusion: export, then import);
 *   - not_found: "<file> not found in <repo>@<rev>" (HTTP 404);
 *   - access_denied: "the Hub refused access to <repo> (gated or private: …)" (HTTP 401/403);
 *   - disk_full: "not enough free disk space in <dir> for …: need X, Y free" — before any byte
 *     is written (and before any request when the catalog has every size);
 *   - checksum_mismatch: a file failed verification twice (the bad copy is deleted);
 *   - unverifiable: no sha256 from the catalog and no X-Linked-ETag / git ETag from the server;
 *   - hub_mismatch: the catalog's size or sha256 differs from the server's at the pinned revision;
 *   - network / http: errors that persisted through every retry, or an unusable answer;
 *   - cancelled: `signal` fired (downloaded bytes are kept for resume);
 *   - busy: another pull or import of the same model is running;
 *   - invalid_argument: the model lacks the requested dtype.
 */
export async function pullModel(model: CatalogModel, options: PullOptions): Promise<PullResult> {
  if (model.source.kind !== 'hub') {
    throw new ModelError('no_download', `${model.name} has no Hub download: export it (${model.source.exporter}) and import the folder`);
  }
  const source = model.source;
  const dtype = options.dtype ?? model.defaultDtype.cpu;
  let files: CatalogFile[];
  try {
    files = filesFor(model, dtype);
  } catch (err) {
    if (err instanceof CatalogError) throw new ModelError('invalid_argument', err.message);
    throw err;
  }
  const baseUrl = options.baseUrl ?? DEFAULT_HUB_URL;
  const modelsDir = path.resolve(options.modelsDir);

  const existing = await readInstalled(modelsDir, model.id);
  if (existing && isSameInstall(existing.marker, source.repo, source.revision, dtype, files)) {
    return { ...existing, alreadyInstalled: true };
  }

  const staging = partialDir(modelsDir, model.id);
  const ctx: Ctx = {
    model,
    options,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    sleep: options.sleep ?? defaultSleep,
    random: options.random ?? Math.random,
    fetch: options.fetch ?? fetch,
    meter: new ProgressMeter(model.id, files.length, options.onProgress, options.progressIntervalMs ?? 250, options.now),
    staging,
  };
  throwIfCancelled(ctx);

  // Plan: sizes (HEAD only for files the catalog gives no size for), bytes already on disk.
  ctx.meter.phase('resolving');
  // Bytes already here from an earlier run: the partial folder if it belongs to this revision,
  // or an install that stopped before its marker. Nothing is changed before the lock is held.
  const previous = await readState(staging);
  const stale = previous !== undefined && !stateMatches(previous, source.repo, source.revision);
  const resumeDir = (await isDir(staging)) ? (stale ? undefined : staging) : (await unfinishedInstall(modelsDir, model.id)) ? modelDir(modelsDir, model.id) : undefined;
  const planned: PlannedFile[] = [];
  for (const file of files) {
    const ref: HubFileRef = { baseUrl, repo: source.repo, revision: source.revision, path: file.path };
    const p: PlannedFile = { file, ref, meta: {}, ...(file.bytes !== undefined ? { size: file.bytes } : {}) };
    if (p.size === undefined) {
      p.meta = await withRetries(ctx, `checking ${file.path}`, () => headFile(ref, { token: options.token, signal: options.signal, fetch: ctx.fetch }));
      checkAgainstCatalog(file, p.meta, ref);
      if (p.meta.size !== undefined) p.size = p.meta.size;
    }
    planned.push(p);
  }
  const have = new Map<string, number>();
  for (const p of planned) {
    const onDisk = resumeDir ? await fileSize(path.join(resumeDir, p.file.path)) : 0;
    have.set(p.file.path, p.size !== undefined && onDisk > p.size ? 0 : onDisk);
  }
  const total = planned.reduce((sum, p) => sum + (p.size ?? 0), 0);
  const already = [...have.values()].reduce((a, b) => a + b, 0);
  await ensureFreeSpace(modelsDir, Math.max(0, total - already), `${model.name} (${dtype})`, {
    statfs: options.statfs,
    marginBytes: options.diskMarginBytes ?? 0,
  });

  const release = await acquireLock(modelsDir, model.id);
  try {
    let state = await readState(staging);
    if (state === undefined ? await isDir(staging) && (await stat(path.join(staging, PULL_STATE_FILE)).then(() => true, () => false)) : !stateMatches(state, source.repo, source.revision)) {
      // Bytes of another revision (or an unreadable state) cannot be resumed.
      await rm(staging, { recursive: true, force: true });
      state = undefined;
    }
    if (!(await isDir(staging)) && (await unfinishedInstall(modelsDir, model.id))) {
      await mkdir(path.dirname(staging), { recursive: true });
      await rename(modelDir(modelsDir, model.id), staging);
    }
    await mkdir(staging, { recursive: true });
    const st: PullState = state ?? { repo: source.repo, revision: source.revision, dtype, verified: {} };
    await writeState(staging, st);
    ctx.meter.start(total, already);

    const results: InstalledMarker['files'] = {};
    for (const [i, p] of planned.entries()) {
      const dest = path.join(staging, p.file.path);
      const known = st.verified[p.file.path];
      if (known && (await fileSize(dest)) === known.bytes && (p.size === undefined || p.size === known.bytes) && (!p.file.sha256 || p.file.sha256 === known.sha256)) {
        results[p.file.path] = known;
        continue;
      }
      ctx.meter.phase('downloading', p.file.path, i);
      const verified = await fetchVerified(ctx, p, dest);
      results[p.file.path] = verified;
      st.verified[p.file.path] = verified;
      await writeState(staging, st);
    }

    throwIfCancelled(ctx);
    ctx.meter.phase('installing');
    await unlink(path.join(staging, PULL_STATE_FILE)).catch(() => {});
    const marker: InstalledMarker = {
      format: 'omnifusion-installed-model',
      format_version: 1,
      id: model.id,
      name: model.name,
      family: model.family,
      dtype,
      source: { kind: 'hub', baseUrl, repo: source.repo, revision: source.revision },
      files: results,
      installedAt: new Date().toISOString(),
    };
    const installed = await installStaged(modelsDir, staging, marker);
    ctx.meter.phase('done');
    return { ...installed, alreadyInstalled: false };
  } finally {
    await release();
  }
}

function isSameInstall(marker: InstalledMarker, repo: string, revision: string, dtype: string, files: CatalogFile[]): boolean {
  if (marker.source.kind !== 'hub' || marker.source.repo !== repo || marker.source.revision !== revision || marker.dtype !== dtype) return false;
  return files.every((f) => {
    const m = marker.files[f.path];
    return m !== undefined && (f.bytes === undefined || f.bytes === m.bytes) && (f.sha256 === undefined || f.sha256 === m.sha256);
  });
}

/**
 * Whether `<modelsDir>/<id>` is an install that stopped between the move and the marker: a
 * folder with no `installed.json` at all. Its files can be taken back as the partial download
 * (they are verified again). A folder whose marker exists is left alone.
 */
async function unfinishedInstall(modelsDir: string, id: string): Promise<boolean> {
  const dir = modelDir(modelsDir, id);
  if (!(await isDir(dir))) return false;
  return !(await stat(path.join(dir, MARKER_FILE)).then(() => true, () => false));
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

/** The resume state of a partial folder; undefined when there is none or it is unreadable. */
async function readState(staging: string): Promise<PullState | undefined> {
  const text = await readFile(path.join(staging, PULL_STATE_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const state = JSON.parse(text) as PullState;
    return typeof state === 'object' && state !== null && typeof state.verified === 'object' && state.verified !== null ? state : undefined;
  } catch {
    return undefined;
  }
}

function stateMatches(state: PullState, repo: string, revision: string): boolean {
  return state.repo === repo && state.revision === revision;
}

async function writeState(staging: string, state: PullState): Promise<void> {
  const file = path.join(staging, PULL_STATE_FILE);
  await writeFile(`${file}.tmp`, JSON.stringify(state));
  await rename(`${file}.tmp`, file);
}

async function fileSize(file: string): Promise<number> {
  return stat(file).then((s) => (s.isFile() ? s.size : 0), () => 0);
}

function throwIfCancelled(ctx: Ctx): void {
  if (ctx.options.signal?.aborted) {
    throw new ModelError('cancelled', `download of ${ctx.model.id} cancelled; downloaded data is kept for resume`, { cause: ctx.options.signal.reason });
  }
}

/** @throws ModelError hub_mismatch when the server's size or sha256 contradicts the catalog's. */
function checkAgainstCatalog(file: CatalogFile, meta: HubFileMeta, ref: HubFileRef): void {
  const where = `${ref.repo}@${ref.revision}`;
  if (file.sha256 && meta.sha256 && file.sha256 !== meta.sha256) {
    throw new ModelError('hub_mismatch', `the catalog says ${file.path} has sha256 ${file.sha256}, the Hub says ${meta.sha256} at ${where}`);
  }
  if (file.bytes !== undefined && meta.size !== undefined && file.bytes !== meta.size) {
    throw new ModelError('hub_mismatch', `the catalog says ${file.path} is ${file.bytes} bytes, the Hub says ${meta.size} at ${where}`);
  }
}

/**
 * Run `op` with bounded retries of retryable failures (network errors, 5xx/408/429).
 * @throws ModelError cancelled / network / http, or op's ModelError.
 */
async function withRetries<T>(ctx: Ctx, what: string, op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      throwIfCancelled(ctx);
      if (err instanceof ModelError) throw err;
      if (!isRetryable(err)) throw err;
      if (attempt >= ctx.retry.retries) throw retriesExhausted(ctx, what, err);
      await sleepOrCancel(ctx, backoffDelay(attempt, ctx.retry, ctx.random, (err as RetryableHttpError).retryAfterMs));
    }
  }
}

async function sleepOrCancel(ctx: Ctx, ms: number): Promise<void> {
  try {
    await ctx.sleep(ms, ctx.options.signal);
  } catch (err) {
    throwIfCancelled(ctx);
    throw err;
  }
}

function retriesExhausted(ctx: Ctx, what: string, err: unknown): ModelError {
  const n = ctx.retry.retries;
  if (err instanceof RetryableHttpError) {
    return new ModelError('http', `${err.message} (gave up ${what} after ${n} retries)`, { cause: err, details: { status: err.status } });
  }
  return new ModelError('network', `network error ${what} for ${ctx.model.id}: ${describe(err)} (gave up after ${n} retries; what was downloaded is kept, and downloading again resumes from there)`, { cause: err });
}

/** Errors worth another attempt: HTTP 5xx/408/429, and anything fetch or the body stream throws. */
function isRetryable(err: unknown): boolean {
  if (err instanceof RetryableHttpError || err instanceof StallError) return true;
  if (err instanceof ModelError || err instanceof WriteError) return false;
  return err instanceof Error;
}

function describe(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string; code?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return `${e?.message ?? String(err)}${cause ? ` (${cause})` : ''}`.replace(/\s+/g, ' ');
}

/**
 * The chunks of a response body; a fired `signal` ends the wait for the next chunk at once
 * (rejecting with its reason) and cancels the stream, even if the stream itself ignores it.
 */
async function* readBody(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (;;) {
      const { value, done } = await Promise.race([reader.read(), aborted]);
      if (done) return;
      if (value && value.length > 0) yield value;
    }
  } finally {
    signal.removeEventListener('abort', onAbort!);
    reader.cancel().catch(() => {});
  }
}

class StallError extends Error {
  override name = 'StallError';
}

/** An fs error while writing the download (never retried). */
class WriteError extends Error {
  override name = 'WriteError';
}

/**
 * Transfer one file (resuming what is on disk) and verify it; on a checksum mismatch delete it
 * and transfer it once more.
 */
async function fetchVerified(ctx: Ctx, p: PlannedFile, dest: string): Promise<{ bytes: number; sha256: string }> {
  await mkdir(path.dirname(dest), { recursive: true });
  const where = `${p.ref.repo}@${p.ref.revision}`;
  for (let round = 0; ; round++) {
    const got = await transfer(ctx, p, dest);
    checkAgainstCatalog(p.file, p.meta, p.ref);
    let ok: boolean;
    let expected: string;
    const sha = p.file.sha256 ?? p.meta.sha256;
    if (sha) {
      expected = `sha256 ${sha}`;
      ok = got.sha256 === sha;
    } else if (p.meta.gitSha1) {
      expected = `git blob ${p.meta.gitSha1}`;
      ok = (await gitBlobSha1File(dest, got.bytes)) === p.meta.gitSha1;
    } else {
      await unlink(dest).catch(() => {});
      throw new ModelError('unverifiable', `${p.file.path} from ${where} came with no checksum (none in the catalog, no X-Linked-ETag or git ETag from the server); not installed`);
    }
    if (ok) return got;
    await unlink(dest).catch(() => {});
    ctx.meter.redo(got.bytes);
    if (round >= 1) {
      throw new ModelError('checksum_mismatch', `${p.file.path} from ${where} failed verification twice (expected ${expected}, got sha256 ${got.sha256}); the download was deleted`, {
        details: { file: p.file.path },
      });
    }
  }
}

/**
 * Bring `dest` to the file's full content: resume from its current size with a Range request,
 * retrying network errors, stalls and 5xx with backoff (the retry budget counts consecutive
 * failures that brought no new byte). The sha256 is computed while the bytes stream (the bytes
 * already on disk are hashed first).
 */
async function transfer(ctx: Ctx, p: PlannedFile, dest: string): Promise<{ bytes: number; sha256: string }> {
  const { options } = ctx;
  const where = `${p.ref.repo}@${p.ref.revision}`;
  let hash: Hash = createHash('sha256');
  let hashed = 0;
  let failures = 0;
  let attempts = 0;
  const restart = async (discarded: number): Promise<void> => {
    await truncate(dest, 0).catch(() => {});
    ctx.meter.redo(discarded);
    hash = createHash('sha256');
    hashed = 0;
  };

  for (;;) {
    throwIfCancelled(ctx);
    let start = await fileSize(dest);
    if (p.size !== undefined && start > p.size) {
      await restart(0);
      start = 0;
    }
    if (hashed !== start) {
      hash = createHash('sha256');
      await hashFileInto(hash, dest, 0, start, options.signal);
      hashed = start;
    }
    if (p.size !== undefined && start === p.size && start > 0) {
      // Complete on disk (an earlier run): verify without a transfer.
      if (!p.file.sha256 && !p.meta.sha256 && !p.meta.gitSha1) {
        p.meta = { ...(await withRetries(ctx, `checking ${p.file.path}`, () => headFile(p.ref, { token: options.token, signal: options.signal, fetch: ctx.fetch }))), ...p.meta };
      }
      return { bytes: start, sha256: hash.digest('hex') };
    }

    const attemptCtl = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, attemptCtl.signal]) : attemptCtl.signal;
    const stallMs = options.stallTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => attemptCtl.abort(new StallError(`no data for ${stallMs} ms`)), stallMs);
    };
    let progressed = false;
    let fh: FileHandle | undefined;
    try {
      arm();
      const { res, meta } = await requestFile(p.ref, { method: 'GET', rangeStart: start, token: options.token, signal, fetch: ctx.fetch });
      p.meta = { ...meta, ...p.meta };
      checkAgainstCatalog(p.file, meta, p.ref);
      if (p.size === undefined && meta.size !== undefined) {
        p.size = meta.size;
        ctx.meter.grow(meta.size - start);
      }
      if (res.status === 416) {
        await res.body?.cancel().catch(() => {});
        const total = parseContentRange(res.headers.get('content-range'))?.total;
        if (total !== undefined && total === start) {
          p.size ??= total;
          return { bytes: start, sha256: hash.digest('hex') };
        }
        await restart(start); // the server does not have the bytes we hold: start over
        continue;
      }
      let pos: number;
      if (res.status === 206) {
        const cr = parseContentRange(res.headers.get('content-range'));
        if (cr?.start !== start) {
          await res.body?.cancel().catch(() => {});
          throw new ModelError('http', `the server answered ${p.file.path} from ${where} with Content-Range "${res.headers.get('content-range')}" to Range bytes=${start}-`);
        }
        pos = start;
      } else if (res.status === 200) {
        if (start > 0) await restart(start); // Range ignored: the whole file comes again
        pos = 0;
      } else {
        await res.body?.cancel().catch(() => {});
        throw new ModelError('http', `unexpected HTTP ${res.status} for ${p.file.path} from ${where}`);
      }
      if (!res.body) throw new Error('response without a body');
      fh = await open(dest, pos === 0 ? 'w' : 'r+');
      for await (const chunk of readBody(res.body, signal)) {
        if (p.size !== undefined && pos + chunk.length > p.size) {
          throw new ModelError('http', `the server sent more than the ${p.size} bytes of ${p.file.path} from ${where}`);
        }
        try {
          await fh.write(chunk, 0, chunk.length, pos);
        } catch (err) {
          throw new WriteError((err as Error).message, { cause: err });
        }
        pos += chunk.length;
        hash.update(chunk);
        hashed = pos;
        progressed = true;
        ctx.meter.add(chunk.length);
        arm();
      }
      await fh.close();
      fh = undefined;
      if (p.size !== undefined && pos < p.size) throw new Error(`connection closed after ${pos} of ${p.size} bytes`);
      p.size ??= pos;
      return { bytes: pos, sha256: hash.digest('hex') };
    } catch (err) {
      throwIfCancelled(ctx);
      const reason = attemptCtl.signal.aborted ? (attemptCtl.signal.reason as Error) : err;
      if (reason instanceof WriteError) {
        const code = ((reason.cause as NodeJS.ErrnoException | undefined)?.code ?? '') as string;
        if (code === 'ENOSPC') {
          throw new ModelError('disk_full', `the disk became full while writing ${p.file.path} into ${ctx.staging} (downloaded data is kept; free ${formatBytes((p.size ?? 0) - hashed)} and pull again)`, { cause: reason });
        }
        throw reason.cause ?? reason;
      }
      if (!isRetryable(reason)) throw reason;
      failures = progressed ? 0 : failures + 1;
      attempts++;
      if (failures > ctx.retry.retries || attempts > 100 + ctx.retry.retries) throw retriesExhausted(ctx, `downloading ${p.file.path}`, reason);
      await sleepOrCancel(ctx, backoffDelay(Math.max(0, failures - 1), ctx.retry, ctx.random, (reason as RetryableHttpError).retryAfterMs));
    } finally {
      clearTimeout(timer);
      await fh?.close().catch(() => {});
    }
  }
}
