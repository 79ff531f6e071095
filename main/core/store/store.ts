/**
 * The conversation store: conversations, messages, attachments and full-text search
 * in one SQLite database (better-sqlite3), attachment files beside it.
 *
 * One process writes (Electron main, or the CLI/server when the app is not running),
 * through one connection; better-sqlite3 is synchronous, so calls never interleave.
 * WAL with synchronous=NORMAL: a committed write survives a crash of the process (not
 * necessarily a power cut), readers never block the writer.
 */
import type { MessageStatus, MessageTimings } from '../../api/contract.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  attachmentFilePath,
  removeAttachmentFile,
  sweepAttachmentFiles,
  writeAttachmentFile,
} from './attachment-files.js';
import { StoreError } from './errors.js';
import { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, parseSnippet, toFtsQuery } from './fts.js';
import { LATEST_SCHEMA_VERSION, migrate, schemaVersion } from './migrations.js';
import { salvageInto, type SalvageCounts } from './salvage.js';
import { WalKeeper } from './wal-keeper.js';

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

/** Characters of the last message shown in the history list. */
const PREVIEW_CHARS = 160;
/** Tokens of context around each match in a search snippet. */
const SNIPPET_TOKENS = 16;
/**
 * Search ranks (bm25) only the most recent this-many matches of each index. FTS5 yields
 * matches in rowid order, so finding them is cheap, while ranking every match of a common
 * word took 80-300 ms at 100 000 messages. A result is thus "best among the most recent
 * matches", which suits chat history; a selective query has fewer matches and is ranked whole.
 */
export const SEARCH_CANDIDATES = 2000;
/** A last term shorter than this matches as a whole word, not as a prefix of every word. */
export const SEARCH_MIN_PREFIX_CHARS = 2;

/** Who wrote a message. */
export type MessageRole = 'system' | 'user' | 'assistant';
// Statuses and timings are the API's own (main/api/contract.ts): the store keeps what the UI shows.
export type { MessageStatus, MessageTimings };

/** An attachment's metadata; the file is at `attachmentPath(sha256)`. */
export interface AttachmentInfo {
  sha256: string;
  mime: string;
  /** File size, bytes. */
  byteSize: number;
  /** Pixels; null when not an image. */
  width: number | null;
  /** Pixels; null when not an image. */
  height: number | null;
  /** ms since the Unix epoch. */
  createdAt: number;
  /** The file name it was attached under (messages' attachments only; absent when unknown). */
  name?: string;
}

/** An attachment of a new message: its sha256, or its sha256 with the file name it was attached under. */
export type NewAttachment = string | { sha256: string; name?: string };

/** Longest attachment file name kept, characters (longer ones are cut). */
export const MAX_ATTACHMENT_NAME = 255;

/** A conversation's own fields. Times are ms since the Unix epoch. */
export interface Conversation {
  id: number;
  title: string;
  createdAt: number;
  /** Last activity (message added or finished). */
  updatedAt: number;
  pinned: boolean;
  /** Folder name; null when in no folder. */
  folder: string | null;
  /** OCR tokens in the prompt: 'auto' (on for document-like images), 'on' or 'off'. */
  ocrTokens: OcrTokensSetting;
}

/** Whether a conversation adds its images' recognized text to the prompt. */
export type OcrTokensSetting = 'auto' | 'on' | 'off';

/** Text read from an attachment, with its layout (JSON the caller defines) when it has one. */
export interface AttachmentText {
  text: string;
  layout: string | null;
  createdAt: number;
}

/** A row of the history list. */
export interface ConversationSummary extends Conversation {
  /** The newest message, its text cut to a short one-line preview; null when empty. */
  lastMessage: { role: MessageRole; status: MessageStatus; preview: string } | null;
}

/** A stored message. Times are ms since the Unix epoch. */
export interface Message {
  id: number;
  conversationId: number;
  /** The message this one answers or follows; siblings are branches (edit, regenerate). */
  parentId: number | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  /** Why generation failed, when status is 'error'. */
  error: string | null;
  timings: MessageTimings | null;
  createdAt: number;
  updatedAt: number;
  /** In the order they were attached. */
  attachments: AttachmentInfo[];
}

