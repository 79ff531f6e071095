/**
 * Versioned schema migrations of the history database.
 *
 * The schema version lives in `PRAGMA user_version`. Each migration runs in its own
 * transaction together with the version bump, so a failing migration leaves the
 * database exactly at the previous version. A shipped migration is never edited: users
 * hold databases at every version, and each upgrade path must replay the same steps
 * (schema drift between releases is how other assistants lost history).
 */
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

/** One schema step, from version `id - 1` to `id`. */
export interface Migration {
  /** The schema version this migration produces; ids are 1, 2, 3… without gaps. */
  readonly id: number;
  /** What it changes, for logs and backups. */
  readonly name: string;
  /** Applies the change; runs inside a transaction opened by `migrate`. */
  readonly up: (db: Database.Database) => void;
}

/** All migrations, oldest first. Append only. */
export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'conversations, messages, attachments, full-text search',
    up: (db) =>
      db.exec(`
        -- AUTOINCREMENT: ids of deleted rows are never reused, so a stale id held by a
        -- window or an HTTP client can never name somebody else's conversation.
        CREATE TABLE conversations (
          id         INTEGER PRIMARY KEY AUTOINCREMENT,
          title      TEXT    NOT NULL DEFAULT '',
          created_at INTEGER NOT NULL,  -- ms since the Unix epoch
          updated_at INTEGER NOT NULL   -- ms; last activity, orders the history list
        );
        CREATE INDEX conversations_updated ON conversations(updated_at);

        CREATE TABLE messages (
          id              INTEGER PRIMARY KEY AUTOINCREMENT,
          conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
          role            TEXT    NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
          content         TEXT    NOT NULL DEFAULT '',
          status          TEXT    NOT NULL CHECK (status IN ('complete', 'partial', 'error')),
          model           TEXT,
          error           TEXT,             -- why generation failed, when status = 'error'
          timings         TEXT,             -- JSON MessageTimings
          created_at      INTEGER NOT NULL, -- ms
          updated_at      INTEGER NOT NULL  -- ms; last persisted batch while streaming
        );
        CREATE INDEX messages_conversation ON messages(conversation_id, id);

        -- Files live on disk, content-addressed by sha256; rows hold what the UI needs
        -- without opening them.
        CREATE TABLE attachments (
          sha256     TEXT    PRIMARY KEY CHECK (length(sha256) = 64),
          mime       TEXT    NOT NULL,
          byte_size  INTEGER NOT NULL,
          width      INTEGER,          -- pixels; NULL when not an image
          height     INTEGER,          -- pixels
          created_at INTEGER NOT NULL  -- ms
        );

        CREATE TABLE message_attachments (
          message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
          position   INTEGER NOT NULL,
          sha256     TEXT    NOT NULL REFERENCES attachments(sha256),
          PRIMARY KEY (message_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX message_attachments_sha256 ON message_attachments(sha256);

        -- Text read from an attachment (OCR, equation LaTeX…), searchable like messages.
        -- An explicit integer id because FTS5 external content needs a stable rowid.
        CREATE TABLE attachment_text (
          id         INTEGER PRIMARY KEY,
          sha256     TEXT    NOT NULL REFERENCES attachments(sha256) ON DELETE CASCADE,
          source     TEXT    NOT NULL,  -- what produced the text, e.g. 'ocr'
          text       TEXT    NOT NULL,
          created_at INTEGER NOT NULL,  -- ms
          UNIQUE (sha256, source)
        );

        -- External-content FTS5 indexes: the text is stored once, in the tables above,
        -- and kept in step by triggers so no code path can forget the index.
        -- remove_diacritics 2: "cafe" finds "café".
        CREATE VIRTUAL TABLE messages_fts USING fts5(
          content, content = 'messages', content_rowid = 'id',
          tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
          INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
        END;
        CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
          INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
          INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content);
        END;

        CREATE VIRTUAL TABLE attachment_text_fts USING fts5(
          text, content = 'attachment_text', content_rowid = 'id',
          tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER attachment_text_fts_insert AFTER INSERT ON attachment_text BEGIN
          INSERT INTO attachment_text_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER attachment_text_fts_delete AFTER DELETE ON attachment_text BEGIN
          INSERT INTO attachment_text_fts(attachment_text_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER attachment_text_fts_update AFTER UPDATE OF text ON attachment_text BEGIN
          INSERT INTO attachment_text_fts(attachment_text_fts, rowid, text) VALUES ('delete', old.id, old.text);
          INSERT INTO attachment_text_fts(rowid, text) VALUES (new.id, new.text);
        END;

        -- A private assistant: deleted text must leave the search index at once, not
        -- linger in old index segments until a merge.
        INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 1);
        INSERT INTO attachment_text_fts(attachment_text_fts, rank) VALUES ('secure-delete', 1);
      `),
  },
  {
    id: 2,
    name: 'pins, folders and reply branches',
    up: (db) =>
      db.exec(`
        ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
        ALTER TABLE conversations ADD COLUMN folder TEXT;  -- NULL: not in a folder

        -- Edit-and-resend and regenerate add a sibling instead of overwriting, so no
        -- reply is lost when the user switches branches. No ON DELETE action: a cascade
        -- down a long reply chain would exceed SQLite's trigger depth.
        ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages(id);
        -- History written before branches was linear: each message answers the one before.
        UPDATE messages SET parent_id = (
          SELECT max(p.id) FROM messages AS p
          WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id
        );
        CREATE INDEX messages_parent ON messages(parent_id);
      `),
  },
  {
    id: 3,
    name: 'prefix indexes for full-text search',
    // A 2-3 letter prefix ("th*") otherwise merges the doclists of every word it starts,
    // 50-100 ms at 100 000 messages before any ranking; prefix='2 3' stores those
    // prefixes as index entries of their own (the index grows ~40%). The triggers of v1
    // name the tables, so they keep working on the rebuilt ones.
    up: (db) =>
      db.exec(`
        DROP TABLE messages_fts;
        CREATE VIRTUAL TABLE messages_fts USING fts5(
          content, content = 'messages', content_rowid = 'id',
          tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
        );
        INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
        INSERT INTO messages_fts(messages_fts, rank) VALUES ('secure-delete', 1);

        DROP TABLE attachment_text_fts;
        CREATE VIRTUAL TABLE attachment_text_fts USING fts5(
          text, content = 'attachment_text', content_rowid = 'id',
          tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
        );
        INSERT INTO attachment_text_fts(attachment_text_fts) VALUES ('rebuild');
        INSERT INTO attachment_text_fts(attachment_text_fts, rank) VALUES ('secure-delete', 1);
      `),
  },
  {
    id: 4,
    name: 'text layer of images and OCR tokens per conversation',
    up: (db) =>
      db.exec(`
        -- Where each line of read text lies in the image (JSON: lines, boxes, confidences,
        -- rotation), for the viewer's selectable text layer; NULL for text with no layout.
        ALTER TABLE attachment_text ADD COLUMN layout TEXT;
        -- Whether the recognized text of a conversation's images goes into the prompt as OCR
        -- tokens: 'auto' follows the images (on for document-like ones), or the user's choice.
        ALTER TABLE conversations ADD COLUMN ocr_tokens TEXT NOT NULL DEFAULT 'auto' CHECK (ocr_tokens IN ('auto', 'on', 'off'));
      `),
  },
  {
    id: 5,
    name: 'file names of attached images',
    up: (db) =>
      db.exec(`
        -- The file name the user attached an image under, per message: the same image
        -- (one file, by sha256) may be attached under different names. '' when unknown.
        ALTER TABLE message_attachments ADD COLUMN name TEXT NOT NULL DEFAULT '';
      `),
  },
  {
    id: 6,
    name: 'answer options per conversation',
    up: (db) =>
      db.exec(`
        -- How a conversation's answers are written; NULL: inherit from the settings (which may
        -- say: the model's default). The upper ranges (temperature <= 2, max_new_tokens <=
        -- 32768) are the API's (main/api/answer-options.ts), so they can change without a
        -- migration; these checks keep only values that can never be right out.
        ALTER TABLE conversations ADD COLUMN system_prompt TEXT;  -- '' = no system text
        ALTER TABLE conversations ADD COLUMN temperature REAL CHECK (temperature IS NULL OR temperature > 0);
        ALTER TABLE conversations ADD COLUMN top_p REAL CHECK (top_p IS NULL OR (top_p > 0 AND top_p <= 1));
        ALTER TABLE conversations ADD COLUMN max_new_tokens INTEGER CHECK (max_new_tokens IS NULL OR max_new_tokens >= 1);
        ALTER TABLE conversations ADD COLUMN greedy INTEGER CHECK (greedy IS NULL OR greedy IN (0, 1));
      `),
  },
];

