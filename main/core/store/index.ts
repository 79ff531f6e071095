/** The conversation store: history database, attachments on disk, full-text search. */
export { openStore, DB_FILE_NAME, ATTACHMENTS_DIR_NAME, MAX_ATTACHMENT_NAME } from './store.js';
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
} from './store.js';
export { StoreError } from './errors.js';
export { lockDataDir, LOCK_NAME, LOCK_PID_FILE } from './data-lock.js';
export type { DataLock, DataLockOptions } from './data-lock.js';
export type { StoreErrorCode } from './errors.js';
export { LATEST_SCHEMA_VERSION } from './migrations.js';
