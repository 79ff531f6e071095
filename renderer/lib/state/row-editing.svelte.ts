/**
 * Which row of the conversation list is being edited, and how: renamed in place, asked
 * "Delete this conversation?", or given a folder; the text being typed, the folder error; and
 * the commit/cancel actions, after which focus follows the row (to its new group when it moved).
 * One per list (ConversationList), shared by its rows (ConversationRow) and folders (HistoryFolder):
 * at most one row is being edited at a time.
 */
import { tick } from 'svelte';
import type { ConversationSummary } from '../../../main/api/contract';
import { chat } from './chat.svelte';
import { history } from './history.svelte';
import { ui } from './ui.svelte';

/** What RowEditing needs to know of the list it serves. */
export interface EditedList {
  /** The list's scrolling element (rows are found in it by `data-id`); undefined before mount. */
  element(): HTMLElement | undefined;
  /** The rows in the order shown (collapsed folders left out): where focus goes after a delete. */
  shown(): readonly ConversationSummary[];
}

/** The editing state of one conversation list; see the file comment. */
export class RowEditing {
  /** The row whose title is being edited, by conversation id. */
  renamingId = $state<string | null>(null);
  renameText = $state('');
  /** The row asking "Delete this conversation?". */
  confirmingId = $state<string | null>(null);
  /** The row whose folder input is shown. */
  movingId = $state<string | null>(null);
  folderText = $state('');
  /** Why the typed folder name was refused (one line), shown under the input. */
  moveError = $state<string | null>(null);
  /** A move is being saved: the folder input's blur (the row changes group, or leaves the view) does not cancel it. */
  #moving = false;
  readonly #list: EditedList;

  constructor(list: EditedList) {
    this.#list = list;
  }

  startRename(c: ConversationSummary): void {
    this.confirmingId = null;
    this.movingId = null;
    this.renamingId = c.id;
    this.renameText = c.title;
  }

  async commitRename(id: string): Promise<void> {
    if (this.renamingId !== id) return;
    const text = this.renameText.trim();
    this.renamingId = null;
    const original = chat.conversations.find((c) => c.id === id)?.title;
    if (text && text !== original) await chat.rename(id, text);
    this.focusRow(id);
  }

  /** Keys of the title input: Enter saves, Esc cancels. */
  renameKeydown(event: KeyboardEvent, id: string): void {
    if (event.key === 'Enter') {
      event.preventDefault();
      void this.commitRename(id);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.renamingId = null;
      this.focusRow(id);
    }
  }

  startMove(c: ConversationSummary): void {
    this.confirmingId = null;
    this.renamingId = null;
    this.movingId = c.id;
    this.folderText = c.folder ?? '';
    this.moveError = null;
  }

  /** Saves the typed folder; a refused name stays in the input with its reason. A collapsed target opens; a pinned row says it stays under Pinned. */
  async commitMove(id: string): Promise<void> {
    if (this.movingId !== id || this.#moving) return;
    this.#moving = true;
    const problem = await chat.setFolder(id, this.folderText);
    this.#moving = false;
    if (this.movingId !== id) return;
    this.moveError = problem;
    if (problem) {
      this.#focusMoveInput(id);
      return;
    }
    this.movingId = null;
    const moved = chat.conversations.find((c) => c.id === id);
    if (moved?.folder && moved.pinned) ui.toast(`Filed in “${moved.folder}”; shown under Pinned while pinned`);
    else if (moved?.folder) history.expand(moved.folder);
    this.focusRow(id);
  }

  cancelMove(id: string, refocus: boolean): void {
    if (this.movingId !== id || this.#moving) return;
    this.movingId = null;
    this.moveError = null;
    if (refocus) this.focusRow(id);
  }

  /** Keys of the folder input: Enter moves, Esc cancels. */
  moveKeydown(event: KeyboardEvent, id: string): void {
    if (event.key === 'Enter') {
      event.preventDefault();
      void this.commitMove(id);
    } else if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.cancelMove(id, true);
    }
  }

  /** Deletes the conversation; focus goes to the next row shown (or the previous one at the end). */
  async confirmDelete(id: string): Promise<void> {
    const rows = this.#list.shown().map((c) => c.id);
    const next = rows[rows.indexOf(id) + 1] ?? rows[rows.indexOf(id) - 1];
    this.confirmingId = null;
    if (await chat.remove(id)) {
      ui.toast('Conversation deleted');
      if (next) this.focusRow(next);
    }
  }

  /** Editing keys of a row's open button: F2 renames, Delete asks to delete (moving between rows: ListFocus). */
  rowKeydown(event: KeyboardEvent, c: ConversationSummary): void {
    if (event.key === 'F2') {
      event.preventDefault();
      this.startRename(c);
    } else if (event.key === 'Delete') {
      event.preventDefault();
      this.movingId = null;
      this.confirmingId = c.id;
    }
  }

  /** Focus a row's open button once the list has updated (the row may have moved to another group). */
  focusRow(id: string): void {
    void tick().then(() => this.#list.element()?.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"] .open`)?.focus());
  }

  /** Give focus back to a row's folder input (to fix a refused name), if it lost it meanwhile. */
  #focusMoveInput(id: string): void {
    void tick().then(() => {
      const input = this.#list.element()?.querySelector<HTMLElement>(`[data-id="${CSS.escape(id)}"] [data-testid=folder-input]`);
      if (input && document.activeElement !== input) input.focus();
    });
  }
}
