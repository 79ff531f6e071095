/**
 * Size limits of what a user or a client may send, shared by the service (which enforces them
 * before anything is stored or tokenized), the web bridge and the renderer (which says them
 * before sending). Pure: no imports, safe in the browser.
 */

/**
 * Longest question, in characters (UTF-16 code units, what JavaScript counts): 100 000 is about
 * 25 000 tokens of English prose at ~4 characters a token, more than fits beside an image in the
 * 32 768-token context of Mistral-7B (OmniFusion 1.1's decoder) or the 8 192 of SmolVLM. A longer
 * text belongs in a document attachment. Refused in one line, before tokenization.
 */
export const MAX_QUESTION_CHARS = 100_000;

/** Longest search query, in characters: far beyond any phrase a person types; FTS5 cost grows with the terms. */
export const MAX_SEARCH_CHARS = 500;

/** The one-line refusal of a question over MAX_QUESTION_CHARS, or undefined when it fits. */
export function questionTooLong(text: string): string | undefined {
  if (text.length <= MAX_QUESTION_CHARS) return undefined;
  return `the question is ${text.length.toLocaleString('en-US')} characters; at most ${MAX_QUESTION_CHARS.toLocaleString('en-US')} are accepted (attach a long text as a document instead)`;
}

/** The one-line refusal of a search query over MAX_SEARCH_CHARS, or undefined when it fits. */
export function searchTooLong(query: string): string | undefined {
  if (query.length <= MAX_SEARCH_CHARS) return undefined;
  return `the search is ${query.length.toLocaleString('en-US')} characters; at most ${MAX_SEARCH_CHARS} are accepted`;
}
