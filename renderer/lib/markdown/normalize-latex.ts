// The LaTeX normalizing pass: rewrites what vision-language and OCR models commonly emit
// but KaTeX rejects. Every rule is keyed on a *kind* of construct (a class of commands or
// environments), never on a particular input string. Used for chat answers and for
// equation OCR output alike.

import katex from 'katex';
import { COLUMN_SPEC_ENVS, expandColumnSpec } from './column-spec.js';

/** A kind of rewrite the pass can apply; reported so callers can see what changed. */
export type NormalizeKind =
  | 'whitespace'
  | 'no-op-command'
  | 'package-command'
  | 'text-box'
  | 'display-env'
  | 'promoted-to-display'
  | 'tag'
  | 'macro-definition'
  | 'glued-command'
  | 'row-spacing'
  | 'column-spec';

/** Options of {@link normalizeLatex}. */
export interface NormalizeOptions {
  /** Whether the formula was written as display math (`$$…$$`, `\[…\]`, a bare environment). */
  displayMode: boolean;
  /** Macros already defined for this document (KaTeX `macros` object, keys like `\R`). */
  macros?: Readonly<Record<string, unknown>>;
}

/** Result of {@link normalizeLatex}. */
export interface NormalizedLatex {
  /** The rewritten LaTeX. */
  latex: string;
  /** The mode to render in: inline formulas that are one display environment are promoted. */
  displayMode: boolean;
  /** The kinds of rewrite applied, in order of first use; empty when the input was left as is. */
  kinds: NormalizeKind[];
}

interface Tok {
  text: string;
  /** A control word (`\` + letters): a following letter must be separated by a space. */
  word: boolean;
}

interface Arg {
  /** Token range of the argument's content, braces excluded. */
  from: number;
  to: number;
  /** Index just past the argument. */
  end: number;
}

// (a) Commands that only steer page layout or cross-referencing: they carry nothing a
// rendered formula shows, so they are dropped with their arguments.
const NO_OP: Readonly<Record<string, { star?: boolean; optional?: boolean; args: number }>> = {
  '\\label': { args: 1 },
  '\\index': { args: 1 },
  '\\hfill': { args: 0 },
  '\\hfil': { args: 0 },
  '\\vfill': { args: 0 },
  '\\vspace': { star: true, args: 1 },
  '\\smallskip': { args: 0 },
  '\\medskip': { args: 0 },
  '\\bigskip': { args: 0 },
  '\\noindent': { args: 0 },
  '\\centering': { args: 0 },
  '\\raggedright': { args: 0 },
  '\\raggedleft': { args: 0 },
  '\\protect': { args: 0 },
  '\\allowdisplaybreaks': { optional: true, args: 0 },
  '\\displaybreak': { optional: true, args: 0 },
  '\\linebreak': { optional: true, args: 0 },
  '\\pagebreak': { optional: true, args: 0 },
  '\\nopagebreak': { optional: true, args: 0 },
};

// Commands from LaTeX packages KaTeX lacks, mapped to the KaTeX command that draws the same.
const EQUIVALENT: Readonly<Record<string, string>> = {
  '\\mathbbm': '\\mathbb',
  '\\mathds': '\\mathbb',
  '\\mathrsfs': '\\mathscr',
  '\\hdots': '\\ldots',
  '\\textdegree': '\\degree',
  '\\displaylimits': '\\limits',
  '\\lefteqn': '\\mathrlap',
  '\\strut': '\\mathstrut',
  '\\cr': '\\\\',
};

// (b) Text-mode boxes, mapped to the KaTeX text command with the same font. Supported ones
// map to themselves so their content still gets the text-mode rules.
const TEXT_BOX: Readonly<Record<string, string>> = {
  '\\mbox': '\\text',
  '\\hbox': '\\text',
  '\\makebox': '\\text',
  '\\textsc': '\\text',
  '\\textsl': '\\textit',
  '\\text': '\\text',
  '\\textrm': '\\textrm',
  '\\textnormal': '\\textnormal',
  '\\textsf': '\\textsf',
  '\\texttt': '\\texttt',
  '\\textbf': '\\textbf',
  '\\textit': '\\textit',
  '\\textup': '\\textup',
  '\\textmd': '\\textmd',
  '\\emph': '\\emph',
};

const TEXT_SCRIPT: Readonly<Record<string, string>> = { '\\textsuperscript': '^', '\\textsubscript': '_' };

type EnvRewrite = { to: 'env'; name: string } | { to: 'array' } | { to: 'group' };

