// Conversation → Markdown, math kept as LaTeX source in `$…$` / `$$…$$` delimiters. Nothing in
// the file is HTML or an image a Markdown viewer would load from elsewhere: the user's text and
// the title are escaped plain text, raw HTML and images in answers are neutralised, and the only
// images are the attached ones, linked to the copies saved beside the file (archive.ts).

import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import { HTML_TAG_RE } from 'markdown-it/lib/common/html_re.mjs';
import { mathPlugin } from '../markdown/math.js';
import { answerMeta } from '../message-meta.js';
import { formatExportDate, statusNote, type ExportConversation, type ExportMessage } from './types.js';

// The same parser configuration and math plugin as the renderer (render.ts), so that exactly
// the formulas the chat window shows as math are rewritten, and nothing else ("$5 or $50",
// code spans and fences stay as written).
const md = new MarkdownIt({ html: true, linkify: false, typographer: false }).use(mathPlugin);
// A Markdown viewer without math, to check that what the export writes holds no HTML for it.
const plain = new MarkdownIt({ html: true, linkify: false, typographer: false });
// Viewers that take any link destination (markdown-it itself refuses javascript:, not every
// viewer does): what the export writes is checked against these.
const anyLinkMd = new MarkdownIt({ html: true, linkify: false, typographer: false }).use(mathPlugin);
const anyLinkPlain = new MarkdownIt({ html: true, linkify: false, typographer: false });
for (const parser of [anyLinkMd, anyLinkPlain]) parser.validateLink = () => true;

/** Schemes a link in an exported answer may keep (anything else, javascript: and data: among them, is defused). */
const SAFE_LINK_SCHEMES = new Set(['http', 'https', 'mailto']);

/**
 * Whether a link destination, read the way a browser reads an href (leading C0 controls and
 * spaces dropped, tabs and newlines removed, any case), names a scheme other than http(s) or
 * mailto. A destination with no scheme (relative, `#…`) is safe.
 */
