/**
 * The streamed assistant reply: StreamWriter batches text deltas (by size and by time) and hands
 * them to a StreamSink, which the store backs with its prepared statements. The batching knows no
 * SQL; the store knows no timers.
 */
import type { MessageStatus, MessageTimings } from '../../api/contract.js';
import { StoreError } from './errors.js';
import type { AssistantMessageWriter } from './types.js';

/** Whether UTF-16 code unit `code` is the first half of a surrogate pair. */
function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Storage callbacks a StreamWriter drives; kept apart so batching logic stays plain. */
export interface StreamSink {
  append(text: string): void;
  finish(text: string, status: MessageStatus, error: string | null, timings: MessageTimings | null): void;
  done(): void;
}

/**
 * Batches one streamed reply: `append` buffers, and the buffer goes to the sink once it holds
 * `limits.flushChars` UTF-16 code units or `limits.flushIntervalMs` ms after its oldest text.
 * A failed background flush is thrown by the next call; calls after the end throw
 * StoreError('writer_finished').
 */
export class StreamWriter implements AssistantMessageWriter {
  private buffer = '';
  private timer: NodeJS.Timeout | null = null;
  private finished = false;
  private backgroundError: unknown = null;

  constructor(
    readonly messageId: number,
    private readonly limits: { flushIntervalMs: number; flushChars: number },
    private readonly sink: StreamSink,
  ) {}

  append(textDelta: string): void {
    this.check();
    if (textDelta === '') return;
    this.buffer += textDelta;
    if (this.buffer.length >= this.limits.flushChars) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        try {
          this.persist();
        } catch (err) {
          this.backgroundError = err;
        }
      }, this.limits.flushIntervalMs);
      // A pending flush must not keep a CLI process alive.
      this.timer.unref();
    }
  }

  flush(): void {
    this.check();
    this.persist();
  }

  complete(timings?: MessageTimings): void {
    this.finish('complete', null, timings ?? null);
  }

  fail(error: string | Error): void {
    this.finish('error', typeof error === 'string' ? error : error.message, null);
  }

  interrupt(reason?: string): void {
    if (reason !== undefined) return this.finish('partial', reason, null);
    this.check();
    this.persist(true);
    this.end();
  }

  private finish(status: MessageStatus, error: string | null, timings: MessageTimings | null): void {
    this.check();
    this.sink.finish(this.buffer, status, error, timings);
    this.buffer = '';
    this.end();
  }

  /**
   * Writes the buffer. Unless `final`, a trailing high surrogate waits: its pair is still
   * to come, and a lone half would be stored as U+FFFD.
   */
  private persist(final = false): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const holdBack = !final && isHighSurrogate(this.buffer.charCodeAt(this.buffer.length - 1));
    const cut = holdBack ? this.buffer.length - 1 : this.buffer.length;
    if (cut === 0) return;
    this.sink.append(this.buffer.slice(0, cut));
    this.buffer = this.buffer.slice(cut);
  }

  private end(): void {
    this.finished = true;
    this.sink.done();
  }

  private check(): void {
    if (this.finished) throw new StoreError('writer_finished', `the reply stream of message ${this.messageId} has already ended`);
    if (this.backgroundError !== null) {
      const err = this.backgroundError;
      this.backgroundError = null;
      throw err;
    }
  }
}