// (c) Environments KaTeX accepts only in display mode, or not at all.
const DISPLAY_ONLY_ENVS = new Set([
  'align', 'align*', 'flalign', 'flalign*', 'alignat', 'alignat*', 'equation', 'equation*',
  'gather', 'gather*', 'multline', 'multline*', 'eqnarray', 'eqnarray*', 'split', 'displaymath',
]);

// eqnarray's three columns are exactly an rcl array; multline's lines are gathered lines.
const ANY_MODE_REWRITES: Readonly<Record<string, EnvRewrite>> = {
  eqnarray: { to: 'array' },
  'eqnarray*': { to: 'array' },
  multline: { to: 'env', name: 'gathered' },
  'multline*': { to: 'env', name: 'gathered' },
  flalign: { to: 'env', name: 'aligned' },
  'flalign*': { to: 'env', name: 'aligned' },
  subequations: { to: 'group' },
  displaymath: { to: 'group' },
  math: { to: 'group' },
};

const INLINE_REWRITES: Readonly<Record<string, EnvRewrite>> = {
  ...ANY_MODE_REWRITES,
  align: { to: 'env', name: 'aligned' },
  'align*': { to: 'env', name: 'aligned' },
  split: { to: 'env', name: 'aligned' },
  gather: { to: 'env', name: 'gathered' },
  'gather*': { to: 'env', name: 'gathered' },
  alignat: { to: 'env', name: 'alignedat' },
  'alignat*': { to: 'env', name: 'alignedat' },
  equation: { to: 'group' },
  'equation*': { to: 'group' },
};

// Environments whose rows may each carry their own \tag in KaTeX.
const ROW_TAG_ENVS = new Set(['align', 'align*', 'gather', 'gather*', 'alignat', 'alignat*']);

const MACRO_DEFINERS = new Set(['\\newcommand', '\\renewcommand', '\\providecommand', '\\DeclareMathOperator']);

// A TeX dimension as KaTeX reads it after `\\[`: a number followed by a unit it knows.
const DIMENSION = /^\s*[-+]?\s*(?:\d+(?:\.\d*)?|\.\d+)\s*(?:pt|mm|cm|in|bp|pc|dd|cc|nd|nc|sp|px|ex|em|mu)\b/;

const CONTROL_WORD = /\\[A-Za-z]+/y;

/**
 * Rewrites LaTeX so KaTeX accepts it, by kinds: layout-only commands dropped, package
 * commands mapped, text boxes made `\text`, display-only environments rewritten (or the
 * formula promoted to display), `\tag` dropped where KaTeX forbids it, macro definitions
 * made to agree with what is already defined, glued command names split, bad `\\[…]`
 * row spacing repaired, `*{n}{spec}` in array column specs expanded (column-spec.ts) and
 * unusual whitespace made plain.
 */
export function normalizeLatex(src: string, opts: NormalizeOptions): NormalizedLatex {
  const kinds = new Set<NormalizeKind>();
  const plain = normalizeWhitespace(src);
  if (plain !== src.trim()) kinds.add('whitespace');
  const toks = lex(plain);
  let displayMode = opts.displayMode;
  if (!displayMode && isWholeDisplayEnv(toks)) {
    displayMode = true;
    kinds.add('promoted-to-display');
  }
  const rewriter = new Rewriter(displayMode, opts.macros ?? {}, kinds);
  const latex = join(rewriter.math(toks, 0, toks.length)).trim();
  return { latex, displayMode, kinds: [...kinds] };
}

// (f) Tabs, no-break and other Unicode spaces become plain spaces, CR/CRLF become LF and
// zero-width characters go: KaTeX rejects some of them and treats the rest as text.
function normalizeWhitespace(src: string): string {
  return src
    .replace(/\r\n?/g, '\n')
    .replace(/[\t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, ' ')
    .replace(/[\u200b-\u200d\u2060\ufeff]/g, '')
    .trim();
}

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    if (src[i] === '\\') {
      CONTROL_WORD.lastIndex = i;
      const m = CONTROL_WORD.exec(src);
      if (m) {
        out.push({ text: m[0], word: true });
        i += m[0].length;
      } else {
        // A control symbol (`\\`, `\{`, `\,`, `\$` …); take the code point, not half a surrogate pair.
        const next = src.codePointAt(i + 1);
        const len = next === undefined ? 1 : 1 + String.fromCodePoint(next).length;
        out.push({ text: src.slice(i, i + len), word: false });
        i += len;
      }
    } else {
      out.push({ text: src[i] ?? '', word: false });
      i += 1;
    }
  }
  return out;
}

