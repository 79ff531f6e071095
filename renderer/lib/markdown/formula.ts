// One formula → HTML: normalize, render with KaTeX, or fall back to the source.

import katex from 'katex';
import type { KatexOptions } from 'katex';
import { escapeHtml } from 'markdown-it/lib/common/utils.mjs';
import { normalizeLatex } from './normalize-latex.js';
import { KATEX_ERROR_COLOR, markKatexSvg } from './sanitize.js';

/** A document's KaTeX macros; `\newcommand`s of its formulas accumulate here, in order. */
export type KatexMacros = NonNullable<KatexOptions['macros']>;

/** Options of {@link renderFormula}. */
export interface FormulaOptions {
  /** Display (`$$`, `\[`) rather than inline math. */
  displayMode: boolean;
  /** Wrap in a `div` (a block of its own) rather than a `span` (within a line). */
  block?: boolean;
  /** The document's macros; definitions in this formula are added to it. */
  macros?: KatexMacros;
  /** The formula as written, delimiters included: what the fallback shows. */
  raw?: string;
}

/**
 * Renders one formula to an HTML string (still to be sanitized with the rest of the
 * document). The normalized LaTeX goes to KaTeX without `trust`; the wrapper keeps the
 * source as written in `data-latex` for "copy LaTeX". TeX that KaTeX still rejects is
 * shown as its escaped source in `code.math-source`, with the error as its title.
 * Never throws.
 */
export function renderFormula(latex: string, opts: FormulaOptions): string {
  const source = latex.trim();
  const attr = escapeHtml(source);
  try {
    const normalized = normalizeLatex(source, { displayMode: opts.displayMode, macros: opts.macros ?? {} });
    // throwOnError is on here only so that the failure reaches the catch below, which
    // shows the source our way; no error leaves this function.
    const html = katex.renderToString(normalized.latex, {
      displayMode: normalized.displayMode,
      throwOnError: true,
      trust: false,
      strict: 'ignore',
      output: 'htmlAndMathml',
      macros: opts.macros ?? {},
      globalGroup: true,
      // Bounds sizes written in the formula (\rule, \kern …) so output cannot cover the window.
      maxSize: 20,
      maxExpand: 1000,
      // Commands KaTeX will not render (\href without trust …) in a colour readable on both themes.
      errorColor: KATEX_ERROR_COLOR,
    });
    const tag = opts.block ? 'div' : 'span';
    const kind = normalized.displayMode ? 'math-display' : 'math-inline';
    return `<${tag} class="math ${kind}" data-latex="${attr}">${markKatexSvg(html)}</${tag}>${opts.block ? '\n' : ''}`;
  } catch (e) {
    const message = e instanceof katex.ParseError ? e.rawMessage : e instanceof Error ? e.message : String(e);
    const code = `<code class="math-source" title="${escapeHtml(message)}" data-latex="${attr}">${escapeHtml(opts.raw ?? source)}</code>`;
    return opts.block ? `<pre class="math-error">${code}</pre>\n` : code;
  }
}
