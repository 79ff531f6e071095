/**
 * Opening the conversation store: the history database file in the data folder (WAL,
 * synchronous=NORMAL, upgrade with a backup), its integrity check after an unclean shutdown (the
 * IN_USE_SUFFIX marker), and recovery of a damaged file (moved aside, salvaged into a fresh one).
 * The store itself is sqlite-store.ts; its public shapes are types.ts, re-exported here with the
 * search constants so that importers of './store.js' see one front door.
 *
 * WAL with synchronous=NORMAL: a committed write survives a crash of the process (not
 * necessarily a power cut), readers never block the writer.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { salvageInto } from './salvage.js';
import { SqliteConversationStore } from './sqlite-store.js';
import type { ConversationStore, OpenStoreOptions, StoreRecovery } from './types.js';

export { SEARCH_CANDIDATES, SEARCH_MIN_PREFIX_CHARS } from './search.js';
export { MAX_ATTACHMENT_NAME } from './types.js';
export type {
  AssistantMessageWriter,
  AttachmentInfo,
  AttachmentText,
  Conversation,
  ConversationStore,
  ConversationSummary,
  ConversationWithMessages,
  Message,
  MessageRole,
  MessageStatus,
  MessageTimings,
  NewAttachment,
  NewMessage,
  OcrTokensSetting,
  OpenStoreOptions,
  SearchHit,
  StoreRecovery,
} from './types.js';

/** The database file name inside the data folder. */
export const DB_FILE_NAME = 'history.sqlite3';
/** The attachments folder name inside the data folder. */
export const ATTACHMENTS_DIR_NAME = 'attachments';
/** WAL pages after which SQLite checkpoints on commit (1000 × 4 KiB pages ≈ 4 MiB). */
export const WAL_AUTOCHECKPOINT_PAGES = 1000;
/** Bytes the WAL file is truncated to when it is reset after a checkpoint. */
export const JOURNAL_SIZE_LIMIT_BYTES = 4 * 1024 * 1024;
/**
 * Beside the database while a process has it open; removed by a clean close. Found at open, it
 * means the last run ended without closing (a crash, a kill, a power cut): only then is the
 * database's integrity checked at start, which costs about a second per 100 MB of history.
 */
export const IN_USE_SUFFIX = '.in-use';

/** Thrown inside open when quick_check reports damage; never leaves this module. */
class DatabaseDamaged extends Error {}

/**
 * Opens (creating or upgrading) the history database in `dataDir`.
 *
 * Runs `PRAGMA quick_check`; a damaged database is moved aside to
 * `history.sqlite3.corrupt-<time>` (its WAL alongside) and a fresh one is started, which
 * `recovered` reports: the app starts instead of crashing on every launch. Before an
 * upgrade the old database is copied to `history.sqlite3.v<version>.bak`.
 * Throws StoreError('newer_schema') for a database of a newer app version, leaving it
 * untouched; throws SQLite/fs errors that are not damage (locked, unreadable folder,
 * disk full), and any failure of the fresh database after a recovery (no retry loop).
 */
export function openStore(options: OpenStoreOptions): ConversationStore {
  mkdirSync(options.dataDir, { recursive: true });
  const file = path.join(options.dataDir, DB_FILE_NAME);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let recovered: StoreRecovery | null = null;
  let db: Database.Database;
  const inUse = `${file}${IN_USE_SUFFIX}`;
  const check = options.integrityCheck ?? (existsSync(inUse) ? 'quick' : 'none');
  try {
    db = openDatabase(file, busyTimeoutMs, check);
  } catch (err) {
    const reason = damageReason(err);
    if (reason === null) throw err;
    const movedTo = moveAside(file);
    db = openDatabase(file, busyTimeoutMs, 'none');
    recovered = { reason, movedTo, salvaged: salvageInto(movedTo, db) };
  }
  writeFileSync(inUse, `${process.pid}\n`);
  return new SqliteConversationStore(db, {
    file,
    attachmentsRoot: path.join(options.dataDir, ATTACHMENTS_DIR_NAME),
    recovered,
    streaming: { flushIntervalMs: options.flushIntervalMs ?? 250, flushChars: options.flushChars ?? 400 },
    busyTimeoutMs,
    // A clean close: the next open needs no integrity check.
    onClosed: () => rmSync(inUse, { force: true }),
  });
}

function openDatabase(file: string, busyTimeoutMs: number, check: 'quick' | 'none'): Database.Database {
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    // This connection is the history's only one, and holds the file's lock until it closes: one
    // process owns a data folder (data-lock.ts) and, inside it, everything goes through this store.
    // The reason is the log's size. While any other connection holds a read snapshot, no
    // checkpoint can restart the WAL, so it grows by every page written meanwhile (~74 KiB per
    // message at 100 000 messages; 740 MiB over 10 000 inserts in npm run bench:app); with no
    // other connection it stays within JOURNAL_SIZE_LIMIT_BYTES (wal-keeper.ts). Outside readers
    // (a database browser, a backup tool) get SQLITE_BUSY until the app closes. Set before the
    // first access, so the WAL index lives in this process's memory (no -shm file).
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    // Deleted history is zeroed in the file, not left in free pages.
    db.pragma('secure_delete = ON');
    if (check === 'quick') {
      const problems = (db.pragma('quick_check(10)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
      if (problems.length !== 1 || problems[0] !== 'ok') throw new DatabaseDamaged(problems.join('; '));
    } else {
      // Reading the schema touches page 1 and sqlite_master: a destroyed header still shows.
      db.prepare('SELECT count(*) FROM sqlite_master').get();
    }
    const version = schemaVersion(db);
    if (version > 0 && version < LATEST_SCHEMA_VERSION) {
      // A migration that commits but mangles data cannot be rolled back; this copy can.
      const backup = `${file}.v${version}.bak`;
      rmSync(backup, { force: true });
      db.prepare('VACUUM INTO ?').run(backup);
    }
    migrate(db, path.basename(file));
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** One line describing the damage when `err` means the file is corrupt; null for any other failure. */
function damageReason(err: unknown): string | null {
  if (err instanceof DatabaseDamaged) return `integrity check failed: ${err.message}`.replace(/\s*\n\s*/g, ' ');
  if (err instanceof Database.SqliteError && (err.code.startsWith('SQLITE_CORRUPT') || err.code === 'SQLITE_NOTADB')) {
    return `${err.code}: ${err.message}`.replace(/\s*\n\s*/g, ' ');
  }
  return null;
}

/** Renames the database (and its WAL) out of the way; returns the new database path. */
function moveAside(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  let target = `${file}.corrupt-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${file}.corrupt-${stamp}-${n}`;
  renameSync(file, target);
  // Named so that SQLite pairs the copy with its WAL when someone opens it to rescue data.
  if (existsSync(`${file}-wal`)) renameSync(`${file}-wal`, `${target}-wal`);
  rmSync(`${file}-shm`, { force: true });
  return target;
}
