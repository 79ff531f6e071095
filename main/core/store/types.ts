/**
 * The conversation store's public shapes: conversations, messages, attachments, search hits,
 * the streaming writer and the ConversationStore interface itself (implemented by
 * sqlite-store.ts, opened by openStore in store.ts). Types only, plus the one limit they carry.
 */
import type { ConversationOptions, MessageStatus, MessageTimings } from '../../api/contract.js';
import type { SalvageCounts } from './salvage.js';
import type { WalKeeper } from './wal-keeper.js';

/** Who wrote a message. */
export type MessageRole = 'system' | 'user' | 'assistant';
// Statuses, timings and answer options are the API's own (main/api/contract.ts): the store keeps what the UI shows.
export type { ConversationOptions, MessageStatus, MessageTimings };

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
  /** Its own answer options; each null inherits from the settings. */
  options: ConversationOptions;
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
  /**
   * Replaces all of its answer options (the caller checked their ranges). Returns false when the
   * conversation does not exist; throws StoreError('invalid_argument') for a value of the wrong type.
   */
  setConversationOptions(id: number, options: ConversationOptions): boolean;
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
