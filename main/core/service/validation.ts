/**
 * The request field checkers: requests come from a page or over HTTP, so a field of the wrong
 * type or shape is the caller's mistake, answered with a one-line ApiRequestError (bad_request)
 * that names the field, never an internal error. Also the limits on titles, file and folder names.
 */
import type { ConversationOptions } from '../../api/contract.js';
import { answerOptionProblem, CONVERSATION_OPTION_KEYS } from '../../api/answer-options.js';
import { questionTooLong, searchTooLong } from '../../api/limits.js';
import { ApiRequestError } from './errors.js';

/** Longest conversation title, characters. */
export const MAX_TITLE = 200;
/** Longest attachment file name, characters. */
export const MAX_ATTACHMENT_NAME = 255;
/** Longest folder name, in characters. */
export const MAX_FOLDER_NAME = 60;

/** A sha256 as the store names attachments: 64 lowercase hex digits. */
const SHA256 = /^[0-9a-f]{64}$/;

/** Whether `value` is the sha256 of an attachment (64 lowercase hex digits; not whether one exists). */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256.test(value);
}

/** A request field that must be text (absent → ''). @throws ApiRequestError (bad_request) naming the field. */
export function text(value: unknown, field: string): string {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new ApiRequestError('bad_request', `${field} must be text`);
  return value;
}

/** A conversation title from a request, trimmed ('' when absent), at most MAX_TITLE characters. @throws ApiRequestError (bad_request). */
export function titleText(value: unknown): string {
  const title = text(value, 'title').trim();
  if ([...title].length > MAX_TITLE) throw new ApiRequestError('bad_request', `the title is longer than ${MAX_TITLE} characters`);
  return title;
}

/** A question from a request, trimmed; refused over MAX_QUESTION_CHARS (api/limits.ts) before anything reads it further, and when empty. @throws ApiRequestError (bad_request). */
export function questionText(value: unknown): string {
  const raw = text(value, 'text');
  const tooLong = questionTooLong(raw);
  if (tooLong) throw new ApiRequestError('bad_request', tooLong);
  const question = raw.trim();
  if (!question) throw new ApiRequestError('bad_request', 'the message is empty');
  return question;
}

/** A search query from a request; refused over MAX_SEARCH_CHARS (api/limits.ts). @throws ApiRequestError (bad_request). */
export function searchText(value: unknown): string {
  const query = text(value, 'query');
  const tooLong = searchTooLong(query);
  if (tooLong) throw new ApiRequestError('bad_request', tooLong);
  return query;
}

/** An attachment's file name from a request ('' when absent), at most MAX_ATTACHMENT_NAME characters, no control characters. @throws ApiRequestError (bad_request) naming the field. */
export function fileName(value: unknown): string {
  if (value !== undefined && value !== null && typeof value !== 'string') throw new ApiRequestError('bad_request', 'name must be text (the file name)');
  const name = text(value, 'name');
  if ([...name].length > MAX_ATTACHMENT_NAME) throw new ApiRequestError('bad_request', `name is longer than ${MAX_ATTACHMENT_NAME} characters`);
  if (/\p{Cc}/u.test(name)) throw new ApiRequestError('bad_request', 'name has control characters');
  return name;
}

/** A request field that must be a list of attachment hashes (absent → []). @throws ApiRequestError (bad_request). */
export function hashes(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isSha256)) {
    throw new ApiRequestError('bad_request', `${field} must be a list of sha256 hashes of added images`);
  }
  return value;
}

/** A store id (a positive safe integer) from its text form; `what` names it in the error. @throws ApiRequestError (bad_request). */
export function toId(id: string, what: string): number {
  const n = Number(id);
  if (!Number.isSafeInteger(n) || n < 1) throw new ApiRequestError('bad_request', `${what} "${id}" is not a valid id`);
  return n;
}

/**
 * A conversations.setOptions patch: an object of some ConversationOptions fields, each null
 * (inherit from Settings) or in its range (main/api/answer-options.ts). A system prompt is kept as
 * typed ('' = none).
 * @throws ApiRequestError (bad_request) naming the first field that is wrong and its range, or an unknown field.
 */
export function optionsPatch(value: unknown): Partial<ConversationOptions> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiRequestError('bad_request', 'options must be an object of conversation options');
  const patch: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (!(CONVERSATION_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new ApiRequestError('bad_request', `unknown conversation option "${key}" (one of ${CONVERSATION_OPTION_KEYS.join(', ')})`);
    }
    const problem = answerOptionProblem(key as (typeof CONVERSATION_OPTION_KEYS)[number], key, v, 'inherit');
    if (problem) throw new ApiRequestError('bad_request', problem);
    patch[key] = v;
  }
  return patch as Partial<ConversationOptions>;
}

/**
 * A folder name from a request, NFC-normalised (so "Re\u0301ceipts" and "Réceipts" are one folder)
 * and trimmed; null stays null (no folder). Format characters (\p{Cf}: zero-width spaces and
 * joiners, bidi marks and overrides, soft hyphens) are refused, since they make names that look
 * blank, look like another folder or display reversed; a zero-width joiner between two emoji
 * (one emoji sequence, like a family) is allowed.
 * @throws ApiRequestError (bad_request) naming the problem.
 */
export function folderName(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'string') throw new ApiRequestError('bad_request', 'folder must be text, or null for no folder');
  const normal = value.normalize('NFC');
  const emojiJoinersOut = normal.replace(/(?<=\p{Extended_Pictographic}[\u{FE0F}\p{Emoji_Modifier}]?)\u200D(?=\p{Extended_Pictographic})/gu, '');
  if (/\p{Cf}/u.test(emojiJoinersOut)) throw new ApiRequestError('bad_request', 'the folder name has invisible or direction-changing characters');
  const name = normal.trim();
  if (!name) throw new ApiRequestError('bad_request', 'the folder name is empty');
  if (/\p{Cc}/u.test(name)) throw new ApiRequestError('bad_request', 'the folder name has control characters');
  if (/[/\\]/.test(name)) throw new ApiRequestError('bad_request', 'the folder name cannot contain slashes');
  if ([...name].length > MAX_FOLDER_NAME) throw new ApiRequestError('bad_request', `the folder name is longer than ${MAX_FOLDER_NAME} characters`);
  return name;
}