// Joins tokens back into LaTeX; a space goes between a control word and a letter that
// became adjacent through a removal, so `\alpha\label{x}b` does not turn into `\alphab`.
function join(toks: readonly Tok[]): string {
  let out = '';
  let prevWord = false;
  for (const t of toks) {
    if (prevWord && /^[A-Za-z]/.test(t.text)) out += ' ';
    out += t.text;
    prevWord = t.word;
  }
  return out;
}

function textOf(toks: readonly Tok[], from: number, to: number): string {
  return join(toks.slice(from, to));
}

function skipSpace(toks: readonly Tok[], i: number): number {
  while (i < toks.length && /^\s$/.test(toks[i]!.text)) i++;
  return i;
}

function matchingBrace(toks: readonly Tok[], open: number): number {
  let depth = 0;
  for (let i = open; i < toks.length; i++) {
    const t = toks[i]!.text;
    if (t === '{') depth++;
    else if (t === '}' && --depth === 0) return i;
  }
  return -1;
}

// A mandatory argument: a braced group or a single token.
function readArg(toks: readonly Tok[], i: number): Arg | null {
  const j = skipSpace(toks, i);
  const t = toks[j];
  if (!t || t.text === '}') return null;
  if (t.text !== '{') return { from: j, to: j + 1, end: j + 1 };
  const close = matchingBrace(toks, j);
  return close < 0 ? null : { from: j + 1, to: close, end: close + 1 };
}

// An optional `[…]` argument, its closing bracket found outside braces.
function readOptional(toks: readonly Tok[], i: number): Arg | null {
  const j = skipSpace(toks, i);
  if (toks[j]?.text !== '[') return null;
  let depth = 0;
  for (let k = j + 1; k < toks.length; k++) {
    const t = toks[k]!.text;
    if (t === '{') depth++;
    else if (t === '}') depth--;
    else if (t === ']' && depth === 0) return { from: j + 1, to: k, end: k + 1 };
  }
  return null;
}

// Index of the `\end` closing the environment whose `\begin{name}` ends before `from`.
function findEnvEnd(toks: readonly Tok[], from: number, name: string): number {
  let depth = 1;
  for (let i = from; i < toks.length; i++) {
    const t = toks[i]!.text;
    if (t !== '\\begin' && t !== '\\end') continue;
    const arg = readArg(toks, i + 1);
    if (!arg || textOf(toks, arg.from, arg.to) !== name) continue;
    depth += t === '\\begin' ? 1 : -1;
    if (depth === 0) return i;
  }
  return -1;
}

// Whether an inline formula is nothing but one display-only environment (plus labels):
// its author meant a displayed equation, so it is rendered as one.
function isWholeDisplayEnv(toks: readonly Tok[]): boolean {
  const start = skipSpace(toks, 0);
  if (toks[start]?.text !== '\\begin') return false;
  const arg = readArg(toks, start + 1);
  if (!arg) return false;
  const name = textOf(toks, arg.from, arg.to);
  if (!DISPLAY_ONLY_ENVS.has(name)) return false;
  const end = findEnvEnd(toks, arg.end, name);
  const endArg = end < 0 ? null : readArg(toks, end + 1);
  if (!endArg) return false;
  let i = skipSpace(toks, endArg.end);
  while (toks[i]?.text === '\\label') {
    const label = readArg(toks, i + 1);
    if (!label) return false;
    i = skipSpace(toks, label.end);
  }
  return i >= toks.length;
}

function hasTopLevelRowBreak(toks: readonly Tok[]): boolean {
  let depth = 0;
  for (const t of toks) {
    if (t.text === '{' || t.text === '\\begin') depth++;
    else if (t.text === '}' || t.text === '\\end') depth--;
    else if (t.text === '\\\\' && depth === 0) return true;
  }
  return false;
}

// Whether KaTeX knows a command, in math or in text mode. Cached; the cache is bounded
// because names come from untrusted model output.
const katexKnown = new Map<string, boolean>();
const KATEX_KNOWN_LIMIT = 4096;

function isKatexDefined(name: string): boolean {
  let known = katexKnown.get(name);
  if (known === undefined) {
    known = !undefinedIn(name) || !undefinedIn(`\\text{${name}}`);
    if (katexKnown.size >= KATEX_KNOWN_LIMIT) katexKnown.clear();
    katexKnown.set(name, known);
  }
  return known;
}

