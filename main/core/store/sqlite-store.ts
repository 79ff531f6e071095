/**
 * The SQLite-backed ConversationStore (types.ts): conversations, messages (added whole or
 * streamed through stream-writer.ts), attachments (files via attachment-files.ts, rows here),
 * search (search.ts) and the clean close. Opened only by openStore (store.ts), which owns the
 * file, its recovery and the in-use marker.
 *
 * One process writes, through one connection; better-sqlite3 is synchronous, so calls never
 * interleave.
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { MessageStatus } from '../../api/contract.js';
import { attachmentFilePath, removeAttachmentFile, sweepAttachmentFiles, writeAttachmentFile } from './attachment-files.js';
import { StoreError } from './errors.js';
import { toAttachment, toConversation, toMessage } from './rows.js';
import { prepareSearch, type SearchHistory } from './search.js';
import { prepareStatements, type Statements } from './statements.js';
import { StreamWriter } from './stream-writer.js';
import {
  MAX_ATTACHMENT_NAME,
  type AssistantMessageWriter,
  type AttachmentInfo,
  type AttachmentText,
  type Conversation,
  type ConversationStore,
  type ConversationSummary,
  type ConversationOptions,
  type ConversationWithMessages,
  type Message,
  type MessageRole,
  type NewMessage,
  type OcrTokensSetting,
  type SearchHit,
  type StoreRecovery,
} from './types.js';
import { WalKeeper } from './wal-keeper.js';

/** Characters of the last message shown in the history list. */
const PREVIEW_CHARS = 160;

/** What the store needs from openStore besides the open connection. */
export interface SqliteStoreOptions {
  /** The database file. */
  file: string;
  /** The attachments folder (created on first put). */
  attachmentsRoot: string;
  /** What openStore did about a damaged database; null when nothing. */
  recovered: StoreRecovery | null;
  /** Batching of streamed replies (stream-writer.ts). */
  streaming: { flushIntervalMs: number; flushChars: number };
  /** How long a checkpoint may wait for a lock, ms (wal-keeper.ts). */
  busyTimeoutMs: number;
  /** Runs after the connection closed cleanly (openStore removes its in-use marker). */
  onClosed: () => void;
}

/** The store over one open, migrated connection; see SqliteStoreOptions. Sweeps orphan attachments when constructed. */
export class SqliteConversationStore implements ConversationStore {
  private readonly writers = new Set<StreamWriter>();
  private readonly stmt: Statements;
  private readonly searchHistory: SearchHistory;
  private readonly db: Database.Database;
  private readonly attachmentsRoot: string;
  private readonly streaming: { flushIntervalMs: number; flushChars: number };
  private readonly onClosed: () => void;
  readonly file: string;
  readonly recovered: StoreRecovery | null;

  constructor(db: Database.Database, options: SqliteStoreOptions) {
    this.db = db;
    this.file = options.file;
    this.attachmentsRoot = options.attachmentsRoot;
    this.recovered = options.recovered;
    this.streaming = options.streaming;
    this.onClosed = options.onClosed;
    this.wal = new WalKeeper(db, `${options.file}-wal`, options.busyTimeoutMs);
    this.stmt = prepareStatements(db);
    this.searchHistory = prepareSearch(db);
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

  setConversationOptions(id: number, options: ConversationOptions): boolean {
    const o = options;
    const num = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));
    if (!(o.systemPrompt === null || typeof o.systemPrompt === 'string') || !num(o.temperature) || !num(o.top_p) || !num(o.max_new_tokens) || !(o.greedy === null || typeof o.greedy === 'boolean')) {
      throw new StoreError('invalid_argument', `conversation options of the wrong type: ${JSON.stringify(options)}`);
    }
    const greedy = o.greedy === null ? null : o.greedy ? 1 : 0;
    return this.stmt.setOptions.run({ id, systemPrompt: o.systemPrompt, temperature: o.temperature, topP: o.top_p, maxNewTokens: o.max_new_tokens, greedy }).changes > 0;
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
    return this.searchHistory(query, options);
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
      this.onClosed();
    }
  }
}
