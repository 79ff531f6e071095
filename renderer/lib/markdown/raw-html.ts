// Raw HTML in an answer (markdown-it's html_inline and html_block tokens): a tag of the
// sanitizer's HTML_TAGS stays markup (sanitize.ts then strips its dangerous attributes); any
// other `<` is shown as text, so `<lazy>` or `<T>` in an answer stays visible and `<script>`,
// `<style>` or a model's own `<svg>` or `<math>` is shown as its source, never run or dropped.

import type MarkdownIt from 'markdown-it';
import { HTML_OPEN_CLOSE_TAG_RE } from 'markdown-it/lib/common/html_re.mjs';
import { HTML_TAGS } from './sanitize.js';

const KEPT = new Set(HTML_TAGS);

/** One open or close tag at the index set in lastIndex (markdown-it's own tag syntax). */
const TAG_AT = new RegExp(HTML_OPEN_CLOSE_TAG_RE.source.replace(/^\^/, ''), 'y');
const TAG_NAME = /^<\/?([A-Za-z][A-Za-z0-9-]*)/;

/** What {@link escapeUnknownTags} made of a piece of raw HTML. */
export interface RawHtml {
  /** The HTML: kept tags as written, every other `<` as `&lt;`. */
  html: string;
  /** Whether any tag was kept as markup. */
  keptTag: boolean;
}

/**
 * Escapes every `<` of raw HTML that does not open a tag of HTML_TAGS (case-insensitive):
 * unknown and dangerous tags, comments, declarations and processing instructions become text.
 * Everything else (kept tags, text, entities) is left as written for the sanitizer.
 */
export function escapeUnknownTags(raw: string): RawHtml {
  let html = '';
  let keptTag = false;
  let from = 0;
  for (let i = raw.indexOf('<'); i >= 0; i = raw.indexOf('<', i + 1)) {
    TAG_AT.lastIndex = i;
    const tag = TAG_AT.exec(raw)?.[0];
    const name = tag ? TAG_NAME.exec(tag)![1]!.toLowerCase() : '';
    if (tag && KEPT.has(name)) {
      keptTag = true;
      i += tag.length - 1;
      continue;
    }
    html += `${raw.slice(from, i)}&lt;`;
    from = i + 1;
  }
  return { html: html + raw.slice(from), keptTag };
}

/** markdown-it plugin: raw HTML through {@link escapeUnknownTags}; a block left with no tag is a paragraph of text. */
export function rawHtmlPlugin(md: MarkdownIt): void {
  md.renderer.rules.html_inline = (tokens, idx) => escapeUnknownTags(tokens[idx]!.content).html;
  md.renderer.rules.html_block = (tokens, idx) => {
    const { html, keptTag } = escapeUnknownTags(tokens[idx]!.content);
    return keptTag ? html : `<p>${html.trim()}</p>\n`;
  };
}