function undefinedIn(latex: string): boolean {
  try {
    katex.renderToString(latex, { throwOnError: true, strict: 'ignore', trust: false });
    return false;
  } catch (e) {
    // Any other error (a missing argument, a wrong mode) means the name itself exists.
    return e instanceof Error && e.message.includes('Undefined control sequence');
  }
}

class Rewriter {
  // Names defined by earlier \newcommand/\def in this formula.
  private readonly defined = new Set<string>();
  private tagSeen = false;
  // > 0 while inside an environment whose rows may each carry a \tag.
  private rowTagDepth = 0;

  constructor(
    private readonly display: boolean,
    private readonly macros: Readonly<Record<string, unknown>>,
    private readonly kinds: Set<NormalizeKind>,
  ) {}

  /** Rewrites the math-mode token range [from, to). */
  math(toks: readonly Tok[], from: number, to: number): Tok[] {
    const out: Tok[] = [];
    let i = from;
    while (i < to) {
      const t = toks[i]!;
      if (t.text === '\\\\') {
        i = this.rowBreak(toks, i, to, out);
      } else if (!t.word) {
        out.push(t);
        i++;
      } else {
        i = this.command(toks, i, to, out);
      }
    }
    return out;
  }

  private command(toks: readonly Tok[], i: number, to: number, out: Tok[]): number {
    const name = toks[i]!.text;
    const noop = NO_OP[name];
    if (noop) return this.dropNoOp(toks, i, noop);
    const equivalent = EQUIVALENT[name];
    if (equivalent) {
      this.kinds.add('package-command');
      out.push(...lex(equivalent));
      return i + 1;
    }
    if (TEXT_BOX[name] || TEXT_SCRIPT[name]) return this.textBox(toks, i, out);
    if (name === '\\ensuremath') return this.ensureMath(toks, i, out, false);
    if (name === '\\begin') return this.environment(toks, i, to, out);
    if (name === '\\tag') return this.tag(toks, i, out);
    if (MACRO_DEFINERS.has(name)) return this.macroDefinition(toks, i, out);
    if (name === '\\def' || name === '\\let' || name === '\\gdef') {
      // The defined name follows directly; it must not be taken for a glued command.
      const target = toks[skipSpace(toks, i + 1)];
      if (target) this.defined.add(target.text);
      return this.keepAsIs(toks, i, out);
    }
    if (!this.isDefined(name)) return this.gluedCommand(name, i, out);
    return this.keepAsIs(toks, i, out);
  }

  private isDefined(name: string): boolean {
    return this.defined.has(name) || Object.hasOwn(this.macros, name) || isKatexDefined(name);
  }

  private dropNoOp(toks: readonly Tok[], i: number, spec: (typeof NO_OP)[string]): number {
    this.kinds.add('no-op-command');
    let j = i + 1;
    if (spec.star && toks[skipSpace(toks, j)]?.text === '*') j = skipSpace(toks, j) + 1;
    if (spec.optional) j = readOptional(toks, j)?.end ?? j;
    for (let n = 0; n < spec.args; n++) j = readArg(toks, j)?.end ?? j;
    return j;
  }

  // (b) \mbox{…}, \hbox to 3em{…}, \makebox[w][s]{…}, \textsc{…} … → \text{…}.
  private textBox(toks: readonly Tok[], i: number, out: Tok[]): number {
    const name = toks[i]!.text;
    let j = i + 1;
    if (name === '\\makebox') {
      while (readOptional(toks, j)) j = readOptional(toks, j)!.end;
    } else if (name === '\\hbox') {
      j = skipBoxSpec(toks, j);
    }
    const arg = readArg(toks, j);
    if (!arg) return this.keepAsIs(toks, i, out);
    const script = TEXT_SCRIPT[name];
    const target = script ? '\\text' : TEXT_BOX[name]!;
    if (target !== name) this.kinds.add(script ? 'package-command' : 'text-box');
    const body = [...lex(`${target}{`), ...this.text(toks, arg.from, arg.to), { text: '}', word: false }];
    if (script) out.push({ text: `${script}{`, word: false }, ...body, { text: '}', word: false });
    else out.push(...body);
    return arg.end;
  }

