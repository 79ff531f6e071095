// DOMPurify, configured for rendered answers: Markdown's HTML, a little of the HTML models
// write, and KaTeX's HTML + MathML + SVG. Nothing that runs script, loads a remote resource
// or navigates the app survives.

import createDOMPurify, { type Config, type DOMPurify, type WindowLike } from 'dompurify';

export type { WindowLike } from 'dompurify';

/**
 * The colour KaTeX draws commands it will not render (`\href` without trust …) in: the
 * theme's danger colour, which reads at 4.5:1 or better on both themes' backgrounds (KaTeX's
 * default #cc0000 is 2.9:1 on the dark one), with the light theme's value where the variable
 * is not defined (the HTML export).
 */
export const KATEX_ERROR_COLOR = 'var(--danger, #b3261e)';

// Marks the <svg> elements of KaTeX's own output (formula.ts adds it), so that the sanitizer
// can tell them from svg written by the model, which it drops. Random per process, so that
// model output cannot forge it; removed by the sanitizer (it is no allowed attribute).
const KATEX_SVG_ATTR = 'data-katex-svg';
const KATEX_SVG_MARK = Array.from(globalThis.crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Marks the `<svg>` elements of HTML that KaTeX produced as KaTeX's, so that {@link sanitize}
 * keeps them. Only for KaTeX's output: its text is escaped, so every `<svg` in it is KaTeX's own.
 */
export function markKatexSvg(html: string): string {
  return html.replace(/<svg(?=[\s>])/g, `<svg ${KATEX_SVG_ATTR}="${KATEX_SVG_MARK}"`);
}

/**
 * Markdown's output and the harmless HTML models use in answers: the only tags raw HTML in an
 * answer may use (raw-html.ts shows any other tag as text).
 */
export const HTML_TAGS: readonly string[] = [
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'cite', 'code', 'col', 'colgroup', 'dd', 'del',
  'details', 'dfn', 'div', 'dl', 'dt', 'em', 'figcaption', 'figure', 'h1', 'h2', 'h3', 'h4', 'h5',
  'h6', 'hr', 'i', 'img', 'ins', 'kbd', 'li', 'mark', 'ol', 'p', 'pre', 'q', 's', 'samp', 'small',
  'span', 'strong', 'sub', 'summary', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr',
  'u', 'ul', 'var', 'wbr',
];

const TAGS = [
  ...HTML_TAGS,
  // KaTeX's MathML.
  'math', 'semantics', 'annotation', 'mrow', 'mi', 'mn', 'mo', 'ms', 'mtext', 'mspace', 'msub',
  'msup', 'msubsup', 'mfrac', 'msqrt', 'mroot', 'mstyle', 'mtable', 'mtr', 'mtd', 'mlabeledtr',
  'mover', 'munder', 'munderover', 'mpadded', 'mphantom', 'menclose', 'merror',
  // KaTeX's SVG (radicals, stretchy arrows and braces, \cancel).
  'svg', 'path', 'line',
];

const ATTRS = [
  'href', 'src', 'alt', 'title', 'class', 'style', 'start', 'colspan', 'rowspan', 'open',
  'aria-hidden', 'data-latex', 'data-external-href',
  // KaTeX's MathML and SVG attributes (lower case: DOMPurify compares lower-cased names).
  'accent', 'accentunder', 'columnalign', 'columnlines', 'columnspacing', 'rowalign', 'rowlines',
  'rowspacing', 'd', 'depth', 'display', 'displaystyle', 'encoding', 'fence', 'form', 'frame',
  'height', 'largeop', 'linethickness', 'lspace', 'rspace', 'mathbackground', 'mathcolor',
  'mathvariant', 'maxsize', 'minsize', 'movablelimits', 'notation', 'preserveaspectratio',
  'scriptlevel', 'separator', 'stretchy', 'stroke-width', 'symmetric', 'viewbox', 'voffset',
  'width', 'x1', 'x2', 'xmlns', 'y1', 'y2',
];

const CONFIG: Config = {
  ALLOWED_TAGS: TAGS,
  ALLOWED_ATTR: ATTRS,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  // DOMPurify checks every attribute value against this: URLs must be http(s), mailto or
  // blob (narrowed per attribute below); values that are no URL at all pass.
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto|blob):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
  // LaTeX source is free text (it has colons); it is only ever read back as text.
  ADD_URI_SAFE_ATTR: ['data-latex'],
  RETURN_TRUSTED_TYPE: false,
};