/** A conversation with all its messages (every branch), oldest first. */
export interface ConversationWithMessages extends Conversation {
  messages: Message[];
}

/** A new message for addMessage. */
export interface NewMessage {
  role: MessageRole;
  content: string;
  /** Default 'complete'. */
  status?: MessageStatus;
  model?: string | null;
  error?: string | null;
  timings?: MessageTimings | null;
  /** sha256 values from putAttachment (with file names), in display order. */
  attachments?: readonly NewAttachment[];
  /**
   * The message this one follows. Omitted: the newest message of the conversation (a
   * linear chat); null: a new root; a sibling's parent: a new branch (edit-and-resend).
   */
  parentId?: number | null;
}

/** One search result: a message that matches, by its own text or its attachments' text. */
export interface SearchHit {
  conversationId: number;
  conversationTitle: string;
  messageId: number;
  /** Whether the match is in the message text or in text read from an attachment. */
  source: 'message' | 'attachment';
  /** Plain text around the match. */
  snippet: string;
  /** [start, end) UTF-16 ranges of matched terms within `snippet`. */
  highlights: Array<[number, number]>;
}

/** What openStore did about a damaged database. */
export interface StoreRecovery {
  /** What SQLite reported, one line. */
  reason: string;
  /** Where the damaged file was moved (inside the data folder), kept for rescue. */
  movedTo: string;
  /** What was read out of the damaged file into the fresh one (salvage.ts). */
  salvaged: SalvageCounts;
}

/** Options of openStore. */
export interface OpenStoreOptions {
  /** The app's data folder; created when missing. */
  dataDir: string;
  /** A streamed message is persisted at most this long after its oldest unsaved text, ms. Default 250. */
  flushIntervalMs?: number;
  /** …or as soon as this many unsaved UTF-16 code units are buffered. Default 400. */
  flushChars?: number;
  /** How long a statement waits for a lock held by another connection, ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * 'quick' runs PRAGMA quick_check at open; 'none' only reads the schema. Default: 'quick' after
   * an unclean shutdown (IN_USE_SUFFIX marker left behind), else 'none'.
   */
  integrityCheck?: 'quick' | 'none';
}

/**
 * Persists a streamed assistant message in batches. The message exists, with status
 * 'partial', from beginAssistantMessage on; a crash loses at most the unsaved batch.
 * Calls after the conversation was deleted do nothing. A background flush that failed
 * (e.g. disk full) is thrown by the next call.
 */
export interface AssistantMessageWriter {
  readonly messageId: number;
  /** Buffers text; persists the buffer once it reaches flushChars or flushIntervalMs passed. Throws StoreError('writer_finished') after the end. */
  append(textDelta: string): void;
  /** Persists the buffer now. */
  flush(): void;
  /** Persists the rest, marks the message complete with its timings. */
  complete(timings?: MessageTimings): void;
  /** Persists the rest, marks the message 'error' with the reason. */
  fail(error: string | Error): void;
  /** Persists the rest and leaves the message 'partial' (user stopped, engine crashed), with `reason` as its error when given. */
  interrupt(reason?: string): void;
}

/** The conversation store; see openStore. */
export interface ConversationStore {
  /** Set when the database was damaged at open and replaced by a fresh one. */
  readonly recovered: StoreRecovery | null;
  /** The database file. */
  readonly file: string;
  /** The WAL's maintenance: its size, a checkpoint on demand. */
  readonly wal: WalKeeper;

  /** Creates an empty conversation. */
  createConversation(title?: string): Conversation;
  /** All conversations, pinned first, then by last activity, newest first. */
  listConversations(): ConversationSummary[];
  /** A conversation with every message and attachment; null when it does not exist. */
  getConversation(id: number): ConversationWithMessages | null;
  /** One message with its attachments; null when it does not exist. */
  getMessage(id: number): Message | null;
  /** Returns false when the conversation does not exist. */
  renameConversation(id: number, title: string): boolean;
  /** Returns false when the conversation does not exist. */
  setPinned(id: number, pinned: boolean): boolean;
  /** Returns false when the conversation does not exist. */
  setOcrTokens(id: number, setting: OcrTokensSetting): boolean;
  /** Moves into a folder (null: none). Returns false when the conversation does not exist. */
  setFolder(id: number, folder: string | null): boolean;
  /** Deletes a conversation with its messages and now-unreferenced attachment files. Returns false when it did not exist. */
  deleteConversation(id: number): boolean;
  /** Bulk delete, one transaction; returns how many existed. */
  deleteConversations(ids: readonly number[]): number;

