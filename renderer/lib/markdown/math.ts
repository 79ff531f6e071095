// markdown-it plugin: finds math in Markdown. Inline: `$…$`, `$$…$$`, `\(…\)`, `\[…\]`.
// Blocks: `$$…$$`, `\[…\]` and bare math environments (`\begin{aligned}…\end{aligned}`)
// starting a line. The formulas are rendered by formula.ts.

import type MarkdownIt from 'markdown-it';
import type { StateBlock, StateInline } from 'markdown-it';
import { renderFormula, type KatexMacros } from './formula.js';

/** The part of the markdown-it `env` the math renderer uses. */
export interface MathEnv {
  /** The document's KaTeX macros, shared by its formulas in order. */
  macros?: KatexMacros;
}

/** Environments recognised as display math when written at the start of a line without delimiters. */
export const BARE_ENVIRONMENTS: ReadonlySet<string> = new Set([
  'equation', 'equation*', 'align', 'align*', 'aligned', 'alignat', 'alignat*', 'alignedat',
  'gather', 'gather*', 'gathered', 'multline', 'multline*', 'eqnarray', 'eqnarray*', 'split',
  'cases', 'dcases', 'rcases', 'matrix', 'pmatrix', 'bmatrix', 'Bmatrix', 'vmatrix', 'Vmatrix',
  'smallmatrix', 'array', 'darray', 'CD', 'displaymath',
]);

interface MathMeta {
  display: boolean;
  /** The formula as written, delimiters included. */
  raw: string;
}

const isSpace = (c: string | undefined): boolean => c !== undefined && /\s/.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Index of `closer` ending a formula whose content starts at `from`, or -1. Escaped
 * characters (`\$`, `\\`) are skipped; a `$` closer only counts outside braces, so the
 * `$` of `\text{for $r$}` does not end the formula.
 */
function findCloser(src: string, from: number, end: number, closer: string): number {
  let depth = 0;
  const last = end - closer.length;
  for (let i = from; i <= last; i++) {
    const c = src[i];
    if (c === '\\') {
      if (closer[0] === '\\' && src.startsWith(closer, i)) return i;
      i++;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      depth = Math.max(0, depth - 1);
    } else if (c === '$' && depth === 0 && src.startsWith(closer, i)) {
      return i;
    }
  }
  return -1;
}

// Inline rule; registered before `escape` so `\(` and `\[` keep their backslash, and
// after code spans in effect, since a backtick before the `$` is consumed first.
function mathInline(state: StateInline, silent: boolean): boolean {
  const { src, pos, posMax } = state;
  let open: string;
  let close: string;
  if (src[pos] === '\\' && (src[pos + 1] === '(' || src[pos + 1] === '[')) {
    open = src.slice(pos, pos + 2);
    close = open === '\\(' ? '\\)' : '\\]';
  } else if (src.startsWith('$$', pos)) {
    open = close = '$$';
  } else if (src[pos] === '$') {
    open = close = '$';
    // Pandoc's currency rule: `$` followed by a space does not open math.
    if (isSpace(src[pos + 1])) return false;
  } else {
    return false;
  }
  const start = pos + open.length;
  const end = findCloser(src, start, posMax, close);
  if (end < 0) return false;
  const content = src.slice(start, end);
  if (!content.trim()) return false;
  // A backtick means the "formula" runs into a code span: the code span wins.
  if (content.includes('`')) return false;
  // Pandoc's rule: the closing `$` follows a non-space and is not followed by a digit,
  // so "$5 or $50" and "costs $3.50 and $4" stay text.
  if (open === '$' && (isSpace(src[end - 1]) || isDigit(src[end + 1]))) return false;
  if (!silent) {
    const token = state.push('math_inline', 'math', 0);
    token.content = content;
    token.markup = open;
    token.meta = { display: open === '$$' || open === '\\[', raw: src.slice(pos, end + close.length) } satisfies MathMeta;
  }
  state.pos = end + close.length;
  return true;
}