  /** Rewrites the text-mode token range [from, to): nested `$…$`/`\(…\)` is math again. */
  private text(toks: readonly Tok[], from: number, to: number): Tok[] {
    const out: Tok[] = [];
    let i = from;
    while (i < to) {
      const t = toks[i]!;
      const close = t.text === '$' ? '$' : t.text === '\\(' ? '\\)' : null;
      let end = -1;
      if (close) {
        for (let k = i + 1; k < to; k++) {
          if (toks[k]!.text === close) {
            end = k;
            break;
          }
        }
      }
      if (close && end >= 0) {
        if (t.text !== '$') this.kinds.add('text-box');
        out.push({ text: '$', word: false }, ...this.math(toks, i + 1, end), { text: '$', word: false });
        i = end + 1;
      } else if (TEXT_BOX[t.text] || TEXT_SCRIPT[t.text]) {
        i = this.textBox(toks, i, out);
      } else if (t.text === '\\ensuremath') {
        i = this.ensureMath(toks, i, out, true);
      } else if (NO_OP[t.text]) {
        i = this.dropNoOp(toks, i, NO_OP[t.text]!);
      } else {
        out.push(t);
        i++;
      }
    }
    return out;
  }

  // \ensuremath{x}: math in text mode, a plain group in math mode.
  private ensureMath(toks: readonly Tok[], i: number, out: Tok[], inText: boolean): number {
    const arg = readArg(toks, i + 1);
    if (!arg) return this.keepAsIs(toks, i, out);
    this.kinds.add('text-box');
    const [open, close] = inText ? ['$', '$'] : ['{', '}'];
    out.push({ text: open, word: false }, ...this.math(toks, arg.from, arg.to), { text: close, word: false });
    return arg.end;
  }

  // (c) Display-only environments: in an inline formula they become their inline-capable
  // relatives (align → aligned …); ones KaTeX lacks entirely are rewritten in any mode.
  private environment(toks: readonly Tok[], i: number, to: number, out: Tok[]): number {
    const arg = readArg(toks, i + 1);
    const name = arg ? textOf(toks, arg.from, arg.to) : '';
    const end = arg ? findEnvEnd(toks, arg.end, name) : -1;
    const endArg = end >= 0 && end < to ? readArg(toks, end + 1) : null;
    if (!arg || !endArg) return this.keepAsIs(toks, i, out);
    const rowTags = this.display && ROW_TAG_ENVS.has(name);
    if (rowTags) this.rowTagDepth++;
    const spec = this.columnSpec(toks, arg.end, end, name);
    const inner = [...spec.toks, ...this.math(toks, spec.end, end)];
    if (rowTags) this.rowTagDepth--;
    const rewrite = (this.display ? ANY_MODE_REWRITES : INLINE_REWRITES)[name];
    if (!rewrite) {
      out.push(...toks.slice(i, arg.end), ...inner, ...toks.slice(end, endArg.end));
      return endArg.end;
    }
    this.kinds.add('display-env');
    if (rewrite.to === 'env') {
      out.push(...lex(`\\begin{${rewrite.name}}`), ...inner, ...lex(`\\end{${rewrite.name}}`));
    } else if (rewrite.to === 'array') {
      out.push(...lex('\\begin{array}{rcl}'), ...inner, ...lex('\\end{array}'));
    } else if (hasTopLevelRowBreak(inner)) {
      out.push(...lex('\\begin{gathered}'), ...inner, ...lex('\\end{gathered}'));
    } else {
      out.push({ text: '{', word: false }, ...inner, { text: '}', word: false });
    }
    return endArg.end;
  }

  // (h) `*{n}{spec}` in the column specification of an array-like environment whose body
  // starts at `from`, expanded: the rewritten specification (none when it stays as written)
  // and where the rest of the body starts.
  private columnSpec(toks: readonly Tok[], from: number, end: number, name: string): { toks: Tok[]; end: number } {
    const unchanged = { toks: [], end: from };
    if (!COLUMN_SPEC_ENVS.has(name)) return unchanged;
    const spec = readArg(toks, from);
    if (!spec || spec.end > end || toks[spec.from - 1]?.text !== '{') return unchanged;
    const expanded = expandColumnSpec(textOf(toks, spec.from, spec.to));
    if (expanded === null) return unchanged;
    this.kinds.add('column-spec');
    return { toks: [...toks.slice(from, spec.from), ...lex(expanded), { text: '}', word: false }], end: spec.end };
  }