  /**
   * Adds a message. Throws StoreError('not_found') for an unknown conversation, parent
   * or attachment hash.
   */
  addMessage(conversationId: number, message: NewMessage): Message;
  /**
   * Starts a streamed assistant reply (status 'partial', empty content), following
   * `parentId` (default: the newest message). Throws StoreError('not_found') as addMessage.
   */
  beginAssistantMessage(conversationId: number, model: string | null, options?: { parentId?: number | null }): AssistantMessageWriter;

  /**
   * Stores a file's bytes once per content and returns its sha256 (hex). Call it right
   * before addMessage: attachments no message refers to are removed at the next open.
   * Throws the fs error when the file cannot be written.
   */
  putAttachment(bytes: Uint8Array, meta: { mime: string; width?: number | null; height?: number | null }): string;
  /** Metadata of a stored attachment, or null. Throws StoreError('invalid_argument') for a malformed hash. */
  getAttachment(sha256: string): AttachmentInfo | null;
  /** Where the attachment's file is. Throws StoreError('invalid_argument') for a malformed hash. */
  attachmentPath(sha256: string): string;
  /**
   * Records text read from an attachment (`source` e.g. 'ocr'), replacing earlier text
   * from the same source; messages with that attachment then match it in search.
   * Throws StoreError('not_found') for an unknown attachment.
   */
  setAttachmentText(sha256: string, source: string, text: string, layout?: string | null): void;
  /** Text read from an attachment by `source`, or null when none was recorded. */
  getAttachmentText(sha256: string, source: string): AttachmentText | null;

  /**
   * Full-text search over message text and attachment text, best match first. Any
   * user input is safe (see toFtsQuery); returns [] when nothing searchable was typed.
   */
  search(query: string, options?: { limit?: number }): SearchHit[];

  /** Persists pending streamed text (left 'partial'), truncates the WAL, closes. Idempotent. */
  close(): void;
}

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
  return new SqliteConversationStore(
    db,
    file,
    path.join(options.dataDir, ATTACHMENTS_DIR_NAME),
    recovered,
    { flushIntervalMs: options.flushIntervalMs ?? 250, flushChars: options.flushChars ?? 400 },
    busyTimeoutMs,
  );
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

interface MessageRow {
  id: number;
  conversation_id: number;
  parent_id: number | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  model: string | null;
  error: string | null;
  timings: string | null;
  created_at: number;
  updated_at: number;
}

interface ConversationRow {
  id: number;
  title: string;
  created_at: number;
  updated_at: number;
  pinned: number;
  folder: string | null;
  ocr_tokens: OcrTokensSetting;
}

interface AttachmentRow {
  sha256: string;
  mime: string;
  byte_size: number;
  width: number | null;
  height: number | null;
  created_at: number;
  /** From message_attachments, when read through a message. */
  name?: string;
}

function toConversation(r: ConversationRow): Conversation {
  return { id: r.id, title: r.title, createdAt: r.created_at, updatedAt: r.updated_at, pinned: r.pinned === 1, folder: r.folder, ocrTokens: r.ocr_tokens };
}

function toAttachment(r: AttachmentRow): AttachmentInfo {
  return { sha256: r.sha256, mime: r.mime, byteSize: r.byte_size, width: r.width, height: r.height, createdAt: r.created_at, ...(r.name ? { name: r.name } : {}) };
}

/** Timings are JSON; a malformed value must not make the whole conversation unreadable. */
function parseTimings(json: string | null): MessageTimings | null {
  if (json === null) return null;
  try {
    const value: unknown = JSON.parse(json);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as MessageTimings) : null;
  } catch {
    return null;
  }
}