/** The schema version this code writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.id;

/** The schema version recorded in the database (0 for a new, empty file). */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings `db` to `LATEST_SCHEMA_VERSION`, one transaction per migration.
 * Returns the version found before migrating.
 * Throws StoreError('newer_schema') without touching the file when the database is
 * newer than this code; throws the SQLite error of a failing migration, whose
 * transaction is then rolled back.
 */
export function migrate(db: Database.Database, fileLabel: string): number {
  const from = schemaVersion(db);
  if (from > LATEST_SCHEMA_VERSION) {
    throw new StoreError(
      'newer_schema',
      `${fileLabel} was written by a newer version of OmniFusion (schema ${from}, this version knows up to ${LATEST_SCHEMA_VERSION}); update the app to open it`,
    );
  }
  const pending = MIGRATIONS.filter((m) => m.id > from);
  if (pending.length === 0) return from;
  // Foreign keys off while migrating, as SQLite's ALTER TABLE recipe requires (the
  // pragma is a no-op inside a transaction); violations are checked before each commit.
  const fkWasOn = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  try {
    for (const m of pending) {
      db.transaction(() => {
        m.up(db);
        const violations = db.pragma('foreign_key_check') as unknown[];
        if (violations.length > 0) {
          throw new Error(`migration ${m.id} (${m.name}) left ${violations.length} foreign key violations`);
        }
        db.pragma(`user_version = ${m.id}`);
      })();
    }
  } finally {
    if (fkWasOn) db.pragma('foreign_keys = ON');
  }
  return from;
}
