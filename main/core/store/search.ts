/**
 * Full-text search of the history: the FTS5 statements over message text and attachment text,
 * each index ranked by itself, merged per message, with snippets parsed into plain text and
 * highlight ranges (query and snippet syntax: fts.ts).
 */
import type Database from 'better-sqlite3';
import { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, parseSnippet, toFtsQuery } from './fts.js';
import type { SearchHit } from './types.js';

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

/** Searches the history: query as typed, best match first, at most `limit` (default 50) hits. */
export type SearchHistory = (query: string, options?: { limit?: number }) => SearchHit[];

/**
 * Prepares the search statements on `db` (schema already migrated) and returns the search.
 * Any user input is safe (see toFtsQuery); returns [] when nothing searchable was typed.
 */
export function prepareSearch(db: Database.Database): SearchHistory {
  const stmt = {
    // Each index ranked on its own with ORDER BY rank, which FTS5 consumes: it sorts by bm25
    // itself, so snippet() runs only for the rows returned (the LIMIT), not for every
    // candidate (that cost ~20 ms for a common word at 100 000 messages). The lowest rowid
    // among the newest @candidates matches bounds each index as a rowid range, which FTS5
    // applies while matching (see SEARCH_CANDIDATES). The two lists are merged below.
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

  return (query, options = {}) => {
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
    for (const r of stmt.searchMessages.all(args)) offer(r.id, r.rank, 'message', r.snippet);
    for (const r of stmt.searchAttachmentText.all(args)) {
      for (const m of stmt.messagesWithText.all(r.id)) offer(m.message_id, r.rank, 'attachment', r.snippet);
    }
    const ranked = [...best].sort(([a, x], [b, y]) => x.rank - y.rank || b - a).slice(0, limit);
    const hits: SearchHit[] = [];
    for (const [messageId, r] of ranked) {
      const where = stmt.hitConversation.get(messageId);
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
  };
}
