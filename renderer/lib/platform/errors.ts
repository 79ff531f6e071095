/** The error every API call rejects with, whichever platform carries it. */
import type { ApiErrorPayload } from '../../../main/api/contract';

/** Codes of the contract, plus what only the transport can know. */
export type ApiErrorCode = ApiErrorPayload['code'] | 'unauthorized' | 'network';

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  constructor(code: ApiErrorCode, message: string) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
  }
}

/** One line for the user, from anything a call may throw. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') return err.message;
  return String(err);
}
