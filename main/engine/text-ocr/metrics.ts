/**
 * Character error rate of recognised text against a reference (for the OCR benchmark and tests).
 *
 * Normalisation before comparing, the same on both sides: Unicode NFKC (full-width forms and
 * ligatures to their plain letters: the recogniser's dictionary has both `:` and `：`), every run
 * of whitespace (spaces, line breaks, blank lines between blocks) to one space, trimmed. Case and
 * punctuation are kept: they are part of reading a page right.
 *
 * proseFragments turns a Markdown-with-math transcription (texify's, `$…$` and `$$…$$`) into the
 * prose between the formulas, for a fragment CER of what a text recogniser is meant to read.
 */

/** Text as compared: NFKC, whitespace runs collapsed to one space, trimmed. */
export function normalizeText(text: string): string {
  return text.normalize('NFKC').replace(/\s+/gu, ' ').trim();
}

/** Code points of a string (so a character outside the BMP counts once). */
function chars(s: string): string[] {
  return Array.from(s);
}

/** Levenshtein distance (insertions, deletions, substitutions, each 1) over code points. */
export function levenshtein(a: string, b: string): number {
  const x = chars(a);
  const y = chars(b);
  if (!x.length) return y.length;
  if (!y.length) return x.length;
  let prev = new Uint32Array(y.length + 1).map((_, j) => j);
  let cur = new Uint32Array(y.length + 1);
  for (let i = 1; i <= x.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= y.length; j++) {
      const sub = prev[j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[y.length]!;
}

/**
 * Fewest edits that turn `fragment` into some substring of `text` (approximate substring
 * matching, Sellers 1980: Levenshtein with a free start and end in `text`).
 */
export function substringDistance(fragment: string, text: string): number {
  const f = chars(fragment);
  const t = chars(text);
  if (!f.length) return 0;
  // Rows over the fragment, columns over the text; row 0 is all zeros (start anywhere).
  let prev = new Uint32Array(t.length + 1);
  let cur = new Uint32Array(t.length + 1);
  for (let i = 1; i <= f.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const sub = prev[j - 1]! + (f[i - 1] === t[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return Math.min(...prev);
}

/** Edits and reference length behind a CER. */
export interface CerResult {
  /** edits / referenceChars (0 when the reference is empty). */
  cer: number;
  edits: number;
  referenceChars: number;
}

/** CER of a whole page: Levenshtein(normalised hypothesis, normalised reference) / reference length. */
export function pageCer(hypothesis: string, reference: string): CerResult {
  const ref = normalizeText(reference);
  const edits = levenshtein(normalizeText(hypothesis), ref);
  const n = chars(ref).length;
  return { cer: n ? edits / n : 0, edits, referenceChars: n };
}

/**
 * CER of a partial transcription (some lines of a page, e.g. a receipt's items): each fragment is
 * matched to its best place in the page text (substringDistance); edits summed over fragments /
 * fragment characters summed. Text of the page that no fragment covers is not counted.
 */
export function fragmentCer(hypothesis: string, fragments: readonly string[]): CerResult {
  const hyp = normalizeText(hypothesis);
  let edits = 0;
  let n = 0;
  for (const fragment of fragments) {
    const f = normalizeText(fragment);
    edits += substringDistance(f, hyp);
    n += chars(f).length;
  }
  return { cer: n ? edits / n : 0, edits, referenceChars: n };
}

/**
 * The prose of a transcription in Markdown with math: display (`$$…$$`) and inline (`$…$`)
 * formulas cut out, the pieces between them trimmed, pieces under 3 characters (a comma between
 * two formulas) left out. For fragmentCer.
 */
export function proseFragments(markdown: string): string[] {
  return markdown
    .replace(/\$\$[\s\S]*?\$\$/g, '\u0000')
    .replace(/\$[^$]*\$/g, '\u0000')
    .split('\u0000')
    .map((s) => s.trim())
    .filter((s) => s.length >= 3);
}
