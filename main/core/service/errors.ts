/**
 * The service's errors: ApiRequestError (a request the service refuses) and how any error a call
 * ends with becomes the API's one-line error payload (describeError).
 */
import type { ApiErrorPayload } from '../../api/contract.js';
import { ImageInputError } from '../../media/images/index.js';
import { StoreError } from '../store/index.js';
import { CatalogError, ModelError } from '../models/index.js';
import { EngineError } from './engine-port.js';

/** A request the service refuses; one line for the user. */
export class ApiRequestError extends Error {
  override name = 'ApiRequestError';
  constructor(
    readonly code: ApiErrorPayload['code'],
    message: string,
  ) {
    super(message);
  }
}

/**
 * Any error a call ended with as the payload a client gets: the code of its kind and one line
 * (an unexpected error is 'internal' with the first line of its message; never a stack trace).
 */
export function describeError(err: unknown): ApiErrorPayload {
  if (err instanceof ApiRequestError) return { code: err.code, message: err.message };
  if (err instanceof ImageInputError) return { code: 'bad_image', message: err.message };
  if (err instanceof EngineError) return { code: err.code === 'bad_image' ? 'bad_image' : 'engine', message: err.message };
  if (err instanceof StoreError) return { code: err.code === 'not_found' ? 'not_found' : 'bad_request', message: err.message };
  if (err instanceof ModelError) return { code: err.code === 'not_found' || err.code === 'not_installed' ? 'not_found' : 'bad_request', message: err.message };
  if (err instanceof CatalogError) return { code: 'bad_request', message: err.message };
  if (err instanceof SyntaxError) return { code: 'bad_request', message: `malformed request: ${err.message}` };
  return { code: 'internal', message: `internal error: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
}

/** An error's message as one line for the user (line breaks and the blanks around them become one space). */
export function oneLineMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
