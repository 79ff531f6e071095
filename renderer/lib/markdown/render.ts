// Markdown answers → sanitized HTML, whole or while streaming.
//
// A document is rendered top-level block by top-level block (paragraph, list, table,
// fence, formula …), each sanitized on its own. That makes the streaming renderer's output
// identical to a whole render, and keeps a stray unclosed tag in one block from swallowing
// the rest of the answer.

import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import { escapeHtml } from 'markdown-it/lib/common/utils.mjs';
import { renderFormula, type KatexMacros } from './formula.js';
import { mathPlugin, opensUnclosedDisplayMath, type MathEnv } from './math.js';
import { rawHtmlPlugin } from './raw-html.js';
import { sanitize, type WindowLike } from './sanitize.js';

/** Options of {@link renderMarkdown} and {@link StreamingRenderer}. */
export interface RenderOptions {
  /** The window whose DOM sanitizes; defaults to the global `window` (the browser's). */
  window?: WindowLike;
  /**
   * Macros every formula of the document may use, e.g. `{ '\\R': '\\mathbb{R}' }`, or those
   * earlier answers of the conversation defined (conversationMacros). Copied, never changed.
   */
  macros?: Readonly<KatexMacros>;
}

/** Options of {@link StreamingRenderer}. */
export interface StreamingOptions extends RenderOptions {
  /**
   * An element `update` keeps showing the answer in: finished blocks are appended once,
   * and only the nodes of the unfinished tail are replaced.
   */
  target?: Element;
}

interface RenderEnv extends MathEnv {
  macros: KatexMacros;
  /** Link reference definitions, filled in by markdown-it while parsing. */
  references?: Record<string, unknown>;
}

interface Block {
  tokens: Token[];
  /** Lines [start, end) of the parsed text the block covers. */
  start: number;
  end: number;
}

function createMarkdown(): MarkdownIt {
  // Raw HTML is parsed (models write <br>, <sub>, <details>): those tags stay markup and are
  // sanitized, any other tag is shown as text (raw-html.ts).
  const md = new MarkdownIt({ html: true, linkify: false, typographer: false });
  md.use(mathPlugin);
  md.use(rawHtmlPlugin);
  // Markdown images load only from blob: (see sanitize); any other becomes a link to it.
  const image = md.renderer.rules.image!;
  md.renderer.rules.image = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    const src = token.attrGet('src') ?? '';
    if (/^blob:/i.test(src)) return image(tokens, idx, options, env, self);
    const alt = self.renderInlineAsText(token.children ?? [], options, env) || src;
    return `<a href="${escapeHtml(src)}">${escapeHtml(alt)}</a>`;
  };
  return md;
}

const md = createMarkdown();

// Blocks whose lines are never read as math.
const LITERAL_BLOCKS = new Set(['fence', 'code_block', 'html_block', 'math_block']);

function resolveWindow(window: WindowLike | undefined): WindowLike {
  const w = window ?? (globalThis as { window?: WindowLike }).window;
  if (!w) throw new Error('renderMarkdown needs a window to sanitize with');
  return w;
}

// Groups the token stream into top-level blocks: each ends at a level-0 token that
// closes (or is) a block.
function splitBlocks(tokens: Token[]): Block[] {
  const blocks: Block[] = [];
  let first = 0;
  tokens.forEach((token, i) => {
    if (token.level !== 0 || token.nesting === 1) return;
    const map = tokens[first]!.map ?? [0, 0];
    blocks.push({ tokens: tokens.slice(first, i + 1), start: map[0], end: map[1] });
    first = i + 1;
  });
  return blocks;
}

function renderBlock(block: Block, env: RenderEnv, window: WindowLike): string {
  return sanitize(md.renderer.render(block.tokens, md.options, env), window);
}

/**
 * Renders a Markdown answer with math to a sanitized HTML string. Never throws, whatever
 * the text (formulas KaTeX rejects are shown as source).
 */
export function renderMarkdown(src: string, opts: RenderOptions = {}): string {
  const window = resolveWindow(opts.window);
  const env: RenderEnv = { macros: { ...opts.macros } };
  const blocks = splitBlocks(md.parse(src, env));
  return blocks.map((block) => renderBlock(block, env, window)).join('');
}

