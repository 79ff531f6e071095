/**
 * Keyboard focus in the conversation list: the whole list is one tab stop. Pattern: the roving
 * tabindex of the WAI-ARIA Authoring Practices ("Developing a Keyboard Interface", § Managing
 * Focus Within Components Using a Roving tabindex), moved with the keys of the APG Treeview
 * pattern: ↑/↓ the previous/next item shown (conversation rows and folder headers, in the order
 * shown), Home/End the first/last, ← on a row in a folder its folder's header (→ and ← on a header
 * open and close it: HistoryFolder). Exactly one item has tabindex 0: the one focused last while it
 * is shown, else the open conversation's row, else the first item; every other item and every
 * in-row button has tabindex -1 (the row's actions are keys: Enter opens, F2 renames, Delete
 * deletes, Shift+F10 or the context-menu key opens its menu).
 * One per list (ConversationList), shared by its rows (ConversationRow) and folders (HistoryFolder).
 */

/** The key of a conversation row among the list's items. */
export function rowKey(id: string): string {
  return `c:${id}`;
}

/** The key of a folder's header among the list's items. */
export function folderKey(name: string): string {
  return `f:${name}`;
}

/** What ListFocus needs to know of the list it serves. */
export interface FocusedList {
  /** The list's scrolling element (items are found in it by `data-nav`); undefined before mount. */
  element(): HTMLElement | undefined;
  /** The keys of the items shown, in order (rows of collapsed folders left out). */
  keys(): readonly string[];
  /** The key of the open conversation's row, or null. */
  activeKey(): string | null;
}

/** The roving tab stop of one conversation list; see the file comment. */
export class ListFocus {
  /** The item that had focus last (kept while it is shown). */
  #last = $state<string | null>(null);
  readonly #list: FocusedList;

  constructor(list: FocusedList) {
    this.#list = list;
  }

  /** The item that Tab reaches: the last focused one, else the open conversation's row, else the first. */
  readonly tabStop = $derived.by((): string | null => {
    const keys = this.#list.keys();
    if (this.#last !== null && keys.includes(this.#last)) return this.#last;
    const active = this.#list.activeKey();
    if (active !== null && keys.includes(active)) return active;
    return keys[0] ?? null;
  });

  /** The tabindex of an item: 0 for the tab stop, -1 for the others. */
  tabindex(key: string): 0 | -1 {
    return this.tabStop === key ? 0 : -1;
  }

  /** An item got focus (by the keyboard, a click, or the list giving it back): it becomes the tab stop. */
  focused(key: string): void {
    this.#last = key;
  }

  /** Focus an item by key; false when it is not shown. */
  focus(key: string): boolean {
    const el = this.#items().find((item) => item.dataset.nav === key);
    el?.focus();
    return !!el;
  }

  /** Focus the tab stop (from the search box's ↓). */
  focusTabStop(): void {
    const stop = this.tabStop;
    if (stop === null || !this.focus(stop)) this.#items()[0]?.focus();
  }

  /** The moving keys of an item (↑/↓, Home/End, ← in a folder); true when the key was handled. */
  keydown(event: KeyboardEvent): boolean {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return false;
    const items = this.#items();
    const here = event.currentTarget as HTMLElement;
    const i = items.indexOf(here);
    let target: HTMLElement | undefined;
    if (event.key === 'ArrowDown') target = items[Math.min(i + 1, items.length - 1)];
    else if (event.key === 'ArrowUp') target = items[Math.max(i - 1, 0)];
    else if (event.key === 'Home') target = items[0];
    else if (event.key === 'End') target = items.at(-1);
    else if (event.key === 'ArrowLeft' && here.dataset.nav?.startsWith('c:')) {
      target = here.closest('[data-testid=folder]')?.querySelector<HTMLElement>('[data-nav^="f:"]') ?? undefined;
    } else return false;
    event.preventDefault();
    target?.focus();
    return true;
  }

  /** The items present, in document order (a row being renamed or moved has none). */
  #items(): HTMLElement[] {
    return Array.from(this.#list.element()?.querySelectorAll<HTMLElement>('[data-nav]') ?? []);
  }
}