  // (d) KaTeX takes \tag only in display math, and only one per equation outside
  // environments that number rows; the others go.
  private tag(toks: readonly Tok[], i: number, out: Tok[]): number {
    let j = i + 1;
    if (toks[skipSpace(toks, j)]?.text === '*') j = skipSpace(toks, j) + 1;
    const arg = readArg(toks, j);
    if (!arg) return this.keepAsIs(toks, i, out);
    const keep = this.display && (this.rowTagDepth > 0 || !this.tagSeen);
    if (!keep) {
      this.kinds.add('tag');
      return arg.end;
    }
    if (this.rowTagDepth === 0) this.tagSeen = true;
    out.push(...toks.slice(i, arg.end));
    return arg.end;
  }

  // (e) \newcommand of a name KaTeX (or an earlier formula) already defines becomes
  // \renewcommand, \renewcommand of an unknown name becomes \newcommand, \providecommand of
  // a known name is dropped, starred forms lose the star and \DeclareMathOperator becomes
  // an \operatorname macro. The definitions then live in the document's KaTeX macros.
  private macroDefinition(toks: readonly Tok[], i: number, out: Tok[]): number {
    const definer = toks[i]!.text;
    let j = skipSpace(toks, i + 1);
    const star = toks[j]?.text === '*';
    if (star) j++;
    const target = readArg(toks, j);
    const name = target ? textOf(toks, target.from, target.to).trim() : '';
    if (!target || !/^\\(?:[A-Za-z]+|.)$/.test(name)) return this.keepAsIs(toks, i, out);
    const defined = this.isDefined(name);
    const params: Tok[] = [];
    let k = target.end;
    if (definer === '\\DeclareMathOperator') {
      const body = readArg(toks, k);
      if (!body) return this.keepAsIs(toks, i, out);
      params.push(...lex(`{\\operatorname${star ? '*' : ''}{`), ...toks.slice(body.from, body.to), ...lex('}}'));
      k = body.end;
    } else {
      for (let n = 0; n < 2; n++) {
        const opt = readOptional(toks, k);
        if (!opt) break;
        params.push(...toks.slice(skipSpace(toks, k), opt.end));
        k = opt.end;
      }
      const body = readArg(toks, k);
      if (!body) return this.keepAsIs(toks, i, out);
      params.push({ text: '{', word: false }, ...this.math(toks, body.from, body.to), { text: '}', word: false });
      k = body.end;
    }
    this.defined.add(name);
    if (definer === '\\providecommand' && defined) {
      this.kinds.add('macro-definition');
      return k;
    }
    const command = defined ? '\\renewcommand' : '\\newcommand';
    if (command !== definer || star) this.kinds.add('macro-definition');
    out.push(...lex(`${command}{`), { text: name, word: /^\\[A-Za-z]/.test(name) }, { text: '}', word: false }, ...params);
    return k;
  }

  private keepAsIs(toks: readonly Tok[], i: number, out: Tok[]): number {
    out.push(toks[i]!);
    return i + 1;
  }

  // (g) OCR tokenizers glue a command to the letters after it (`\ltq` for `\lt q`): an
  // unknown name whose longest known prefix is a command is split there.
  private gluedCommand(name: string, i: number, out: Tok[]): number {
    for (let len = name.length - 1; len >= 3; len--) {
      const prefix = name.slice(0, len);
      if (this.isDefined(prefix)) {
        this.kinds.add('glued-command');
        out.push({ text: prefix, word: true }, { text: name.slice(len), word: false });
        return i + 1;
      }
    }
    out.push({ text: name, word: true });
    return i + 1;
  }

  // (f) `\\*` loses its star (no page breaks here); `\\[…]` keeps a spacing KaTeX can
  // read, and anything else in brackets is protected as row content with `{}`.
  private rowBreak(toks: readonly Tok[], i: number, to: number, out: Tok[]): number {
    out.push(toks[i]!);
    let j = i + 1;
    if (toks[j]?.text === '*') {
      this.kinds.add('row-spacing');
      j++;
    }
    if (j < to && toks[j]!.text === '[') {
      const opt = readOptional(toks, j);
      if (!opt || !DIMENSION.test(textOf(toks, opt.from, opt.to))) {
        this.kinds.add('row-spacing');
        out.push({ text: '{}', word: false });
      }
    }
    return j;
  }
}

// Skips an `\hbox to 3em` / `\hbox spread 1em` box specification up to the `{`.
function skipBoxSpec(toks: readonly Tok[], i: number): number {
  let k = i;
  while (k < toks.length && toks[k]!.text !== '{') k++;
  return /^\s*(?:to|spread)\s*[-+]?[\d.]+\s*[a-z]{2}\s*$/.test(textOf(toks, i, k)) ? k : i;
}
