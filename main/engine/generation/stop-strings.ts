/**
 * Stop-string detection over streamed text deltas.
 */

/** What to show after a delta, and whether a stop string has been reached. */
export interface StopStringResult {
  /** Text safe to show now: everything before a match, minus a possible partial match at the end. */
  emit: string;
  /** True once a stop string has appeared; `emit` ends right before it and later pushes emit ''. */
  matched: boolean;
}

/**
 * Finds the first occurrence of any of `stopStrings` in a stream of text deltas, including
 * occurrences that span deltas. Text that could be the start of a stop string is held back
 * until the next delta decides it; the answer is cut right before the earliest match.
 * Per push the work is O((held + delta length) × number of stop strings).
 */
export class StopStringMatcher {
  private held = '';
  private found = false;
  private readonly stopStrings: readonly string[];

  /** @throws Error when a stop string is empty (it would match before any text). */
  constructor(stopStrings: readonly string[]) {
    if (stopStrings.some((s) => s.length === 0)) throw new Error('stop strings must not be empty');
    this.stopStrings = [...stopStrings];
  }

  /** True once a stop string has been found. */
  get matched(): boolean {
    return this.found;
  }

  /** Feeds the next delta; returns the text to show now and whether a stop string was reached. */
  push(delta: string): StopStringResult {
    if (this.found) return { emit: '', matched: true };
    const buffer = this.held + delta;
    let cut = -1;
    for (const stop of this.stopStrings) {
      const at = buffer.indexOf(stop);
      if (at !== -1 && (cut === -1 || at < cut)) cut = at;
    }
    if (cut !== -1) {
      this.found = true;
      this.held = '';
      return { emit: buffer.slice(0, cut), matched: true };
    }
    const keep = this.partialMatchLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { emit: buffer.slice(0, buffer.length - keep), matched: false };
  }

  /**
   * End of stream: feeds the last delta (if any) and returns all remaining text to show; text
   * held back as a possible partial match is released, since no more text can complete it.
   */
  flush(lastDelta = ''): string {
    const { emit, matched } = this.push(lastDelta);
    if (matched) return emit;
    const rest = this.held;
    this.held = '';
    return emit + rest;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialMatchLength(text: string): number {
    let best = 0;
    for (const stop of this.stopStrings) {
      for (let n = Math.min(stop.length - 1, text.length); n > best; n--) {
        if (text.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
