/**
 * Rows as SQLite returns them (snake_case columns) and their conversion into the store's public
 * shapes (types.ts). A malformed stored value (timings JSON) reads as null, never as a throw.
 */
import type { MessageStatus, MessageTimings } from '../../api/contract.js';
import type { AttachmentInfo, Conversation, Message, MessageRole, OcrTokensSetting } from './types.js';

/** A `messages` row. */
export interface MessageRow {
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

/** A `conversations` row. */
export interface ConversationRow {
  id: number;
  title: string;
  created_at: number;
  updated_at: number;
  pinned: number;
  folder: string | null;
  ocr_tokens: OcrTokensSetting;
  /** Answer options (schema v6); NULL inherits. Absent in rows read before the migration. */
  system_prompt?: string | null;
  temperature?: number | null;
  top_p?: number | null;
  max_new_tokens?: number | null;
  /** 0 / 1, or NULL. */
  greedy?: number | null;
}

/** An `attachments` row (times ms since the epoch, byte_size bytes). */
export interface AttachmentRow {
  sha256: string;
  mime: string;
  byte_size: number;
  width: number | null;
  height: number | null;
  created_at: number;
  /** From message_attachments, when read through a message. */
  name?: string;
}

/** A conversations row as a Conversation (pinned 0/1 → boolean, greedy 0/1/NULL → boolean or null). */
export function toConversation(r: ConversationRow): Conversation {
  const options = {
    systemPrompt: r.system_prompt ?? null,
    temperature: r.temperature ?? null,
    top_p: r.top_p ?? null,
    max_new_tokens: r.max_new_tokens ?? null,
    greedy: r.greedy === null || r.greedy === undefined ? null : r.greedy === 1,
  };
  return { id: r.id, title: r.title, createdAt: r.created_at, updatedAt: r.updated_at, pinned: r.pinned === 1, folder: r.folder, ocrTokens: r.ocr_tokens, options };
}

/** An attachments row as AttachmentInfo; `name` only when the row came through a message and has one. */
export function toAttachment(r: AttachmentRow): AttachmentInfo {
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

/** A messages row with its attachments (in display order) as a Message; unreadable timings become null. */
export function toMessage(r: MessageRow, attachments: AttachmentInfo[]): Message {
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
