/**
 * One OmniFusion process per data folder: `omnifusion serve` and the desktop app take an exclusive
 * lock on the folder before they open its history database and settings, so two of them never
 * write the same state at once.
 *
 * The lock is proper-lockfile's (a `omnifusion.lock` folder made atomically with mkdir, its mtime
 * refreshed while held, released on exit): it works on local and network file systems. The
 * holder's process id and host are written beside it (`omnifusion.lock.pid`) for the message a
 * second process gets. A lock left by a process that was killed (kill -9, power loss) stops being
 * refreshed and is taken over once it is stale; a second process that sees such a lock whose
 * holder is gone waits for that instead of refusing.
 */
import { readFile, writeFile, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FS_REASONS } from '../fs-reasons.js';
import { StoreError } from './errors.js';

/** The lock folder proper-lockfile creates inside the data folder. */
export const LOCK_NAME = 'omnifusion.lock';
/** Who holds the lock: `{"pid": N, "host": "..."}`, written after it is taken. */
export const LOCK_PID_FILE = 'omnifusion.lock.pid';

/** Options of lockDataDir. */
export interface DataLockOptions {
  /**
   * Milliseconds after its last refresh that a lock counts as left behind (default 10 000; at
   * least 2000). The holder refreshes it every half of that.
   */
  staleMs?: number;
  /** Told when the lock was lost while held (its folder removed, or not refreshed in time: a long sleep). */
  onLost?: (message: string) => void;
  /** Told once when the lock was left by a process that is gone and is waited for until it is stale. */
  onWait?: (message: string) => void;
}

/** A held data-folder lock. */
export interface DataLock {
  /** Release the lock (idempotent). */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
}

async function readHolder(dataDir: string): Promise<Holder | undefined> {
  try {
    const h = JSON.parse(await readFile(path.join(dataDir, LOCK_PID_FILE), 'utf8')) as Partial<Holder>;
    if (Number.isSafeInteger(h.pid) && (h.pid as number) > 0 && typeof h.host === 'string') return h as Holder;
  } catch {
    // Not written yet (the holder is just starting), or damaged: unknown holder.
  }
  return undefined;
}

/** Whether the holder process is certainly gone: only knowable on this host. */
function holderGone(holder: Holder | undefined): boolean {
  if (!holder || holder.host !== os.hostname()) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function lockedError(dataDir: string, holder: Holder | undefined): StoreError {
  const who = holder ? `pid ${holder.pid}${holder.host !== os.hostname() ? ` on ${holder.host}` : ''}` : 'pid unknown';
  return new StoreError('locked', `${dataDir} is already used by another OmniFusion process (${who}); stop it first, or use another data folder`);
}

/** File-system errors that mean the data folder cannot be used, in words. */
const UNUSABLE: Readonly<Record<string, string>> = {
  ...FS_REASONS,
  ENOENT: 'files cannot be created in it',
  EINVAL: 'files cannot be created in it',
};

/** A file-system error of the data folder as a one-line StoreError (`cannot use DIR: reason`); others as they are. */
function unusable(dir: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ? UNUSABLE[code] : undefined;
  if (!reason) return err;
  return new StoreError('invalid_argument', `cannot use ${dir}: ${reason} (${code})`, { cause: err });
}

/**
 * Take the exclusive lock of `dataDir` (created if missing).
 * @throws StoreError('locked') naming the process that holds it; StoreError('invalid_argument')
 * `cannot use DIR: …` when the folder cannot be created or written (a file, /proc, read-only).
 */
export async function lockDataDir(dataDir: string, options: DataLockOptions = {}): Promise<DataLock> {
  if (!dataDir.trim()) throw new StoreError('invalid_argument', 'the data folder path is empty');
  const dir = path.resolve(dataDir);
  try {
    return await takeLock(dir, options);
  } catch (err) {
    throw unusable(dir, err);
  }
}

async function takeLock(dir: string, options: DataLockOptions): Promise<DataLock> {
  await mkdir(dir, { recursive: true });
  // Loaded here, not at the top: proper-lockfile hooks process exit (signal-exit) when it loads,
  // which only the commands that hold a data folder need.
  const lockfile = (await import('proper-lockfile')).default;
  const stale = Math.max(2000, options.staleMs ?? 10_000);
  const lockOptions = {
    stale,
    realpath: false,
    lockfilePath: path.join(dir, LOCK_NAME),
    onCompromised: (err: Error) => {
      options.onLost?.(`the lock on ${dir} was lost (${err.message}); another OmniFusion process may now use the same data folder`);
    },
  };
  // A lock whose holder is gone is stale at most `stale` ms after its last refresh.
  const deadline = Date.now() + stale + 2000;
  let release: () => Promise<void>;
  let told = false;
  for (;;) {
    try {
      release = await lockfile.lock(dir, lockOptions);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
      const holder = await readHolder(dir);
      if (!holderGone(holder) || Date.now() > deadline) throw lockedError(dir, holder);
      if (!told) options.onWait?.(`${dir} was locked by OmniFusion process ${holder!.pid}, which has stopped; taking the folder over in at most ${Math.ceil(stale / 1000)} s`);
      told = true;
      await delay(250);
    }
  }
  let released = false;
  try {
    await writeFile(path.join(dir, LOCK_PID_FILE), `${JSON.stringify({ pid: process.pid, host: os.hostname() })}\n`);
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }
  return {
    async release() {
      if (released) return;
      released = true;
      await rm(path.join(dir, LOCK_PID_FILE), { force: true }).catch(() => undefined);
      // Already released when it was lost (ERELEASED): nothing left to do.
      await release().catch(() => undefined);
    },
  };
}
