/**
 * Reply branches of a conversation. conversations.get returns every message of every branch
 * (oldest first, each with its parentId); messages with the same parent are versions of one turn
 * (regenerated answers, edited questions). The chat shows one path from a root down to a leaf:
 * at each fork the version the user chose, else the one leading to the newest message.
 * The list row's preview of the open conversation is the last message of that path (pathPreview).
 */
import type { Message } from '../../main/api/contract';

/** The key of the roots (first questions) in the children map and in a choice record. */
export const ROOT = '';

/** Which version is shown at each fork: parent id (ROOT for the first question) → child id. */
export type BranchChoices = Record<string, string>;

/** Where a message stands among its versions; 0-based index. */
export interface Versions {
  index: number;
  count: number;
  previous: string | null;
  next: string | null;
}

/** The key of a message's fork. */
export function forkOf(message: Pick<Message, 'parentId'>): string {
  return message.parentId ?? ROOT;
}

/** The children of every message (and of ROOT), oldest first. */
export function childrenOf(messages: readonly Message[]): Map<string, Message[]> {
  const ids = new Set(messages.map((m) => m.id));
  const children = new Map<string, Message[]>();
  for (const m of messages) {
    // A message whose parent is not in the list (should not happen) is shown as a root.
    const key = m.parentId !== null && ids.has(m.parentId) ? m.parentId : ROOT;
    const list = children.get(key);
    if (list) list.push(m);
    else children.set(key, [m]);
  }
  return children;
}

/**
 * The path shown: from a root down, at each fork the chosen child, else the child whose subtree
 * holds the newest message (so by default, the path to the newest leaf).
 */
export function visiblePath(messages: readonly Message[], choices: BranchChoices = {}, children = childrenOf(messages)): Message[] {
  // Newest message in each subtree, as its position in the (oldest first) list; children come after parents.
  const newest = new Map<string, number>();
  const position = new Map(messages.map((m, i) => [m.id, i]));
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    const own = Math.max(newest.get(m.id) ?? i, i);
    newest.set(m.id, own);
    if (m.parentId !== null && position.has(m.parentId)) newest.set(m.parentId, Math.max(newest.get(m.parentId) ?? -1, own));
  }
  const path: Message[] = [];
  const seen = new Set<string>();
  for (let key = ROOT; ; ) {
    const kids = children.get(key);
    if (!kids?.length) break;
    const chosen = kids.find((k) => k.id === choices[key]) ?? kids.reduce((a, b) => ((newest.get(b.id) ?? 0) > (newest.get(a.id) ?? 0) ? b : a));
    if (seen.has(chosen.id)) break;
    seen.add(chosen.id);
    path.push(chosen);
    key = chosen.id;
  }
  return path;
}

/** Where `message` stands among its versions (count 1: it has none). */
export function versionsOf(message: Message, children: Map<string, Message[]>): Versions {
  const key = message.parentId !== null && children.has(message.parentId) ? message.parentId : ROOT;
  const kids = children.get(key) ?? [message];
  const index = Math.max(0, kids.findIndex((k) => k.id === message.id));
  return { index, count: kids.length, previous: kids[index - 1]?.id ?? null, next: kids[index + 1]?.id ?? null };
}

/** The ids of every message below `id` (not `id` itself). */
export function descendantsOf(id: string, children: Map<string, Message[]>): string[] {
  const out: string[] = [];
  const stack = [id];
  while (stack.length) {
    for (const kid of children.get(stack.pop()!) ?? []) {
      if (out.includes(kid.id)) continue;
      out.push(kid.id);
      stack.push(kid.id);
    }
  }
  return out;
}

/** How many characters of a message a conversation's preview keeps (the store's PREVIEW_CHARS). */
export const PREVIEW_CHARS = 160;

/** A message's text as a one-line preview: its first PREVIEW_CHARS characters, whitespace collapsed (as the store cuts it). */
export function previewText(content: string): string {
  return Array.from(content.slice(0, PREVIEW_CHARS * 2)).slice(0, PREVIEW_CHARS).join('').replace(/\s+/g, ' ').trim();
}

/**
 * The preview of the branch shown: the text of its last message that has any (an answer that has
 * no text yet shows its question's); '' for an empty path.
 */
export function pathPreview(path: readonly Pick<Message, 'content'>[]): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const text = previewText(path[i]!.content);
    if (text) return text;
  }
  return '';
}
