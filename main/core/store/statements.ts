/**
 * The store's prepared statements for conversations, messages and attachments (search has its
 * own, in search.ts): every SQL text the store runs on its hot paths, prepared once per open.
 */
import type Database from 'better-sqlite3';
import type { MessageStatus } from '../../api/contract.js';
import type { AttachmentRow, ConversationRow, MessageRow } from './rows.js';
import type { MessageRole, OcrTokensSetting } from './types.js';

/** Prepares every statement on `db` (schema already migrated); throws SQLite's error when the schema lacks a table. */
export function prepareStatements(db: Database.Database) {
  return {
    insertConversation: db.prepare<[string, number, number], ConversationRow>(
      'INSERT INTO conversations (title, created_at, updated_at) VALUES (?, ?, ?) RETURNING *',
    ),
    getConversation: db.prepare<[number], ConversationRow>('SELECT * FROM conversations WHERE id = ?'),
    touchConversation: db.prepare<[number, number]>('UPDATE conversations SET updated_at = ? WHERE id = ?'),
    renameConversation: db.prepare<[string, number]>('UPDATE conversations SET title = ? WHERE id = ?'),
    setPinned: db.prepare<[number, number]>('UPDATE conversations SET pinned = ? WHERE id = ?'),
    setOcrTokens: db.prepare<[OcrTokensSetting, number]>('UPDATE conversations SET ocr_tokens = ? WHERE id = ?'),
    setFolder: db.prepare<[string | null, number]>('UPDATE conversations SET folder = ? WHERE id = ?'),
    setOptions: db.prepare<[{ id: number; systemPrompt: string | null; temperature: number | null; topP: number | null; maxNewTokens: number | null; greedy: number | null }]>(
      `UPDATE conversations SET system_prompt = @systemPrompt, temperature = @temperature, top_p = @topP,
       max_new_tokens = @maxNewTokens, greedy = @greedy WHERE id = @id`,
    ),
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
  };
}

/** The prepared statements of one connection, by name. */
export type Statements = ReturnType<typeof prepareStatements>;