/**
 * Control sequences that define or redefine a macro (KaTeX's, and what normalize-latex.ts turns
 * into them). A formula with none of them, in a document whose macros contain none, defines nothing.
 */
const DEFINES = /\\(?:newcommand|renewcommand|providecommand|DeclareMathOperator|def|gdef|edef|xdef|let|futurelet|global)(?![A-Za-z])/;

/** Whether a KaTeX macro's body (a string, `{tokens}` of a \newcommand, or a function) may define another. */
function bodyMayDefine(body: unknown): boolean {
  if (typeof body === 'string') return DEFINES.test(body);
  const tokens = (body as { tokens?: unknown } | null)?.tokens;
  if (Array.isArray(tokens)) return tokens.some((t) => DEFINES.test(String((t as { text?: unknown }).text)));
  return true;
}

/**
 * The KaTeX macros in effect after the Markdown answer `src` is rendered on `before`: its
 * `\newcommand`, `\renewcommand`, `\def` … added in order, as {@link renderMarkdown} applies them
 * (the same formulas through the same renderFormula; only those that may define something run).
 * @returns `before` itself when the answer defines nothing, else a new object; `before` is not changed.
 */
export function macrosAfter(src: string, before: Readonly<KatexMacros> = {}): Readonly<KatexMacros> {
  let anyMayDefine = Object.values(before).some(bodyMayDefine);
  if (!anyMayDefine && !DEFINES.test(src)) return before;
  const macros: KatexMacros = { ...before };
  const formula = (content: string, displayMode: boolean, block: boolean, raw: string): void => {
    if (!anyMayDefine && !DEFINES.test(content)) return;
    renderFormula(content, { displayMode, block, macros, raw });
    anyMayDefine = Object.values(macros).some(bodyMayDefine);
  };
  for (const token of md.parse(src, {})) {
    if (token.type === 'math_block') formula(token.content, true, true, (token.meta as { raw: string }).raw);
    for (const child of token.type === 'inline' ? (token.children ?? []) : []) {
      if (child.type === 'math_inline') formula(child.content, (child.meta as { display: boolean }).display, false, (child.meta as { raw: string }).raw);
    }
  }
  const keys = Object.keys(macros);
  const changed = keys.length !== Object.keys(before).length || keys.some((k) => macros[k] !== before[k]);
  return changed ? macros : before;
}

/** What {@link StreamingRenderer.update} returns: the finished blocks' HTML and the rest. */
export interface StreamingSnapshot {
  /** HTML of the finished blocks, in order; an entry never changes once there. */
  stableHtml: readonly string[];
  /** HTML of the unfinished end of the answer. */
  tailHtml: string;
}

interface TailBlock {
  source: string;
  html: string;
  /** The document macros after this block, for the next block. */
  macros: KatexMacros;
}

/**
 * Renders an answer while it streams in. A top-level block is finished once the next one
 * has begun on a complete line (Markdown cannot change a block after that); finished
 * blocks are rendered once and cached, and each update parses and renders only the text
 * after them. The concatenated output equals {@link renderMarkdown} of the same text.
 */
export class StreamingRenderer {
  private text = '';
  /** Offset in `text` where the unfinished part begins (always a line start). */
  private stableEnd = 0;
  private stable: string[] = [];
  /** Macros after the finished blocks. */
  private stableMacros: KatexMacros;
  /** Link reference definitions in the finished part, and all of them at the last render. */
  private stableReferences: Record<string, unknown> = {};
  private renderedReferences = '{}';
  private tail: TailBlock[] = [];
  private readonly window: WindowLike;
  /** How many finished blocks, and how many child nodes of them, `target` shows. */
  private mountedBlocks = 0;
  private mountedNodes = 0;

  private renderCount = 0;
  private last: StreamingSnapshot | null = null;
  /** Set by finish(): the last block was taken as finished, so more text starts over. */
  private done = false;

  constructor(private readonly opts: StreamingOptions = {}) {
    this.window = resolveWindow(opts.window);
    this.stableMacros = { ...opts.macros };
  }

  /** Block renders done so far (Markdown + KaTeX + sanitize of one block each). */
  get renders(): number {
    return this.renderCount;
  }

