/**
 * Salvage of a damaged history database: every row that can still be read from the damaged copy
 * is copied into the fresh database that replaces it, so a few bad pages cost the user those
 * pages, not the whole history.
 *
 * SQLite reports damage per page, so rows are read by rowid ranges and, where a range fails, one
 * by one: a row is lost only when the page that holds it (or every path to it) is unreadable.
 * Rows are checked against the schema's constraints before they are written; a message whose
 * conversation row is lost gets a stand-in conversation under the same id ("Recovered
 * conversation"), and a message whose parent is lost hangs from the newest earlier message of its
 * conversation. The search index is rebuilt by the fresh database's triggers as rows arrive.
 */
import Database from 'better-sqlite3';

/** What a salvage copied, per table, and what the damaged copy claimed to hold where it could tell. */
export interface SalvageCounts {
  conversations: number;
  messages: number;
  attachments: number;
  /** Rows the damaged copy's sqlite_sequence or max(rowid) says existed (upper bounds; null where unreadable). */
  expected: { conversations: number | null; messages: number | null };
}

const CHUNK = 256;
/** Where no upper bound can be read, probing stops after this many missing rowids in a row. */
const MAX_GAP = 10_000;

type Row = Record<string, unknown>;

/** Reads every readable row of rowid table `table`, ascending, skipping rowids whose pages are damaged. */
function readableRows(src: Database.Database, table: string): { rows: Row[]; bound: number | null } {
  const tryGet = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  const seq = tryGet(() => src.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').pluck().get(table) as number | undefined);
  const max = tryGet(() => src.prepare(`SELECT max(rowid) FROM ${table}`).pluck().get() as number | null);
  const bound = Math.max(seq ?? 0, max ?? 0) || null;
  const range = tryGet(() => src.prepare(`SELECT rowid AS _rowid, * FROM ${table} WHERE rowid BETWEEN ? AND ? ORDER BY rowid`));
  const one = tryGet(() => src.prepare(`SELECT rowid AS _rowid, * FROM ${table} WHERE rowid = ?`));
  const rows: Row[] = [];
  if (!range || !one) return { rows, bound }; // the schema itself is unreadable
  let gap = 0;
  for (let lo = 1; bound !== null ? lo <= bound : gap < MAX_GAP; lo += CHUNK) {
    const hi = lo + CHUNK - 1;
    const chunk = tryGet(() => range.all(lo, hi) as Row[]);
    if (chunk) {
      rows.push(...chunk);
      gap = chunk.length ? 0 : gap + CHUNK;
      continue;
    }
    for (let id = lo; id <= hi; id++) {
      const row = tryGet(() => one.get(id) as Row | undefined);
      if (row) rows.push(row);
    }
  }
  return { rows, bound };
}

const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const str = (v: unknown): v is string => typeof v === 'string';
const optStr = (v: unknown): v is string | null => v === null || typeof v === 'string';

/**
 * Copies what can be read of the damaged database `damagedFile` into `fresh` (migrated, empty),
 * in one transaction. Never throws for damage: an unreadable file salvages nothing.
 */
export function salvageInto(damagedFile: string, fresh: Database.Database): SalvageCounts {
  const counts: SalvageCounts = { conversations: 0, messages: 0, attachments: 0, expected: { conversations: null, messages: null } };
  let src: Database.Database;
  try {
    src = new Database(damagedFile, { fileMustExist: true });
  } catch {
    return counts;
  }
  try {
    const now = Date.now();
    const conversations = readableRows(src, 'conversations');
    const messages = readableRows(src, 'messages');
    const attachments = readableRows(src, 'attachments');
    const texts = readableRows(src, 'attachment_text');
    counts.expected = { conversations: conversations.bound, messages: messages.bound };
    let links: Database.Statement | undefined;
    try {
      links = src.prepare('SELECT position, sha256, name FROM message_attachments WHERE message_id = ? ORDER BY position');
    } catch {
      links = undefined;
    }
    const insertConversation = fresh.prepare(
      `INSERT OR IGNORE INTO conversations (id, title, created_at, updated_at, pinned, folder, ocr_tokens, system_prompt, temperature, top_p, max_new_tokens, greedy)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertMessage = fresh.prepare(
      'INSERT OR IGNORE INTO messages (id, conversation_id, parent_id, role, content, status, model, error, timings, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    const insertAttachment = fresh.prepare('INSERT OR IGNORE INTO attachments (sha256, mime, byte_size, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)');
    const insertLink = fresh.prepare('INSERT OR IGNORE INTO message_attachments (message_id, position, sha256, name) VALUES (?, ?, ?, ?)');
    const insertText = fresh.prepare('INSERT OR IGNORE INTO attachment_text (id, sha256, source, text, created_at, layout) VALUES (?, ?, ?, ?, ?, ?)');
    fresh.transaction(() => {
      const conversationIds = new Set<number>();
      for (const c of conversations.rows) {
        if (!int(c.id) || !str(c.title) || !int(c.created_at) || !int(c.updated_at)) continue;
        const pinned = c.pinned === 1 ? 1 : 0;
        const ocr = c.ocr_tokens === 'on' || c.ocr_tokens === 'off' ? c.ocr_tokens : 'auto';
        // Answer options (v6) that break the schema's checks are dropped: the conversation inherits again.
        const positive = (v: unknown, max = Infinity) => (typeof v === 'number' && v > 0 && v <= max ? v : null);
        const options = [
          optStr(c.system_prompt) ? c.system_prompt : null,
          positive(c.temperature),
          positive(c.top_p, 1),
          int(c.max_new_tokens) && c.max_new_tokens >= 1 ? c.max_new_tokens : null,
          c.greedy === 0 || c.greedy === 1 ? c.greedy : null,
        ];
        if (insertConversation.run(c.id, c.title, c.created_at, c.updated_at, pinned, optStr(c.folder) ? c.folder : null, ocr, ...options).changes) {
          conversationIds.add(c.id);
          counts.conversations++;
        }
      }
      const attachmentShas = new Set<string>();
      for (const a of attachments.rows) {
        if (!str(a.sha256) || !/^[0-9a-f]{64}$/.test(a.sha256) || !str(a.mime) || !int(a.byte_size) || !int(a.created_at)) continue;
        const dim = (v: unknown) => (int(v) ? v : null);
        if (insertAttachment.run(a.sha256, a.mime, a.byte_size, dim(a.width), dim(a.height), a.created_at).changes) {
          attachmentShas.add(a.sha256);
          counts.attachments++;
        }
      }
      const lastInConversation = new Map<number, number>();
      const messageIds = new Set<number>();
      for (const m of messages.rows) {
        if (!int(m.id) || !int(m.conversation_id) || !str(m.content) || !int(m.created_at) || !int(m.updated_at)) continue;
        if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') continue;
        if (m.status !== 'complete' && m.status !== 'partial' && m.status !== 'error') continue;
        if (!conversationIds.has(m.conversation_id)) {
          insertConversation.run(m.conversation_id, 'Recovered conversation', m.created_at, m.updated_at, 0, null, 'auto', null, null, null, null, null);
          conversationIds.add(m.conversation_id);
          counts.conversations++;
        }
        const parent = int(m.parent_id) && messageIds.has(m.parent_id) ? m.parent_id : (lastInConversation.get(m.conversation_id) ?? null);
        const timings = optStr(m.timings) ? m.timings : null;
        if (!insertMessage.run(m.id, m.conversation_id, parent, m.role, m.content, m.status, optStr(m.model) ? m.model : null, optStr(m.error) ? m.error : null, timings, m.created_at, m.updated_at).changes) continue;
        messageIds.add(m.id);
        lastInConversation.set(m.conversation_id, m.id);
        counts.messages++;
        let linked: Row[] = [];
        try {
          linked = (links?.all(m.id) ?? []) as Row[];
        } catch {
          // The message's attachment links are on a damaged page: the message stays, without them.
        }
        for (const l of linked) {
          if (int(l.position) && str(l.sha256) && attachmentShas.has(l.sha256)) insertLink.run(m.id, l.position, l.sha256, str(l.name) ? l.name : '');
        }
      }
      for (const t of texts.rows) {
        if (!int(t.id) || !str(t.sha256) || !attachmentShas.has(t.sha256) || !str(t.source) || !str(t.text)) continue;
        insertText.run(t.id, t.sha256, t.source, t.text, int(t.created_at) ? t.created_at : now, optStr(t.layout) ? t.layout : null);
      }
    })();
  } finally {
    src.close();
  }
  return counts;
}
