/**
 * How the conversation list is organised: a Pinned group first, then folders sorted by name
 * (each collapsible; which ones are collapsed is kept for the browser session), then the
 * conversations in no folder. Every group keeps the list's order (last activity, newest first).
 * A pinned conversation shows in Pinned only, whatever folder it is filed in.
 */
import { SvelteSet } from 'svelte/reactivity';
import type { ConversationSummary } from '../../../main/api/contract';

export interface FolderGroup {
  name: string;
  conversations: ConversationSummary[];
}

export interface HistoryGroups {
  pinned: ConversationSummary[];
  folders: FolderGroup[];
  /** In no folder and not pinned. */
  loose: ConversationSummary[];
}

const folderOrder = new Intl.Collator(undefined, { sensitivity: 'base', numeric: true });

/** The list's order, the store's too: last activity, newest first; on a tie the newer conversation (higher id) first. */
export function newestFirst(a: ConversationSummary, b: ConversationSummary): number {
  return b.updatedAt - a.updatedAt || Number(b.id) - Number(a.id);
}

/** The list's groups (pure: the order within each group is the order given). */
export function groupConversations(conversations: readonly ConversationSummary[]): HistoryGroups {
  const pinned: ConversationSummary[] = [];
  const loose: ConversationSummary[] = [];
  const folders = new Map<string, ConversationSummary[]>();
  for (const c of conversations) {
    if (c.pinned) pinned.push(c);
    else if (c.folder) {
      const group = folders.get(c.folder);
      if (group) group.push(c);
      else folders.set(c.folder, [c]);
    } else loose.push(c);
  }
  return {
    pinned,
    folders: [...folders].map(([name, list]) => ({ name, conversations: list })).sort((a, b) => folderOrder.compare(a.name, b.name) || (a.name < b.name ? -1 : 1)),
    loose,
  };
}

/** Every folder name in use (pinned conversations' folders too), sorted: the "Move to folder" suggestions. */
export function folderNames(conversations: readonly ConversationSummary[]): string[] {
  return [...new Set(conversations.map((c) => c.folder).filter((f): f is string => !!f))].sort((a, b) => folderOrder.compare(a, b));
}

const COLLAPSED_KEY = 'omnifusion.history.collapsedFolders';

class HistoryState {
  /** Folders shown closed. */
  collapsed = new SvelteSet<string>(readCollapsed());

  isCollapsed(folder: string): boolean {
    return this.collapsed.has(folder);
  }

  toggle(folder: string): void {
    if (this.collapsed.has(folder)) this.collapsed.delete(folder);
    else this.collapsed.add(folder);
    try {
      sessionStorage.setItem(COLLAPSED_KEY, JSON.stringify([...this.collapsed]));
    } catch {
      // No session storage (private mode, tests): the state lasts as long as the page.
    }
  }

  /** Show a folder (after moving a conversation into it). */
  expand(folder: string): void {
    if (this.collapsed.has(folder)) this.toggle(folder);
  }
}

function readCollapsed(): string[] {
  try {
    const value: unknown = JSON.parse(globalThis.sessionStorage?.getItem(COLLAPSED_KEY) ?? '[]');
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  } catch {
    return [];
  }
}

export const history = new HistoryState();
