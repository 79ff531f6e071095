/** Bounded retries with exponential backoff for downloads. */

/** Retry settings; all times in milliseconds. */
export interface RetryOptions {
  /** Retries after the first attempt, counted as consecutive failures without new bytes (default 5). */
  retries?: number;
  /** Delay before the first retry (ms, default 500); doubles each time. */
  baseDelayMs?: number;
  /** Cap of one delay (ms, default 30 000); also caps a server's Retry-After. */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryOptions> = { retries: 5, baseDelayMs: 500, maxDelayMs: 30_000 };

/** Wait `ms`, or reject with the signal's reason when it aborts. */
export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export const defaultSleep: SleepFn = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Delay before retry number `attempt` (0-based): baseDelayMs·2^attempt, capped at maxDelayMs,
 * scaled by a jitter factor in [0.5, 1] from `random` (()=>1 gives no jitter). A server's
 * Retry-After (ms) wins when it is longer, still capped.
 */
export function backoffDelay(attempt: number, options: Required<RetryOptions>, random: () => number = Math.random, retryAfterMs?: number): number {
  const exp = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** attempt);
  const jittered = Math.round(exp * (0.5 + 0.5 * Math.min(1, Math.max(0, random()))));
  const floor = retryAfterMs !== undefined ? Math.min(options.maxDelayMs, retryAfterMs) : 0;
  return Math.max(jittered, floor);
}

/** A Retry-After header (seconds or HTTP date) in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}