// Block rule: a line starting with `$$`, `\[` or `\begin{env}` opens a formula that ends
// with the matching closer at the end of a line (blank lines inside are allowed).
function mathBlock(state: StateBlock, startLine: number, endLine: number, silent: boolean): boolean {
  if (state.sCount[startLine]! - state.blkIndent >= 4) return false;
  const first = state.src.slice(state.bMarks[startLine]! + state.tShift[startLine]!, state.eMarks[startLine]);
  let open: string;
  let close: string;
  let env: string | undefined;
  if (first.startsWith('$$')) {
    open = close = '$$';
  } else if (first.startsWith('\\[')) {
    open = '\\[';
    close = '\\]';
  } else {
    env = /^\\begin\{([A-Za-z]+\*?)\}/.exec(first)?.[1];
    if (!env || !BARE_ENVIRONMENTS.has(env)) return false;
    open = '';
    close = `\\end{${env}}`;
  }

  // The lines of this container, as far as they go.
  const lines = [first];
  for (let line = startLine + 1; line < endLine; line++) {
    const s = state.bMarks[line]! + state.tShift[line]!;
    const e = state.eMarks[line]!;
    if (s < e && state.sCount[line]! < state.blkIndent) break;
    lines.push(state.src.slice(s, e));
  }
  const text = lines.join('\n');
  const at = env ? findEnvEnd(text, env) : findCloser(text, open.length, text.length, close);
  if (at < 0) return false;
  const after = at + close.length;
  const lineEnd = text.indexOf('\n', after);
  if (text.slice(after, lineEnd < 0 ? text.length : lineEnd).trim()) return false;
  const content = env ? text.slice(0, after) : text.slice(open.length, at);
  if (!content.trim()) return false;
  if (silent) return true;

  const lastLine = startLine + (text.slice(0, at).match(/\n/g)?.length ?? 0);
  const token = state.push('math_block', 'math', 0);
  token.block = true;
  token.content = content;
  token.markup = open || 'env';
  token.map = [startLine, lastLine + 1];
  token.meta = { display: true, raw: text.slice(0, after) } satisfies MathMeta;
  state.line = lastLine + 1;
  return true;
}

// Index of the `\end{env}` closing the environment that `text` begins with, or -1.
function findEnvEnd(text: string, env: string): number {
  const name = env.replace('*', '\\*');
  const re = new RegExp(`\\\\(begin|end)\\{${name}\\}`, 'g');
  let depth = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    depth += m[1] === 'begin' ? 1 : -1;
    if (depth === 0) return m.index;
  }
  return -1;
}

/**
 * Whether the line of `text` starting at `at` opens a display formula (`$$`, `\\[`,
 * `\\begin{env}`) that nothing after it closes: text still to come may close it and turn what
 * now parses as paragraphs into one formula.
 */
export function opensUnclosedDisplayMath(text: string, at = 0): boolean {
  let i = at;
  while (i < at + 3 && text[i] === ' ') i++;
  if (text.startsWith('$$', i)) return findCloser(text, i + 2, text.length, '$$') < 0;
  if (text.startsWith('\\[', i)) return findCloser(text, i + 2, text.length, '\\]') < 0;
  if (!text.startsWith('\\begin{', i)) return false;
  const env = /^\\begin\{([A-Za-z]+\*?)\}/.exec(text.slice(i, i + 32))?.[1];
  return env !== undefined && BARE_ENVIRONMENTS.has(env) && findEnvEnd(text.slice(i), env) < 0;
}

/** markdown-it plugin: recognises the math delimiters and renders formulas with KaTeX. */
export function mathPlugin(md: MarkdownIt): void {
  md.inline.ruler.before('escape', 'math_inline', mathInline);
  md.block.ruler.after('fence', 'math_block', mathBlock, { alt: ['paragraph', 'reference', 'blockquote', 'list'] });
  md.renderer.rules['math_inline'] = (tokens, idx, _options, env: MathEnv) => {
    const token = tokens[idx]!;
    const meta = token.meta as MathMeta;
    return renderFormula(token.content, { displayMode: meta.display, macros: env.macros, raw: meta.raw });
  };
  md.renderer.rules['math_block'] = (tokens, idx, _options, env: MathEnv) => {
    const token = tokens[idx]!;
    const meta = token.meta as MathMeta;
    return renderFormula(token.content, { displayMode: true, block: true, macros: env.macros, raw: meta.raw });
  };
}
