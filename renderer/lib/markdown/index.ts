// Rendering of answers: Markdown with math, sanitized; and the LaTeX normalizing pass.

export { renderMarkdown, macrosAfter, StreamingRenderer, type RenderOptions, type StreamingOptions, type StreamingSnapshot } from './render.js';
export { conversationMacros, NO_MACROS } from './conversation-macros.js';
export { sanitize, checkExternalHref, markKatexSvg, KATEX_ERROR_COLOR, HTML_TAGS, type WindowLike } from './sanitize.js';
export { escapeUnknownTags, type RawHtml } from './raw-html.js';
export { expandColumnSpec, MAX_COLUMNS } from './column-spec.js';
export { renderFormula, type FormulaOptions, type KatexMacros } from './formula.js';
export { normalizeLatex, type NormalizeKind, type NormalizeOptions, type NormalizedLatex } from './normalize-latex.js';
export { mathPlugin, BARE_ENVIRONMENTS, type MathEnv } from './math.js';
