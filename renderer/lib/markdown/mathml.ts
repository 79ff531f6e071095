// A formula as bare MathML: the `<math>` element alone, as word processors, MathJax and the web
// take it, not KaTeX's HTML wrapper around it.

import katex from 'katex';
import { normalizeLatex } from './normalize-latex.js';

/**
 * `source` (LaTeX, normalised as the preview shows it: normalizeLatex) as one `<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">…</math>`
 * string, KaTeX's MathML output without the `<span class="katex">` around it. Returns null when
 * KaTeX cannot parse the source (there is no MathML then).
 */
export function bareMathml(source: string): string | null {
  let html: string;
  try {
    const n = normalizeLatex(source, { displayMode: true, macros: {} });
    html = katex.renderToString(n.latex, { output: 'mathml', displayMode: true, throwOnError: true, strict: 'ignore', trust: false, macros: {}, maxSize: 20, maxExpand: 1000 });
  } catch {
    return null;
  }
  const start = html.indexOf('<math');
  const end = html.lastIndexOf('</math>');
  return start >= 0 && end > start ? html.slice(start, end + '</math>'.length) : null;
}
