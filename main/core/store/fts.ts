/**
 * Turning what a user types into a safe FTS5 query, and snippets into plain text with
 * highlight ranges.
 */

/** Terms beyond this many are ignored, so a pasted page cannot become a huge query. */
export const MAX_QUERY_TERMS = 32;

// Characters the unicode61 tokenizer keeps in tokens (letters, numbers, private use).
// A term without any produces an empty phrase, which would make the whole AND match nothing.
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;

/**
 * The FTS5 MATCH expression for free text: each whitespace-separated term becomes a
 * quoted phrase (so `"`, `*`, `-`, `AND`, `NEAR(` are just text), all terms must match,
 * and the last term matches as a prefix (results while typing) when it has at least
 * `minPrefixChars` characters; a shorter last term matches as a whole word. Returns null
 * when the input holds no searchable term.
 */
export function toFtsQuery(input: string, minPrefixChars = 1): string | null {
  const terms = input
    .split(/\s+/u)
    .filter((t) => TOKEN_CHAR.test(t))
    .slice(0, MAX_QUERY_TERMS);
  if (terms.length === 0) return null;
  const last = terms.length - 1;
  return terms
    .map((t, i) => `"${t.replaceAll('"', '""')}"${i === last && [...t].length >= minPrefixChars ? '*' : ''}`)
    .join(' ');
}

/** Private-use characters handed to snippet() as highlight markers; stripped again below. */
export const HIGHLIGHT_OPEN = '\uE000';
/** Closing highlight marker, see HIGHLIGHT_OPEN. */
export const HIGHLIGHT_CLOSE = '\uE001';

/** A snippet as plain text plus the [start, end) ranges (UTF-16 indices) of matched terms. */
export interface Snippet {
  text: string;
  highlights: Array<[number, number]>;
}

/**
 * Splits a snippet() result with HIGHLIGHT_OPEN/CLOSE markers into text and ranges, so
 * the renderer never has to treat stored text as markup.
 */
export function parseSnippet(marked: string): Snippet {
  let text = '';
  const highlights: Array<[number, number]> = [];
  let start = -1;
  for (const ch of marked) {
    if (ch === HIGHLIGHT_OPEN) start = text.length;
    else if (ch === HIGHLIGHT_CLOSE) {
      if (start >= 0 && text.length > start) highlights.push([start, text.length]);
      start = -1;
    } else text += ch;
  }
  return { text, highlights };
}
