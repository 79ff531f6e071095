/**
 * Store rows → API shapes (main/api/contract.ts): messages, conversation summaries,
 * attachments, search snippets; and the branch of a conversation that ends at a message. Pure.
 */
import type { AttachmentInfo as ApiAttachment, ConversationSummary as ApiConversationSummary, Message as ApiMessage } from '../../api/contract.js';
import type { AttachmentInfo, ConversationSummary as StoreConversationSummary, Message } from '../store/index.js';

/** A stored attachment as the API shows it; `name` is the file name it was added or sent with (its URL is /files/<sha256>). */
export function toAttachment(a: AttachmentInfo, name = a.name ?? ''): ApiAttachment {
  return { sha256: a.sha256, mime: a.mime, bytes: a.byteSize, width: a.width ?? 0, height: a.height ?? 0, name, url: `/files/${a.sha256}` };
}

/** A conversation of the store's list as the API's summary (ids as text, the last message's preview). */
export function toSummary(s: StoreConversationSummary): ApiConversationSummary {
  return { id: String(s.id), title: s.title, updatedAt: s.updatedAt, preview: s.lastMessage?.preview ?? '', ocrTokens: s.ocrTokens, pinned: s.pinned, folder: s.folder, options: { ...s.options } };
}

/** A stored message as the API's (ids as text; model, timings and error only when present). */
export function toMessage(m: Message): ApiMessage {
  return {
    id: String(m.id),
    conversationId: String(m.conversationId),
    role: m.role === 'assistant' ? 'assistant' : 'user',
    content: m.content,
    status: m.status,
    ...(m.model ? { model: m.model } : {}),
    ...(m.timings ? { timings: m.timings } : {}),
    ...(m.error ? { error: m.error } : {}),
    attachments: m.attachments.map((a) => toAttachment(a)),
    createdAt: m.createdAt,
    parentId: m.parentId === null ? null : String(m.parentId),
  };
}

/**
 * The branch ending at `last`: from its root to `last`, following parent links back (so siblings,
 * the other versions of a turn, and other branches are left out).
 */
export function pathTo(messages: readonly Message[], last: Message): Message[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const branch: Message[] = [];
  const seen = new Set<number>();
  let at: Message | undefined = last;
  while (at && !seen.has(at.id)) {
    seen.add(at.id);
    branch.push(at);
    at = at.parentId === null ? undefined : byId.get(at.parentId);
  }
  return branch.reverse();
}

/** Mark highlight ranges ([start, end) offsets into `snippet`) of a plain-text snippet with «…» (no HTML: the renderer escapes it). */
export function markHighlights(snippet: string, highlights: ReadonlyArray<[number, number]>): string {
  let out = '';
  let at = 0;
  for (const [start, end] of highlights) {
    out += `${snippet.slice(at, start)}«${snippet.slice(start, end)}»`;
    at = end;
  }
  return out + snippet.slice(at);
}