export function isUnsafeHref(href: string): boolean {
  // eslint-disable-next-line no-control-regex
  const url = href.replace(/^[\u0000-\u0020]+/, '').replace(/[\t\n\r]/g, '');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  return scheme !== null && !SAFE_LINK_SCHEMES.has(scheme[1]!.toLowerCase());
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Rewrites the math delimiters of a Markdown text to the dollar forms most Markdown tools
 * read: `\(…\)` → `$…$`, `\[…\]` → `$$…$$`, and a bare display environment starting a line
 * (`\begin{aligned}…\end{aligned}`, which the chat window shows as display math) is wrapped
 * in `$$` lines. Formulas are found by the renderer's own math plugin, so only what renders
 * as math changes; the LaTeX inside is kept as written, and `$…$` / `$$…$$` stay as they are.
 * A `\(…\)` directly followed by a digit keeps its delimiters (`$x$5` would not be math).
 * Formulas the plugin found but whose source cannot be located exactly (e.g. a multi-line
 * formula inside a block quote) are left as written.
 */
export function normalizeMathDelimiters(text: string): string {
  const tokens = md.parse(text, {});
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineStart = (line: number): number => lineStarts[line] ?? text.length;
  const edits: Edit[] = [];

  for (const token of tokens) {
    if (!token.map) continue;
    const from = lineStart(token.map[0]);
    const to = token.map[1] >= lineStarts.length ? text.length : lineStart(token.map[1]);
    if (token.type === 'math_block') {
      const raw = (token.meta as { raw: string }).raw;
      const at = text.indexOf(raw, from);
      if (at < 0 || at + raw.length > to) continue;
      if (token.markup === '\\[') {
        edits.push({ start: at, end: at + raw.length, text: `$$${raw.slice(2, -2)}$$` });
      } else if (token.markup === 'env') {
        const indent = text.slice(lineStart(token.map[0]), at);
        const pad = /^[ \t]*$/.test(indent) ? indent : '';
        edits.push({ start: at, end: at + raw.length, text: `$$\n${pad}${raw}\n${pad}$$` });
      }
    } else if (token.type === 'inline') {
      inlineEdits(text, token.children ?? [], from, to, edits);
    }
  }

  let out = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return out;
}

function inlineEdits(text: string, children: readonly Token[], from: number, to: number, edits: Edit[]): void {
  let cursor = from;
  for (const child of children) {
    if (child.type === 'code_inline') {
      // Step over the code span so that a formula's text inside it is not taken for the formula.
      const at = text.indexOf(child.content, cursor);
      if (at >= 0 && at + child.content.length <= to) cursor = at + child.content.length;
      continue;
    }
    if (child.type !== 'math_inline') continue;
    const raw = (child.meta as { raw: string }).raw;
    const at = text.indexOf(raw, cursor);
    if (at < 0 || at + raw.length > to) continue;
    cursor = at + raw.length;
    if (child.markup === '\\(') {
      if (isDigit(text[cursor])) continue;
      edits.push({ start: at, end: cursor, text: `$${child.content.trim()}$` });
    } else if (child.markup === '\\[') {
      edits.push({ start: at, end: cursor, text: `$$${child.content}$$` });
    }
  }
}

// --- Plain text ---------------------------------------------------------------------------

// Characters that start Markdown or HTML anywhere in a line (emphasis, code, links, images,
// HTML and autolinks, headings' closing #s, tables, strikethrough, math); `&` only where it
// starts a character reference.
const INLINE_SPECIAL = /[\\`*_[\]<>#|~$]|&(?=#?[0-9A-Za-z]+;)/g;
// What only counts at the start of a line: list markers, setext underlines, ordered lists.
const LINE_START_SPECIAL = /^([-+=]|\d{1,9}(?=[.)]))/;

function escapeInline(text: string): string {
  return text.replace(INLINE_SPECIAL, (c) => `\\${c}`);
}

/**
 * Escapes plain text (what the user typed, a title) so that a Markdown viewer shows it as
 * written: every character that could start Markdown, HTML or math is backslash-escaped,
 * indentation is kept as character references (it would otherwise make a code block, where
 * escapes show), and line breaks are kept as hard breaks.
 */
export function escapeMarkdownText(text: string): string {
  const lines = text.split(/\r\n?|\n/).map((line) => {
    if (!line.trim()) return '';
    const indent = /^[ \t]*/.exec(line)![0];
    let rest = escapeInline(line.slice(indent.length));
    const start = LINE_START_SPECIAL.exec(rest);
    if (start) rest = /\d/.test(start[1]![0]!) ? `${start[1]}\\${rest.slice(start[1]!.length)}` : `\\${rest}`;
    return indent.replace(/ /g, '&#32;').replace(/\t/g, '&#9;') + rest;
  });
  // A line followed by another (not blank) line ends in a hard break, as the app shows it.
  return lines.map((line, i) => (line && lines[i + 1] ? `${line}\\` : line)).join('\n');
}

// --- Raw HTML and images in answers ---------------------------------------------------------

type LiteralKind = 'code' | 'math';

interface Literal {
  start: number;
  end: number;
  kind: LiteralKind;
}

const ASCII_PUNCT = /[!-/:-@[-`{-~]/;
// `<` that may open a tag, a closing tag, a comment, a declaration, a processing
// instruction or an autolink; `<` before a space or a digit (`a < b`, `x<5`) opens nothing.
const TAG_START = /[A-Za-z/!?]/;
// markdown-it's own test for raw HTML, matching at a given offset.
const HTML_TAG_AT = new RegExp(HTML_TAG_RE.source.replace(/^\^/, ''), 'y');

function htmlTagAt(text: string, at: number): boolean {
  HTML_TAG_AT.lastIndex = at;
  return HTML_TAG_AT.test(text);
}

/**
 * Where the code (fences, indented code, code spans) and math (as the chat window finds it) of
 * a Markdown text are, by source offsets. Spans whose source cannot be located are left out:
 * their text is then treated as ordinary text (escaped), never the other way round.
 */
function literalRanges(text: string, blocksOnly: boolean): Literal[] {
  const tokens = md.parse(text, {});
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineStart = (line: number): number => lineStarts[line] ?? text.length;
  const ranges: Literal[] = [];
  // Table cells' inline tokens carry no lines of their own: they take their row's.
  let rowMap: [number, number] | null = null;
  // Tokens come in source order, so the search for the next span starts after the last one.
  let cursor = 0;
  for (const token of tokens) {
    if (token.map) rowMap = token.map;
    const map = token.map ?? (token.type === 'inline' ? rowMap : null);
    if (!map) continue;
    const from = lineStart(map[0]);
    const to = map[1] >= lineStarts.length ? text.length : lineStart(map[1]);
    if (token.type === 'fence' || token.type === 'code_block') {
      ranges.push({ start: from, end: to, kind: 'code' });
    } else if (token.type === 'math_block') {
      ranges.push({ start: from, end: to, kind: 'math' });
    } else if (token.type === 'inline' && !blocksOnly) {
      cursor = Math.max(cursor, from);
      for (const child of token.children ?? []) {
        let raw: string | undefined;
        let kind: LiteralKind | undefined;
        if (child.type === 'code_inline') {
          raw = `${child.markup}${child.content}${child.markup}`;
          kind = 'code';
        } else if (child.type === 'math_inline') {
          raw = (child.meta as { raw: string }).raw;
          kind = 'math';
        } else if (child.type === 'html_inline') {
          raw = child.content;
        }
        if (raw === undefined) continue;
        let at = text.indexOf(raw, cursor);
        let end = at + raw.length;
        if (child.type === 'code_inline' && (at < 0 || end > to)) {
          // A code span whose content markdown-it changed (line breaks, padding spaces):
          // from its opening backticks to the matching closing ones.
          at = text.indexOf(child.markup, cursor);
          const close = at < 0 ? -1 : text.indexOf(child.markup, at + child.markup.length);
          end = close < 0 ? -1 : close + child.markup.length;
          if (at >= 0 && /`/.test(text[end] ?? '')) end = -1;
        }
        if (at < 0 || end < 0 || end > to) continue;
        cursor = end;
        if (kind) ranges.push({ start: at, end, kind });
      }
    }
  }
  return ranges.sort((a, b) => a.start - b.start);
}

/**
 * Escapes, outside `ranges` (or everywhere when `ranges` is null), each `<` that could open
 * HTML or an autolink as `&lt;` and each `![` as `\![`, skipping what a backslash already
 * escapes. Inside math, a `<` that would begin an HTML tag for a viewer without math gets a
 * space after it (`x< img …>`: the same formula) and `![` becomes `! [`.
 */
function escapeOutside(text: string, ranges: readonly Literal[] | null): string {
  let out = '';
  let r = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    while (ranges && r < ranges.length && ranges[r]!.end <= i) r++;
    const range = ranges?.[r];
    if (range && range.start <= i) {
      if (range.kind === 'math' && c === '<' && htmlTagAt(text, i)) out += '< ';
      else if (range.kind === 'math' && c === '!' && text[i + 1] === '[') out += '! ';
      else out += c;
      continue;
    }
    if (ranges && c === '\\' && ASCII_PUNCT.test(text[i + 1] ?? '') && !(range && range.start <= i + 1)) {
      out += c + text[i + 1];
      i++;
    } else if (c === '<' && (ranges === null || TAG_START.test(text[i + 1] ?? ''))) {
      out += '&lt;';
    } else if (c === '!' && text[i + 1] === '[') {
      out += ranges ? '\\!' : '!&#91;';
      if (!ranges) i++;
    } else {
      out += c;
    }
  }
  return out;
}

// Whether Markdown `text` holds, for a viewer with or without math, a link whose scheme is unsafe.
function holdsUnsafeLink(text: string): boolean {
  const walk = (tokens: readonly Token[]): boolean =>
    tokens.some((t) => (t.type === 'link_open' && isUnsafeHref(t.attrGet('href') ?? '')) || walk(t.children ?? []));
  return walk(anyLinkPlain.parse(text, {})) || walk(anyLinkMd.parse(text, {}));
}

/**
 * Escapes, outside `ranges` (everywhere when null), each `[` not already escaped as `\[`: no
 * inline link, reference link or link definition can then form, and the text still reads as written.
 */
function escapeBrackets(text: string, ranges: readonly Literal[] | null): string {
  let out = '';
  let r = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    while (ranges && r < ranges.length && ranges[r]!.end <= i) r++;
    const range = ranges?.[r];
    if (range && range.start <= i) out += c;
    else if (c === '\\' && ASCII_PUNCT.test(text[i + 1] ?? '')) {
      out += c + text[i + 1];
      i++;
    } else out += c === '[' ? '\\[' : c;
  }
  return out;
}

/**
 * Defuses the links of a Markdown answer whose scheme is not http(s) or mailto
 * (`[x](javascript:…)`, ` JavaScript:`, entities, `<…>` destinations, reference definitions):
 * when any is found, the answer's brackets outside code and math are escaped, so it holds no
 * link at all (its safe links become text too); should one still form, every bracket is escaped.
 */
export function neutralizeLinks(text: string): string {
  if (!holdsUnsafeLink(text)) return text;
  const out = escapeBrackets(text, literalRanges(text, false));
  return holdsUnsafeLink(out) ? escapeBrackets(text, null) : out;
}

// Whether Markdown `text` still holds raw HTML or an image for a viewer without math.
function holdsHtmlOrImage(text: string): boolean {
  const walk = (tokens: readonly Token[]): boolean =>
    tokens.some((t) => t.type === 'html_block' || t.type === 'html_inline' || t.type === 'image' || walk(t.children ?? []));
  return walk(plain.parse(text, {})) || walk(md.parse(text, {}));
}

/**
 * Neutralises the raw HTML and images of a Markdown answer, so that nothing in it is a tag
 * (no element, no request) for a Markdown viewer, with or without math, while it still reads
 * as written: `<` that could open HTML becomes `&lt;` and `![` becomes `\![` (a link), except
 * in code (spans, fences, indented blocks) and math, which keep their text (`$a<b$`, a code
 * block of HTML). Should the result still parse as HTML (a source the locating got wrong),
 * code spans and math lose that protection, and then everything does.
 */
export function neutralizeHtml(text: string): string {
  let out = escapeOutside(text, literalRanges(text, false));
  if (holdsHtmlOrImage(out)) out = escapeOutside(text, literalRanges(text, true));
  if (holdsHtmlOrImage(out)) out = escapeOutside(text, null);
  return out;
}

/**
 * A file name as an image's alt text: characters that Markdown or HTML could read as markup
 * become spaces (an escape would be shown as is by some viewers and dropped by others; the exact
 * name stays in the link target), whitespace folded.
 */
function altText(name: string): string {
  return name.replace(/[\\`*_[\]<>#|~$&!]/g, ' ').replace(/\s+/g, ' ').trim() || 'image';
}

/** A link target: plain when it can be, else in angle brackets (CommonMark) with `<>` escaped. */
function linkTarget(name: string): string {
  return /^[^\s()<>\\]+$/.test(name) ? name : `<${name.replace(/([<>\\])/g, '\\$1')}>`;
}

function messageMarkdown(message: ExportMessage, imagePaths: ReadonlyMap<string, string>): string {
  const parts: string[] = [message.role === 'user' ? '**You**' : '**Assistant**'];
  const images = message.attachments.map((a) => {
    const saved = imagePaths.get(a.sha256);
    const name = saved ? saved.slice(saved.lastIndexOf('/') + 1) : a.name.trim() || 'image';
    // An image that was not saved with the file is named, not linked (a link would point nowhere).
    return saved ? `![${altText(name)}](${linkTarget(saved)})` : `_[image not included: ${altText(name)}]_`;
  });
  if (images.length > 0) parts.push(images.join('\n'));
  const body = message.content.trim();
  if (body) parts.push(message.role === 'assistant' ? neutralizeLinks(neutralizeHtml(normalizeMathDelimiters(body))) : escapeMarkdownText(body));
  const note = statusNote(message);
  if (note) parts.push(`_${note.replace(/([_*\\])/g, '\\$1')}_`);
  const meta = message.role === 'assistant' ? answerMeta(message) : '';
  if (meta) parts.push(`_${escapeInline(meta)}_`);
  return parts.join('\n\n');
}

/**
 * The conversation as one Markdown document: the title as a heading, the export date, then
 * each message as a "**You**" or "**Assistant**" section (separated by rules) with its images
 * and its text; answers get {@link normalizeMathDelimiters} and {@link neutralizeHtml} and a
 * line saying which model made them and how fast ({@link answerMeta}); the user's text and the
 * title are plain text, escaped ({@link escapeMarkdownText}) so that a viewer shows them as typed.
 * `imagePaths` maps an attachment's sha256 to the relative path its copy is saved under
 * (archive.ts); an image not in it is named as not included.
 */
export function conversationToMarkdown(conversation: ExportConversation, exportedAt: Date, imagePaths: ReadonlyMap<string, string> = new Map()): string {
  const title = conversation.title.replace(/\s+/g, ' ').trim() || 'Conversation';
  const head = `# ${escapeInline(title)}\n\n_Exported from OmniFusion on ${formatExportDate(exportedAt)}._`;
  const sections = conversation.messages.map((m) => messageMarkdown(m, imagePaths));
  return `${[head, ...sections].join('\n\n---\n\n')}\n`;
}
