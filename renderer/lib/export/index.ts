// Export of a conversation to Markdown or to one self-contained HTML file. The conversion
// functions are pure (markdown.ts, html.ts, katex-css.ts, filename.ts); exportConversation
// gathers what they need in the browser (image bytes, KaTeX's CSS and fonts) and saves.

import { conversationToHtml } from './html.js';
import { conversationToMarkdown } from './markdown.js';
import { downloadText } from './download.js';
import { safeFileName } from './filename.js';
import type { ExportConversation, ExportFormat } from './types.js';

export { conversationToMarkdown, escapeMarkdownText, neutralizeHtml, normalizeMathDelimiters } from './markdown.js';
export { conversationToHtml, EXPORT_CSP, type HtmlExportOptions } from './html.js';
export { inlineKatexFonts, katexFontFiles } from './katex-css.js';
export { safeFileName, imageFileName, MAX_STEM_LENGTH, FALLBACK_STEM } from './filename.js';
export { formatExportDate, type ExportAttachment, type ExportConversation, type ExportFormat, type ExportMessage } from './types.js';

function toDataUri(blob: Blob, mime: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^;,]*/, `data:${mime}`));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the image'));
    reader.readAsDataURL(blob);
  });
}

/**
 * The attached images of the conversation as data: URIs by sha256, fetched from their `url`
 * the way the window loads them for display. An image that cannot be fetched is left out
 * (the export names it instead of showing it).
 */
export async function fetchImages(conversation: ExportConversation): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  const wanted = new Map<string, { url: string; mime: string }>();
  for (const m of conversation.messages) for (const a of m.attachments) if (a.url && !wanted.has(a.sha256)) wanted.set(a.sha256, { url: a.url, mime: a.mime });
  await Promise.all(
    [...wanted].map(async ([sha, { url, mime }]) => {
      try {
        const response = await fetch(url, { credentials: 'same-origin' });
        if (!response.ok) return;
        const blob = await response.blob();
        images.set(sha, await toDataUri(blob, (mime || blob.type).toLowerCase()));
      } catch {
        // Named, not shown.
      }
    }),
  );
  return images;
}

/**
 * Exports the conversation (the messages given, in order) in `format` and offers the file as
 * a download named after its title. Resolves with the file name once the download started.
 */
export async function exportConversation(conversation: ExportConversation, format: ExportFormat, exportedAt = new Date()): Promise<string> {
  if (format === 'markdown') {
    const name = safeFileName(conversation.title, 'md');
    downloadText(name, conversationToMarkdown(conversation, exportedAt), 'text/markdown;charset=utf-8');
    return name;
  }
  const [{ katexCss }, images] = await Promise.all([import('./katex-assets.js'), fetchImages(conversation)]);
  const html = conversationToHtml(conversation, { window, katexCss, images, exportedAt });
  const name = safeFileName(conversation.title, 'html');
  downloadText(name, html, 'text/html;charset=utf-8');
  return name;
}
