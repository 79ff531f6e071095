// Column specifications of array-like environments (`\begin{array}{*{2}{c}}`): LaTeX's
// repetition `*{n}{spec}` (Word and OCR models write `{*{20}{c}}`) expanded into the plain
// columns KaTeX reads (`cc`), nested forms included, within a bound on the columns.

/** Environments whose first argument is a column specification KaTeX reads. */
export const COLUMN_SPEC_ENVS: ReadonlySet<string> = new Set(['array', 'darray', 'subarray']);

/** Most columns an expansion may produce (LaTeX's own tables stay far below; KaTeX lays each one out). */
export const MAX_COLUMNS = 100;

/** Most characters an expansion may produce (rules `|` and `:` count here, not as columns). */
const MAX_SPEC_LENGTH = 4 * MAX_COLUMNS;

/** One argument of `*`: a braced group (its content) or a single character; `end` is just past it. */
function readArg(spec: string, at: number): { text: string; end: number } | null {
  let i = at;
  while (spec[i] === ' ') i++;
  if (i >= spec.length || spec[i] === '}') return null;
  if (spec[i] !== '{') return { text: spec[i]!, end: i + 1 };
  let depth = 0;
  for (let k = i; k < spec.length; k++) {
    if (spec[k] === '{') depth++;
    else if (spec[k] === '}' && --depth === 0) return { text: spec.slice(i + 1, k), end: k + 1 };
  }
  return null;
}

/** Columns of an expanded specification: its letters outside braces (`c`, `l`, `r`, `p{…}` …). */
function columnsOf(spec: string): number {
  let depth = 0;
  let n = 0;
  for (const c of spec) {
    if (c === '{') depth++;
    else if (c === '}') depth--;
    else if (depth === 0 && /[A-Za-z]/.test(c)) n++;
  }
  return n;
}

/** `spec` with every `*{n}{s}` expanded, or null when one is malformed or the result is over the bounds. */
function expand(spec: string, depth: number): string | null {
  if (depth > 8) return null;
  let out = '';
  let i = 0;
  while (i < spec.length) {
    const c = spec[i]!;
    if (c === '{') {
      // A braced argument of a column type (p{2cm}, @{…}): copied as it is.
      const group = readArg(spec, i);
      if (!group) return null;
      out += spec.slice(i, group.end);
      i = group.end;
    } else if (c === '*') {
      const count = readArg(spec, i + 1);
      const body = count ? readArg(spec, count.end) : null;
      if (!count || !body || !/^\s*\d{1,3}\s*$/.test(count.text)) return null;
      const n = Number(count.text);
      const inner = expand(body.text, depth + 1);
      if (inner === null || n * columnsOf(inner) > MAX_COLUMNS || n * inner.length > MAX_SPEC_LENGTH) return null;
      out += inner.repeat(n);
      i = body.end;
    } else {
      out += c;
      i++;
    }
    if (out.length > MAX_SPEC_LENGTH) return null;
  }
  return columnsOf(out) > MAX_COLUMNS ? null : out;
}

/**
 * Expands LaTeX's column repetition `*{n}{spec}` in a column specification: `*{2}{c}` → `cc`,
 * `*{2}{|c}|` → `|c|c|`, `*{2}{*{2}{c}|}` → `cc|cc|`; `n` is 0 to 999 written in digits.
 * @returns the expanded specification, or null when it has no `*`, a `*` is malformed, or the
 *   result would have more than MAX_COLUMNS columns (then the formula is left to KaTeX's error).
 */
export function expandColumnSpec(spec: string): string | null {
  if (!spec.includes('*')) return null;
  return expand(spec, 0);
}