// The CSS properties KaTeX writes into its own output.
const KATEX_STYLE = new Set([
  'background-color', 'border', 'border-bottom-width', 'border-color', 'border-right-style',
  'border-right-width', 'border-style', 'border-top-width', 'border-width', 'bottom', 'color',
  'height', 'left', 'margin', 'margin-bottom', 'margin-left', 'margin-right', 'margin-top',
  'min-width', 'padding-left', 'position', 'text-shadow', 'top', 'vertical-align', 'width',
]);

// Lengths, numbers, colour names and hex, calc() and rgb(): no url(), no other functions.
const SAFE_STYLE_VALUE = /^(?:[-+*#.,%\w\s]|calc\(|rgba?\(|\))*$/i;

/**
 * Keeps only the declarations of a `style` attribute that are allowed on this element:
 * KaTeX's layout properties inside a `.katex` element (and `position` only as `relative`,
 * so nothing can be laid over the window), and Markdown table alignment on cells.
 */
function filterStyle(node: Element, style: string): string {
  const inKatex = node.closest('.katex') !== null;
  const isCell = node.localName === 'td' || node.localName === 'th';
  const kept: string[] = [];
  for (const declaration of style.split(';')) {
    const colon = declaration.indexOf(':');
    if (colon < 0) continue;
    const property = declaration.slice(0, colon).trim().toLowerCase();
    const value = declaration.slice(colon + 1).trim();
    if (!SAFE_STYLE_VALUE.test(value) && !(inKatex && property === 'color' && value === KATEX_ERROR_COLOR)) continue;
    const allowed =
      (inKatex && KATEX_STYLE.has(property) && (property !== 'position' || value === 'relative')) ||
      (isCell && property === 'text-align' && /^(?:left|right|center)$/.test(value));
    if (allowed) kept.push(`${property}:${value}`);
  }
  return kept.join(';');
}

/**
 * The URL a link may open in the system browser, or null: only http(s) without
 * credentials (they hide the real host) and mailto. The app calls this again before it
 * opens `data-external-href`.
 */
export function checkExternalHref(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (url.protocol === 'mailto:') return url.href;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return url.username || url.password ? null : url.href;
}

// Only links carry an href: they keep it for display and get rel and the checked
// data-external-href the app opens externally. Only images carry a src, and only a blob:
// one (the app's own pasted images), so an answer cannot make the app fetch a URL.
function fixUrls(node: Element): void {
  const href = node.localName === 'a' ? checkExternalHref(node.getAttribute('href') ?? '') : null;
  if (href) {
    node.setAttribute('href', href);
    node.setAttribute('data-external-href', href);
    node.setAttribute('rel', 'noopener noreferrer');
  } else {
    node.removeAttribute('href');
    node.removeAttribute('data-external-href');
  }
  if (node.localName !== 'img' || !/^blob:/i.test(node.getAttribute('src') ?? '')) node.removeAttribute('src');
}

const purifiers = new WeakMap<WindowLike, DOMPurify>();

function purifierFor(window: WindowLike): DOMPurify {
  let purify = purifiers.get(window);
  if (!purify) {
    purify = createDOMPurify(window);
    if (!purify.isSupported) throw new Error('DOMPurify cannot run with the given window');
    purify.setConfig(CONFIG);
    // An <svg> outside KaTeX's output is dropped with its content: an empty or sized svg
    // written by the model would otherwise open a blank area (300×150 by default, or any size).
    purify.addHook('uponSanitizeElement', (node, data) => {
      if (data.tagName !== 'svg' || node.nodeType !== 1) return;
      const el = node as Element;
      if (el.getAttribute(KATEX_SVG_ATTR) !== KATEX_SVG_MARK) el.remove();
    });
    purify.addHook('uponSanitizeAttribute', (node, data) => {
      if (data.attrName !== 'style') return;
      data.attrValue = filterStyle(node, data.attrValue);
      if (!data.attrValue) data.keepAttr = false;
    });
    purify.addHook('afterSanitizeAttributes', (node) => {
      if (node.nodeType === 1) fixUrls(node as Element);
    });
    purifiers.set(window, purify);
  }
  return purify;
}

/**
 * Sanitizes an HTML string for insertion into the page with `window`'s DOM (the browser's
 * `window`, or a jsdom window in tests). Scripts, event handlers, forms, frames, styles and
 * svg outside KaTeX's output (an svg is KaTeX's only when {@link markKatexSvg} marked it),
 * and URLs other than http(s)/mailto links and blob: images are removed.
 */
export function sanitize(html: string, window: WindowLike): string {
  return purifierFor(window).sanitize(html);
}
