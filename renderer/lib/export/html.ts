// Conversation → one self-contained HTML file: rendered, sanitized messages, KaTeX's CSS with
// its fonts inlined, images as data: URIs, a light theme, and a CSP that forbids scripts. Macros
// an answer defines (\newcommand and kin) hold for the answers below it, as in the chat window.

import { escapeHtml } from 'markdown-it/lib/common/utils.mjs';
import { conversationMacros } from '../markdown/conversation-macros.js';
import type { KatexMacros } from '../markdown/formula.js';
import { renderMarkdown } from '../markdown/render.js';
import type { WindowLike } from '../markdown/sanitize.js';
import { imageFileName } from './filename.js';
import { answerMeta } from '../message-meta.js';
import { formatExportDate, statusNote, type ExportConversation, type ExportMessage } from './types.js';

/**
 * The exported page's Content-Security-Policy: nothing loads or runs except the inline styles
 * (KaTeX positions glyphs with style attributes) and data: images and fonts. No `script-src`
 * means `default-src 'none'` applies to scripts: none run, inline or not.
 */
export const EXPORT_CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  'img-src data:',
  'font-src data:',
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Image data: URIs the page may embed: raster types, base64. SVG is refused (it can carry script). */
const IMAGE_DATA_URI = /^data:image\/(?:png|jpeg|gif|webp|bmp|avif);base64,[A-Za-z0-9+/=]+$/;

/** Options of {@link conversationToHtml}. */
export interface HtmlExportOptions {
  /** The window whose DOM sanitizes the rendered answers (the browser's, or jsdom's in tests). */
  window: WindowLike;
  /** KaTeX's CSS with its fonts inlined ({@link inlineKatexFonts}); '' leaves math unstyled. */
  katexCss: string;
  /** data: URI of each attached image by sha256; images without one are named, not shown. */
  images?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /** When the export was made. */
  exportedAt: Date;
}

// A light theme of its own (the app's variables do not travel with the file).
const PAGE_CSS = `
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1f2328;font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:52rem;margin:0 auto;padding:2rem 1rem 3rem}
header h1{margin:0 0 .25rem;font-size:1.5rem;line-height:1.3}
header p{margin:0 0 1.5rem;color:#59636e;font-size:.875rem}
.message{margin:0 0 1.25rem;padding:.75rem 1rem;border:1px solid #d1d9e0;border-radius:.75rem}
.message.user{background:#f1f5fb}
.role{margin:0 0 .4rem;font-size:.8rem;font-weight:600;letter-spacing:.02em;text-transform:uppercase;color:#59636e}
.plain{white-space:pre-wrap;overflow-wrap:anywhere}
.images{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 .5rem}
.images figure{margin:0}
.images img{display:block;max-width:100%;max-height:24rem;border-radius:.5rem;border:1px solid #d1d9e0}
.images figcaption{font-size:.75rem;color:#59636e}
.missing{font-size:.875rem;color:#59636e;font-style:italic}
.note{margin:.5rem 0 0;font-size:.875rem;color:#9a6700}
.meta{margin:.5rem 0 0;font-size:.75rem;color:#59636e}
.markdown{overflow-wrap:anywhere}
.markdown>:first-child{margin-top:0}
.markdown>:last-child{margin-bottom:0}
.markdown pre{overflow-x:auto;padding:.75rem;background:#f6f8fa;border-radius:.5rem}
.markdown code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.markdown :not(pre)>code{padding:.1em .3em;background:#eff2f5;border-radius:.25rem}
.markdown table{border-collapse:collapse}
.markdown th,.markdown td{border:1px solid #d1d9e0;padding:.3rem .6rem}
.markdown blockquote{margin:0;padding-left:1rem;border-left:3px solid #d1d9e0;color:#59636e}
.markdown a{color:#0969da}
.markdown .katex-display{overflow-x:auto;overflow-y:hidden;padding:.25rem 0}
.markdown .katex{font-size:1.1em}
.math-source{color:#cf222e}
`;

function imageLookup(images: HtmlExportOptions['images']): (sha256: string) => string | undefined {
  if (!images) return () => undefined;
  if (images instanceof Map) return (sha) => images.get(sha);
  const record = images as Readonly<Record<string, string>>;
  return (sha) => (Object.hasOwn(record, sha) ? record[sha] : undefined);
}

function messageHtml(message: ExportMessage, opts: HtmlExportOptions, image: (sha: string) => string | undefined, macros: Readonly<KatexMacros>): string {
  const role = message.role === 'user' ? 'user' : 'assistant';
  const parts: string[] = [`<p class="role">${role === 'user' ? 'You' : 'Assistant'}</p>`];
  if (message.attachments.length > 0) {
    const figures = message.attachments.map((a) => {
      const name = escapeHtml(imageFileName(a));
      const uri = image(a.sha256);
      if (uri && IMAGE_DATA_URI.test(uri)) return `<figure><img src="${uri}" alt="${name}"><figcaption>${name}</figcaption></figure>`;
      return `<p class="missing">[image: ${name}]</p>`;
    });
    parts.push(`<div class="images">${figures.join('')}</div>`);
  }
  if (message.content) {
    parts.push(
      role === 'user'
        ? `<div class="plain">${escapeHtml(message.content)}</div>`
        : `<div class="markdown">${renderMarkdown(message.content, { window: opts.window, macros })}</div>`,
    );
  }
  const note = statusNote(message);
  if (note) parts.push(`<p class="note">${escapeHtml(note)}</p>`);
  const meta = role === 'assistant' ? answerMeta(message) : '';
  if (meta) parts.push(`<p class="meta">${escapeHtml(meta)}</p>`);
  return `<article class="message ${role}">\n${parts.join('\n')}\n</article>`;
}

/**
 * The conversation as one HTML document that opens offline in any browser and looks like the
 * chat window's light theme. Answers go through the app's own `renderMarkdown` (Markdown,
 * LaTeX normalizing, KaTeX, DOMPurify), each starting with the macros the answers above it
 * defined (`conversationMacros`, as the chat window does), so the file shows what the window
 * shows and model output stays sanitized; the user's text is escaped plain text. Images are `<img>` elements
 * with the data: URIs from `opts.images` (raster types only). The page carries no script
 * element and a CSP ({@link EXPORT_CSP}) under which none would run.
 */
export function conversationToHtml(conversation: ExportConversation, opts: HtmlExportOptions): string {
  const title = conversation.title.replace(/\s+/g, ' ').trim() || 'Conversation';
  const image = imageLookup(opts.images);
  const katexCss = opts.katexCss.replace(/<\/(style)/gi, '<\\/$1');
  const macrosAt = conversationMacros(conversation.messages.map((m) => (m.role === 'assistant' ? m.content : null)));
  const messages = conversation.messages.map((m, i) => messageHtml(m, opts, image, macrosAt[i]!)).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${EXPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="OmniFusion">
<title>${escapeHtml(title)}</title>
<style>${katexCss}</style>
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
<header><h1>${escapeHtml(title)}</h1><p>Exported from OmniFusion on ${escapeHtml(formatExportDate(opts.exportedAt))}</p></header>
${messages}
</main>
</body>
</html>
`;
}
