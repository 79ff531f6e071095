/**
 * Errors the conversation store reports to its callers.
 *
 * Messages are one line, fit to show the user as they are; `code` is for code.
 */

/** Why a store operation was refused. */
export type StoreErrorCode =
  /** The database was written by a newer app version; it is left untouched. */
  | 'newer_schema'
  /** A conversation, message or attachment the call names does not exist. */
  | 'not_found'
  /** An argument is malformed (e.g. an attachment hash that is not 64 hex digits). */
  | 'invalid_argument'
  /** A streaming writer was used after complete(), fail() or interrupt(). */
  | 'writer_finished'
  /** The data folder is held by another OmniFusion process (see data-lock.ts). */
  | 'locked';

/** A refused store operation; `message` is one line. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  /** Machine-readable reason, stable across releases. */
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s*\n\s*/g, ' '), options);
    this.code = code;
  }
}
