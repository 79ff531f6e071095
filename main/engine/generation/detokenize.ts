/**
 * Incremental detokenization for streaming, as text-generation-inference's `decode_token`
 * (prefix_offset / read_offset): each new token is decoded together with a few tokens before
 * it, and the text beyond what those tokens alone decode to is the delta.
 */

/** Decodes token ids to text, e.g. `(ids) => tokenizer.decode(ids, { skip_special_tokens: true })`. */
export type DecodeFn = (ids: number[]) => string;

const REPLACEMENT = '\uFFFD';

/**
 * Turns a stream of token ids into text deltas that are safe to show.
 *
 * Why the prefix window: SentencePiece (Metaspace) decoders drop the leading space of the
 * decoded text, so decoding a token alone loses its space; decoding it after its predecessors
 * and cutting off their text keeps it. Why the hold-back: a byte-fallback token such as
 * `<0xE2>` decodes to U+FFFD until the rest of its UTF-8 sequence arrives, so nothing is
 * emitted while the decoded tail ends with U+FFFD. A model that emits invalid bytes is held
 * only until the next token that decodes cleanly, or `flush()`.
 *
 * Invariant: the concatenation of every `push` result and `flush()` equals `decode(allIds)`
 * for tokenizers whose decoding of a suffix extends the decoding of its prefix (checked in
 * tests against the Llama SentencePiece tokenizer).
 */
export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** Start of the window decoded with each new token. */
  private prefixOffset = 0;
  /** Ids before this have been emitted. */
  private readOffset = 0;
  /** decode(ids[prefixOffset..readOffset)), cached between pushes. */
  private prefixText = '';

  constructor(private readonly decode: DecodeFn) {}

  /** Appends one token id; returns the newly displayable text ('' when held back). */
  push(id: number): string {
    this.ids.push(id);
    const text = this.decode(this.ids.slice(this.prefixOffset));
    if (text.length <= this.prefixText.length || text.endsWith(REPLACEMENT)) return '';
    return this.advance(text);
  }

  /** Returns whatever is still held back (possibly ending in U+FFFD); later pushes continue after it. */
  flush(): string {
    if (this.readOffset === this.ids.length) return '';
    return this.advance(this.decode(this.ids.slice(this.prefixOffset)));
  }

  /** Emits `text` (the decoded window) beyond the prefix and slides the window past it. */
  private advance(text: string): string {
    const delta = text.slice(this.prefixText.length);
    this.prefixOffset = this.readOffset;
    this.readOffset = this.ids.length;
    this.prefixText = this.decode(this.ids.slice(this.prefixOffset, this.readOffset));
    return delta;
  }
}