function toMessage(r: MessageRow, attachments: AttachmentInfo[]): Message {
  return {
    id: r.id,
    conversationId: r.conversation_id,
    parentId: r.parent_id,
    role: r.role,
    content: r.content,
    status: r.status,
    model: r.model,
    error: r.error,
    timings: parseTimings(r.timings),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    attachments,
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

class SqliteConversationStore implements ConversationStore {
  private readonly writers = new Set<StreamWriter>();
  private readonly stmt;

  constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly attachmentsRoot: string,
    readonly recovered: StoreRecovery | null,
    private readonly streaming: { flushIntervalMs: number; flushChars: number },
    busyTimeoutMs = 5000,
  ) {
    this.wal = new WalKeeper(db, `${file}-wal`, busyTimeoutMs);
    this.stmt = {
      insertConversation: db.prepare<[string, number, number], ConversationRow>(
        'INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?) RETURNING *',
      ),
      getConversation: db.prepare<[number], ConversationRow>('SELECT * FROM conversations WHERE id = ?'),
      touchConversation: db.prepare<[number, number]>('UPDATE conversations SET updated_at = ? WHERE id = ?'),
      renameConversation: db.prepare<[string, number]>('UPDATE conversations SET title = ? WHERE id = ?'),
      setPinned: db.prepare<[number, number]>('UPDATE conversations SET pinned = ? WHERE id = ?'),
      setOcrTokens: db.prepare<[OcrTokensSetting, number]>('UPDATE conversations SET ocr_tokens = ? WHERE id = ?'),
      setFolder: db.prepare<[string | null, number]>('UPDATE conversations SET folder = ? WHERE id = ?'),
      deleteConversation: db.prepare<[number]>('DELETE FROM conversations WHERE id = ?'),
      listConversations: db.prepare<[number], ConversationRow & { m_role: MessageRole | null; m_status: MessageStatus | null; m_preview: string | null }>(
        `SELECT c.*, m.role AS m_role, m.status AS m_status, substr(m.content, 1, ?) AS m_preview
         FROM conversations AS c
         LEFT JOIN messages AS m ON m.id = (SELECT max(id) FROM messages WHERE conversation_id = c.id)
         ORDER BY c.pinned DESC, c.updated_at DESC, c.id DESC`,
      ),
      conversationAttachments: db.prepare<[number], { sha256: string }>(
        `SELECT DISTINCT ma.sha256 FROM message_attachments AS ma
         JOIN messages AS m ON m.id = ma.message_id WHERE m.conversation_id = ?`,
      ),
      isReferenced: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM message_attachments WHERE sha256 = ? LIMIT 1'),
      deleteAttachment: db.prepare<[string]>('DELETE FROM attachments WHERE sha256 = ?'),

      latestMessageId: db.prepare<[number], { id: number | null }>('SELECT max(id) AS id FROM messages WHERE conversation_id = ?'),
      messageConversation: db.prepare<[number], { conversation_id: number }>('SELECT conversation_id FROM messages WHERE id = ?'),
      insertMessage: db.prepare<[{ conversationId: number; parentId: number | null; role: MessageRole; content: string; status: MessageStatus; model: string | null; error: string | null; timings: string | null; now: number }]>(
        `INSERT INTO messages (conversation_id, parent_id, role, content, status, model, error, timings, created_at, updated_at)
         VALUES (@conversationId, @parentId, @role, @content, @status, @model, @error, @timings, @now, @now)`,
      ),
      insertMessageAttachment: db.prepare<[number, number, string, string]>('INSERT INTO message_attachments (message_id, position, sha256, name) VALUES (?, ?, ?, ?)'),
      getMessage: db.prepare<[number], MessageRow>('SELECT * FROM messages WHERE id = ?'),
      conversationMessages: db.prepare<[number], MessageRow>('SELECT * FROM messages WHERE conversation_id = ? ORDER BY id'),
      messageAttachments: db.prepare<[number], AttachmentRow & { message_id: number }>(
        `SELECT ma.message_id, a.*, ma.name AS name FROM message_attachments AS ma
         JOIN attachments AS a ON a.sha256 = ma.sha256
         JOIN messages AS m ON m.id = ma.message_id
         WHERE m.conversation_id = ? ORDER BY ma.message_id, ma.position`,
      ),
      attachmentsOfMessage: db.prepare<[number], AttachmentRow>(
        `SELECT a.*, ma.name AS name FROM message_attachments AS ma JOIN attachments AS a ON a.sha256 = ma.sha256
         WHERE ma.message_id = ? ORDER BY ma.position`,
      ),
      appendContent: db.prepare<[string, number, number]>('UPDATE messages SET content = content || ?, updated_at = ? WHERE id = ?'),
      finishMessage: db.prepare<[{ id: number; status: MessageStatus; error: string | null; timings: string | null; now: number }]>(
        'UPDATE messages SET status = @status, error = @error, timings = @timings, updated_at = @now WHERE id = @id',
      ),

      insertAttachment: db.prepare<[string, string, number, number | null, number | null, number]>(
        'INSERT OR IGNORE INTO attachments (sha256, mime, byte_size, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      getAttachment: db.prepare<[string], AttachmentRow>('SELECT * FROM attachments WHERE sha256 = ?'),
      upsertAttachmentText: db.prepare<[string, string, string, string | null, number]>(
        `INSERT INTO attachment_text (sha256, source, text, layout, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (sha256, source) DO UPDATE SET text = excluded.text, layout = excluded.layout, created_at = excluded.created_at`,
      ),
      getAttachmentText: db.prepare<[string, string], { text: string; layout: string | null; created_at: number }>(
        'SELECT text, layout, created_at FROM attachment_text WHERE sha256 = ? AND source = ?',
      ),

      // Each index ranked on its own with ORDER BY rank, which FTS5 consumes: it sorts by bm25
      // itself, so snippet() runs only for the rows returned (the LIMIT), not for every
      // candidate (that cost ~20 ms for a common word at 100 000 messages). The lowest rowid
      // among the newest @candidates matches bounds each index as a rowid range, which FTS5
      // applies while matching (see SEARCH_CANDIDATES). The two lists are merged in search().
      searchMessages: db.prepare<[{ q: string; limit: number; candidates: number; open: string; close: string }], { id: number; rank: number; snippet: string }>(
        `WITH lo(v) AS (SELECT min(rowid) FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH @q ORDER BY rowid DESC LIMIT @candidates))
         SELECT rowid AS id, rank, snippet(messages_fts, 0, @open, @close, '…', ${SNIPPET_TOKENS}) AS snippet
         FROM messages_fts WHERE messages_fts MATCH @q AND rowid >= (SELECT v FROM lo) ORDER BY rank LIMIT @limit`,
      ),
      searchAttachmentText: db.prepare<[{ q: string; limit: number; candidates: number; open: string; close: string }], { id: number; rank: number; snippet: string }>(
        `WITH lo(v) AS (SELECT min(rowid) FROM (SELECT rowid FROM attachment_text_fts WHERE attachment_text_fts MATCH @q ORDER BY rowid DESC LIMIT @candidates))
         SELECT rowid AS id, rank, snippet(attachment_text_fts, 0, @open, @close, '…', ${SNIPPET_TOKENS}) AS snippet
         FROM attachment_text_fts WHERE attachment_text_fts MATCH @q AND rowid >= (SELECT v FROM lo) ORDER BY rank LIMIT @limit`,
      ),
      messagesWithText: db.prepare<[number], { message_id: number }>(
        'SELECT ma.message_id FROM attachment_text AS t JOIN message_attachments AS ma ON ma.sha256 = t.sha256 WHERE t.id = ? ORDER BY ma.message_id DESC',
      ),
      hitConversation: db.prepare<[number], { conversation_id: number; title: string }>(
        'SELECT m.conversation_id, c.title FROM messages AS m JOIN conversations AS c ON c.id = m.conversation_id WHERE m.id = ?',
      ),
    };
    this.collectOrphanAttachments();
  }

  // ── conversations ────────────────────────────────────────────────────────────

  createConversation(title = ''): Conversation {
    const now = Date.now();
    return toConversation(this.stmt.insertConversation.get(title, now, now)!);
  }

  listConversations(): ConversationSummary[] {
    return this.stmt.listConversations.all(PREVIEW_CHARS).map((r) => ({
      ...toConversation(r),
      lastMessage:
        r.m_role === null
          ? null
          : { role: r.m_role, status: r.m_status!, preview: r.m_preview!.replace(/\s+/g, ' ').trim() },
    }));
  }

  getConversation(id: number): ConversationWithMessages | null {
    return this.db.transaction(() => {
      const row = this.stmt.getConversation.get(id);
      if (!row) return null;
      const byMessage = new Map<number, AttachmentInfo[]>();
      for (const a of this.stmt.messageAttachments.all(id)) {
        const list = byMessage.get(a.message_id) ?? [];
        list.push(toAttachment(a));
        byMessage.set(a.message_id, list);
      }
      const messages = this.stmt.conversationMessages.all(id).map((m) => toMessage(m, byMessage.get(m.id) ?? []));
      return { ...toConversation(row), messages };
    })();
  }

  renameConversation(id: number, title: string): boolean {
    return this.stmt.renameConversation.run(title, id).changes > 0;
  }

  setPinned(id: number, pinned: boolean): boolean {
    return this.stmt.setPinned.run(pinned ? 1 : 0, id).changes > 0;
  }

  setOcrTokens(id: number, setting: OcrTokensSetting): boolean {
    if (!['auto', 'on', 'off'].includes(setting)) throw new StoreError('invalid_argument', `OCR tokens must be auto, on or off, not ${JSON.stringify(setting)}`);
    return this.stmt.setOcrTokens.run(setting, id).changes > 0;
  }

  setFolder(id: number, folder: string | null): boolean {
    return this.stmt.setFolder.run(folder, id).changes > 0;
  }

  deleteConversation(id: number): boolean {
    return this.deleteConversations([id]) > 0;
  }

  deleteConversations(ids: readonly number[]): number {
    const unreferenced: string[] = [];
    const deleted = this.db.transaction(() => {
      const candidates = new Set<string>();
      let count = 0;
      for (const id of ids) {
        for (const { sha256 } of this.stmt.conversationAttachments.all(id)) candidates.add(sha256);
        count += this.stmt.deleteConversation.run(id).changes;
      }
      for (const sha256 of candidates) {
        if (this.stmt.isReferenced.get(sha256)) continue;
        this.stmt.deleteAttachment.run(sha256);
        unreferenced.push(sha256);
      }
      return count;
    })();
    // Files go after the commit: a crash in between leaves orphan files, which the next
    // open sweeps, never rows that point at missing files.
    for (const sha256 of unreferenced) removeAttachmentFile(this.attachmentsRoot, sha256);
    // Deleted text also leaves the WAL, and a bulk delete does not leave a large WAL behind.
    if (deleted > 0) this.db.pragma('wal_checkpoint(TRUNCATE)');
    return deleted;
  }

  // ── messages ─────────────────────────────────────────────────────────────────

  addMessage(conversationId: number, message: NewMessage): Message {
    return this.db.transaction(() => {
      const id = this.insertMessage(conversationId, message.parentId, {
        role: message.role,
        content: message.content,
        status: message.status ?? 'complete',
        model: message.model ?? null,
        error: message.error ?? null,
        timings: message.timings ? JSON.stringify(message.timings) : null,
      });
      (message.attachments ?? []).forEach((attachment, position) => {
        const { sha256, name = '' } = typeof attachment === 'string' ? { sha256: attachment } : attachment;
        if (typeof sha256 !== 'string' || !this.stmt.getAttachment.get(sha256)) {
          throw new StoreError('not_found', `attachment ${String(sha256).slice(0, 12)}… is not stored; attach the file again`);
        }
        this.stmt.insertMessageAttachment.run(id, position, sha256, typeof name === 'string' ? [...name].slice(0, MAX_ATTACHMENT_NAME).join('') : '');
      });
      return this.readMessage(id);
    })();
  }

  beginAssistantMessage(conversationId: number, model: string | null, options: { parentId?: number | null } = {}): AssistantMessageWriter {
    const id = this.db.transaction(() =>
      this.insertMessage(conversationId, options.parentId, {
        role: 'assistant',
        content: '',
        status: 'partial',
        model,
        error: null,
        timings: null,
      }),
    )();
    const writer = new StreamWriter(id, this.streaming, {
      append: (text) => this.stmt.appendContent.run(text, Date.now(), id),
      finish: (text, status, error, timings) =>
        this.db.transaction(() => {
          const now = Date.now();
          if (text) this.stmt.appendContent.run(text, now, id);
          this.stmt.finishMessage.run({ id, status, error, timings: timings ? JSON.stringify(timings) : null, now });
          this.stmt.touchConversation.run(now, conversationId);
        })(),
      done: () => this.writers.delete(writer),
    });
    this.writers.add(writer);
    return writer;
  }

  /** Inserts a message row and bumps the conversation; runs inside the caller's transaction. */
  private insertMessage(
    conversationId: number,
    parentId: number | null | undefined,
    fields: { role: MessageRole; content: string; status: MessageStatus; model: string | null; error: string | null; timings: string | null },
  ): number {
    if (!this.stmt.getConversation.get(conversationId)) {
      throw new StoreError('not_found', `conversation ${conversationId} does not exist`);
    }
    let parent: number | null;
    if (parentId === undefined) parent = this.stmt.latestMessageId.get(conversationId)?.id ?? null;
    else {
      parent = parentId;
      if (parent !== null && this.stmt.messageConversation.get(parent)?.conversation_id !== conversationId) {
        throw new StoreError('not_found', `message ${parent} is not in conversation ${conversationId}`);
      }
    }
    const now = Date.now();
    const id = Number(this.stmt.insertMessage.run({ conversationId, parentId: parent, now, ...fields }).lastInsertRowid);
    this.stmt.touchConversation.run(now, conversationId);
    return id;
  }

  getMessage(id: number): Message | null {
    return this.stmt.getMessage.get(id) ? this.readMessage(id) : null;
  }

  private readMessage(id: number): Message {
    return toMessage(this.stmt.getMessage.get(id)!, this.stmt.attachmentsOfMessage.all(id).map(toAttachment));
  }

  // ── attachments ──────────────────────────────────────────────────────────────

  putAttachment(bytes: Uint8Array, meta: { mime: string; width?: number | null; height?: number | null }): string {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // File first, row second: a row must never point at a file that is not there.
    writeAttachmentFile(this.attachmentsRoot, sha256, bytes);
    this.stmt.insertAttachment.run(sha256, meta.mime, bytes.byteLength, meta.width ?? null, meta.height ?? null, Date.now());
    return sha256;
  }

  getAttachment(sha256: string): AttachmentInfo | null {
    attachmentFilePath(this.attachmentsRoot, sha256); // validates the hash
    const row = this.stmt.getAttachment.get(sha256);
    return row ? toAttachment(row) : null;
  }

  attachmentPath(sha256: string): string {
    return attachmentFilePath(this.attachmentsRoot, sha256);
  }

  setAttachmentText(sha256: string, source: string, text: string, layout: string | null = null): void {
    if (!this.getAttachment(sha256)) throw new StoreError('not_found', `attachment ${sha256.slice(0, 12)}… is not stored`);
    this.stmt.upsertAttachmentText.run(sha256, source, text, layout, Date.now());
  }

  getAttachmentText(sha256: string, source: string): AttachmentText | null {
    const row = this.stmt.getAttachmentText.get(sha256, source);
    return row ? { text: row.text, layout: row.layout, createdAt: row.created_at } : null;
  }

  /** At open: drops attachments no message refers to (a put whose message never came) and stray files. */
  private collectOrphanAttachments(): void {
    this.db.prepare('DELETE FROM attachments WHERE sha256 NOT IN (SELECT sha256 FROM message_attachments)').run();
    const known = new Set(this.db.prepare<[], string>('SELECT sha256 FROM attachments').pluck().all());
    sweepAttachmentFiles(this.attachmentsRoot, (sha256) => known.has(sha256));
  }

  // ── search ───────────────────────────────────────────────────────────────────

  search(query: string, options: { limit?: number } = {}): SearchHit[] {
    const q = toFtsQuery(query, SEARCH_MIN_PREFIX_CHARS);
    if (q === null) return [];
    const limit = Math.max(1, Math.floor(options.limit ?? 50));
    const candidates = Math.max(SEARCH_CANDIDATES, limit);
    const args = { q, limit, candidates, open: HIGHLIGHT_OPEN, close: HIGHLIGHT_CLOSE };
    // Best rank per message (a message matching by its text and by an image's text is listed once).
    const best = new Map<number, { rank: number; source: 'message' | 'attachment'; snippet: string }>();
    const offer = (messageId: number, rank: number, source: 'message' | 'attachment', snippet: string): void => {
      const seen = best.get(messageId);
      if (!seen || rank < seen.rank) best.set(messageId, { rank, source, snippet });
    };
    for (const r of this.stmt.searchMessages.all(args)) offer(r.id, r.rank, 'message', r.snippet);
    for (const r of this.stmt.searchAttachmentText.all(args)) {
      for (const m of this.stmt.messagesWithText.all(r.id)) offer(m.message_id, r.rank, 'attachment', r.snippet);
    }
    const ranked = [...best].sort(([a, x], [b, y]) => x.rank - y.rank || b - a).slice(0, limit);
    const hits: SearchHit[] = [];
    for (const [messageId, r] of ranked) {
      const where = this.stmt.hitConversation.get(messageId);
      if (!where) continue;
      const snippet = parseSnippet(r.snippet);
      hits.push({
        conversationId: where.conversation_id,
        conversationTitle: where.title,
        messageId,
        source: r.source,
        snippet: snippet.text,
        highlights: snippet.highlights,
      });
    }
    return hits;
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────

  /** The WAL's maintenance (wal-keeper.ts): its size now, and a checkpoint on demand (tests, benchmarks). */
  readonly wal: WalKeeper;

  close(): void {
    if (!this.db.open) return;
    this.wal.stop();
    try {
      for (const writer of [...this.writers]) writer.interrupt();
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
      // A clean close: the next open needs no integrity check.
      rmSync(`${this.file}${IN_USE_SUFFIX}`, { force: true });
    }
  }
}

/** Storage callbacks a StreamWriter drives; kept apart so batching logic stays plain. */
interface StreamSink {
  append(text: string): void;
  finish(text: string, status: MessageStatus, error: string | null, timings: MessageTimings | null): void;
  done(): void;
}

class StreamWriter implements AssistantMessageWriter {
  private buffer = '';
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private backgroundError: unknown = null;

  constructor(
    readonly messageId: number,
    private readonly limits: { flushIntervalMs: number; flushChars: number },
    private readonly sink: StreamSink,
  ) {}

  append(textDelta: string): void {
    this.check();
    if (textDelta === '') return;
    this.buffer += textDelta;
    if (this.buffer.length >= this.limits.flushChars) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        try {
          this.persist();
        } catch (err) {
          this.backgroundError = err;
        }
      }, this.limits.flushIntervalMs);
      // A pending flush must not keep a CLI process alive.
      this.timer.unref();
    }
  }

  flush(): void {
    this.check();
    this.persist();
  }

  complete(timings?: MessageTimings): void {
    this.finish('complete', null, timings ?? null);
  }

  fail(error: string | Error): void {
    this.finish('error', typeof error === 'string' ? error : error.message, null);
  }

  interrupt(reason?: string): void {
    if (reason !== undefined) return this.finish('partial', reason, null);
    this.check();
    this.persist(true);
    this.end();
  }

  private finish(status: MessageStatus, error: string | null, timings: MessageTimings | null): void {
    this.check();
    this.sink.finish(this.buffer, status, error, timings);
    this.buffer = '';
    this.end();
  }

  /**
   * Writes the buffer. Unless `final`, a trailing high surrogate waits: its pair is still
   * to come, and a lone half would be stored as U+FFFD.
   */
  private persist(final = false): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const holdBack = !final && isHighSurrogate(this.buffer.charCodeAt(this.buffer.length - 1));
    const cut = holdBack ? this.buffer.length - 1 : this.buffer.length;
    if (cut === 0) return;
    this.sink.append(this.buffer.slice(0, cut));
    this.buffer = this.buffer.slice(cut);
  }

  private end(): void {
    this.finished = true;
    this.sink.done();
  }

  private check(): void {
    if (this.finished) throw new StoreError('writer_finished', `the reply stream of message ${this.messageId} has already ended`);
    if (this.backgroundError !== null) {
      const err = this.backgroundError;
      this.backgroundError = null;
      throw err;
    }
  }
}
