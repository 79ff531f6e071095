// The shape of a conversation the export functions read (a subset of the API's Conversation).

import type { MetaSource } from '../message-meta.js';

/** An image attached to a message, as the export reads it. */
export interface ExportAttachment {
  sha256: string;
  mime: string;
  /** The name it was attached under; may be empty. */
  name: string;
  /** Where the renderer fetches its bytes (the API's `/files/<sha256>`). */
  url?: string;
}

/** One message, as the export reads it; an answer's model and timings (MetaSource) go in its meta line. */
export interface ExportMessage extends MetaSource {
  role: 'user' | 'assistant';
  content: string;
  /** 'partial' and 'error' answers are marked as such. */
  status?: string;
  error?: string;
  /** ms since the epoch. */
  createdAt?: number;
  attachments: readonly ExportAttachment[];
}

/** A conversation to export: its title and the messages shown, in order. */
export interface ExportConversation {
  title: string;
  messages: readonly ExportMessage[];
}

/** Export formats. */
export type ExportFormat = 'markdown' | 'html';

/**
 * The export date as written in both formats: local `YYYY-MM-DD HH:MM`.
 */
export function formatExportDate(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())} ${p(date.getHours())}:${p(date.getMinutes())}`;
}

/** The note shown under an answer that did not finish, or '' for a complete one. */
export function statusNote(message: ExportMessage): string {
  if (message.role !== 'assistant') return '';
  if (message.status === 'partial') return 'Answer stopped before it was complete.';
  if (message.status === 'error') return `Answer failed${message.error ? `: ${message.error}` : '.'}`;
  return '';
}
