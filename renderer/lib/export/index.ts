// Export of a conversation to Markdown (a .zip with its images when it has any) or to one
// self-contained HTML file. The conversion functions are pure (markdown.ts, archive.ts, html.ts,
// katex-css.ts, filename.ts); exportConversation gathers what they need in the browser (image
// bytes, KaTeX's CSS and fonts) and saves.

import { conversationToArchive } from './archive.js';
import { conversationToHtml } from './html.js';
import { conversationToMarkdown } from './markdown.js';
import { downloadBlob, downloadText } from './download.js';
import { safeFileName } from './filename.js';
import type { ExportConversation, ExportFormat } from './types.js';

export { conversationToMarkdown, escapeMarkdownText, neutralizeHtml, normalizeMathDelimiters } from './markdown.js';
export { archiveImagePaths, conversationToArchive, IMAGES_DIR } from './archive.js';
export { conversationToHtml, EXPORT_CSP, type HtmlExportOptions } from './html.js';
export { inlineKatexFonts, katexFontFiles } from './katex-css.js';
export { safeFileName, imageFileName, MAX_STEM_LENGTH, FALLBACK_STEM } from './filename.js';
export { formatExportDate, type ExportAttachment, type ExportConversation, type ExportFormat, type ExportMessage } from './types.js';

function toDataUri(bytes: Uint8Array, mime: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^;,]*/, `data:${mime}`));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the image'));
    reader.readAsDataURL(new Blob([bytes as Uint8Array<ArrayBuffer>]));
  });
}

/** Whether any message of the conversation has an attached image. */
export function hasImages(conversation: ExportConversation): boolean {
  return conversation.messages.some((m) => m.attachments.length > 0);
}

/**
 * The bytes and MIME type of each attached image of the conversation by sha256, fetched from
 * its `url` the way the window loads them for display. An image that cannot be fetched is left
 * out (the export names it instead of showing it).
 */
export async function fetchImageBytes(conversation: ExportConversation): Promise<Map<string, { bytes: Uint8Array; mime: string }>> {
  const images = new Map<string, { bytes: Uint8Array; mime: string }>();
  const wanted = new Map<string, { url: string; mime: string }>();
  for (const m of conversation.messages) for (const a of m.attachments) if (a.url && !wanted.has(a.sha256)) wanted.set(a.sha256, { url: a.url, mime: a.mime });
  await Promise.all(
    [...wanted].map(async ([sha, { url, mime }]) => {
      try {
        const response = await fetch(url, { credentials: 'same-origin' });
        if (!response.ok) return;
        const blob = await response.blob();
        images.set(sha, { bytes: new Uint8Array(await blob.arrayBuffer()), mime: (mime || blob.type).toLowerCase() });
      } catch {
        // Named, not shown.
      }
    }),
  );
  return images;
}

/** The attached images as data: URIs by sha256 ({@link fetchImageBytes}), for the HTML export. */
export async function fetchImages(conversation: ExportConversation): Promise<Map<string, string>> {
  const images = new Map<string, string>();
  for (const [sha, { bytes, mime }] of await fetchImageBytes(conversation)) images.set(sha, await toDataUri(bytes, mime));
  return images;
}

/**
 * Exports the conversation (the messages given, in order) in `format` and offers the file as
 * a download named after its title: Markdown as `.md`, or as a `.zip` with the images when it has
 * any (conversationToArchive); HTML as one `.html`. Resolves with the file name once the download
 * started.
 */
export async function exportConversation(conversation: ExportConversation, format: ExportFormat, exportedAt = new Date()): Promise<string> {
  if (format === 'markdown' && hasImages(conversation)) {
    const fetched = await fetchImageBytes(conversation);
    const { name, bytes } = conversationToArchive(conversation, new Map([...fetched].map(([sha, f]) => [sha, f.bytes])), exportedAt);
    downloadBlob(name, new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/zip' }));
    return name;
  }
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