  /** Takes the whole answer so far; text that does not extend the previous text starts over. */
  update(text: string): StreamingSnapshot {
    if (text === this.text && this.last) return this.last;
    if (this.done || !text.startsWith(this.text)) this.reset();
    this.text = text;
    this.last = this.show(this.advance(false));
    return this.last;
  }

  /** Marks the answer complete: every block becomes finished. Returns the whole HTML. */
  finish(): string {
    this.last = this.show(this.advance(true));
    this.done = true;
    return this.stable.join('');
  }

  private show(snapshot: StreamingSnapshot): StreamingSnapshot {
    const target = this.opts.target;
    if (!target) return snapshot;
    while (target.childNodes.length > this.mountedNodes) target.lastChild!.remove();
    for (; this.mountedBlocks < this.stable.length; this.mountedBlocks++) {
      target.insertAdjacentHTML('beforeend', this.stable[this.mountedBlocks]!);
    }
    this.mountedNodes = target.childNodes.length;
    target.insertAdjacentHTML('beforeend', snapshot.tailHtml);
    return snapshot;
  }

  private reset(): void {
    this.done = false;
    this.stableEnd = 0;
    this.stable = [];
    this.stableMacros = { ...this.opts.macros };
    this.stableReferences = {};
    this.renderedReferences = '{}';
    this.tail = [];
    this.mountedBlocks = 0;
    this.mountedNodes = 0;
  }

  private advance(final: boolean): StreamingSnapshot {
    const rest = this.text.slice(this.stableEnd);
    const env: RenderEnv = { macros: this.stableMacros, references: { ...this.stableReferences } };
    const blocks = splitBlocks(md.parse(rest, env));
    // A new or changed link definition can change links in finished blocks: start over.
    const references = JSON.stringify(env.references ?? {});
    if (references !== this.renderedReferences && this.stable.length > 0) {
      this.reset();
      this.renderedReferences = references;
      return this.advance(final);
    }
    this.renderedReferences = references;

    const lineStarts = [0];
    for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n', i + 1)) lineStarts.push(i + 1);
    const completeLines = lineStarts.length - 1;
    const sourceOf = (block: Block): string => rest.slice(lineStarts[block.start], lineStarts[block.end] ?? rest.length);
    // A block is finished once the next one starts on a complete line, unless it holds a
    // display formula opener whose closer has not arrived (the formula may span blank lines).
    const mayJoinFormula = (block: Block): boolean =>
      !LITERAL_BLOCKS.has(block.tokens[0]!.type) &&
      lineStarts.slice(block.start, block.end).some((at) => opensUnclosedDisplayMath(rest, at));
    let finished = 0;
    while (final ? finished < blocks.length : (blocks[finished + 1]?.start ?? Infinity) < completeLines && !mayJoinFormula(blocks[finished]!)) finished++;

    // Finished blocks: reuse the last tail render when its text and macros are the same.
    let reuse = true;
    for (const [i, block] of blocks.slice(0, finished).entries()) {
      const cached = this.tail[i];
      reuse &&= cached?.source === sourceOf(block);
      if (reuse && cached) {
        this.stable.push(cached.html);
        this.stableMacros = cached.macros;
      } else {
        this.stable.push(this.render(block, this.stableMacros, env));
      }
    }
    if (finished > 0) {
      const end = finished < blocks.length ? lineStarts[blocks[finished]!.start]! : rest.length;
      // Keep the link definitions of the part that is now finished for later parses.
      if (Object.keys(env.references ?? {}).length > 0) md.parse(rest.slice(0, end), { references: this.stableReferences });
      this.stableEnd += end;
    }

    // The unfinished blocks, each on a copy of the macros so that a formula still
    // changing as text arrives leaves no definition behind.
    this.tail = [];
    let macros = this.stableMacros;
    for (const block of blocks.slice(finished)) {
      macros = { ...macros };
      const html = this.render(block, macros, env);
      this.tail.push({ source: sourceOf(block), html, macros });
    }
    return { stableHtml: this.stable.slice(), tailHtml: this.tail.map((t) => t.html).join('') };
  }

  private render(block: Block, macros: KatexMacros, env: RenderEnv): string {
    this.renderCount++;
    return renderBlock(block, { ...env, macros }, this.window);
  }
}
