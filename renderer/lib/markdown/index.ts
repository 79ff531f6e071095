// Rendering of answers: Markdown with math, sanitized; and the LaTeX normalizing pass.

export { renderMarkdown, StreamingRenderer, type RenderOptions, type StreamingOptions, type StreamingSnapshot } from './render.js';
export { sanitize, checkExternalHref, markKatexSvg, KATEX_ERROR_COLOR, type WindowLike } from './sanitize.js';
export { renderFormula, type FormulaOptions, type KatexMacros } from './formula.js';
export { normalizeLatex, type NormalizeKind, type NormalizeOptions, type NormalizedLatex } from './normalize-latex.js';
export { mathPlugin, BARE_ENVIRONMENTS, type MathEnv } from './math.js';
