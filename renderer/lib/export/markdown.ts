// Conversation → Markdown, math kept as LaTeX source in `$…$` / `$$…$$` delimiters.

import MarkdownIt from 'markdown-it';
import type { Token } from 'markdown-it';
import { mathPlugin } from '../markdown/math.js';
import { imageFileName } from './filename.js';
import { formatExportDate, statusNote, type ExportConversation, type ExportMessage } from './types.js';

// The same parser configuration and math plugin as the renderer (render.ts), so that exactly
// the formulas the chat window shows as math are rewritten, and nothing else ("$5 or $50",
// code spans and fences stay as written).
const md = new MarkdownIt({ html: true, linkify: false, typographer: false }).use(mathPlugin);

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

/** Escapes the characters that would end or change a Markdown image's alt text. */
function altText(name: string): string {
  return name.replace(/([\\[\]])/g, '\\$1').replace(/\s+/g, ' ');
}

/** A link target: plain when it can be, else in angle brackets (CommonMark) with `<>` escaped. */
function linkTarget(name: string): string {
  return /^[^\s()<>\\]+$/.test(name) ? name : `<${name.replace(/([<>\\])/g, '\\$1')}>`;
}

function messageMarkdown(message: ExportMessage): string {
  const parts: string[] = [message.role === 'user' ? '**You**' : '**Assistant**'];
  const images = message.attachments.map((a) => {
    const name = imageFileName(a);
    return `![${altText(name)}](${linkTarget(name)})`;
  });
  if (images.length > 0) parts.push(images.join('\n'));
  const body = message.content.trim();
  if (body) parts.push(message.role === 'assistant' ? normalizeMathDelimiters(body) : body);
  const note = statusNote(message);
  if (note) parts.push(`_${note.replace(/([_*\\])/g, '\\$1')}_`);
  return parts.join('\n\n');
}

/**
 * The conversation as one Markdown document: the title as a heading, the export date, then
 * each message as a "**You**" or "**Assistant**" section (separated by rules) with its images
 * referenced by file name ({@link imageFileName}) and its text; answers get
 * {@link normalizeMathDelimiters}, the user's text is kept exactly as typed.
 */
export function conversationToMarkdown(conversation: ExportConversation, exportedAt: Date): string {
  const title = conversation.title.replace(/\s+/g, ' ').trim() || 'Conversation';
  const head = `# ${title}\n\n_Exported from OmniFusion on ${formatExportDate(exportedAt)}._`;
  const sections = conversation.messages.map(messageMarkdown);
  return `${[head, ...sections].join('\n\n---\n\n')}\n`;
}
