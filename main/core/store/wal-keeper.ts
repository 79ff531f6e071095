/**
 * Keeps the history database's write-ahead log small. SQLite's own autocheckpoint (on commit,
 * past WAL_AUTOCHECKPOINT_PAGES) copies the log into the database and trims the file back to
 * JOURNAL_SIZE_LIMIT_BYTES; this timer, every IDLE_CHECKPOINT_MS, truncates it to zero bytes when
 * the app is idle, never waiting on a lock (busy_timeout 0 for the call). No other connection can
 * hold a read snapshot that would stop a checkpoint (the store opens the file with
 * locking_mode=EXCLUSIVE, see openDatabase in store.ts), so the log's ceiling is
 * JOURNAL_SIZE_LIMIT_BYTES plus what one commit writes past WAL_AUTOCHECKPOINT_PAGES.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';

/** How often the log is checked and, when it holds anything, truncated (ms). */
export const IDLE_CHECKPOINT_MS = 5000;

/** Periodic TRUNCATE checkpoints of one connection; `stop()` before the connection closes. */
export class WalKeeper {
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly db: Database.Database,
    private readonly walFile: string,
    private readonly busyTimeoutMs: number,
    intervalMs = IDLE_CHECKPOINT_MS,
  ) {
    this.#timer = setInterval(() => this.checkpoint(), intervalMs);
    this.#timer.unref();
  }

  /** Bytes in the log file now (0 when there is none). */
  walBytes(): number {
    try {
      return statSync(this.walFile).size;
    } catch {
      return 0;
    }
  }

  /**
   * Copies the log into the database and truncates it, unless a reader's snapshot still needs it
   * (then only what is safe is copied, and the next tick tries again). Never blocks on a lock.
   * @returns whether the log is now empty.
   */
  checkpoint(): boolean {
    if (!this.db.open || this.walBytes() === 0) return true;
    try {
      this.db.pragma('busy_timeout = 0');
      const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      return r !== undefined && r.busy === 0;
    } catch {
      return false; // SQLITE_BUSY from a writer elsewhere: try again at the next tick
    } finally {
      if (this.db.open) this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
