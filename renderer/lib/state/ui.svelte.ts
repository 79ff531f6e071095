/** Window-level UI state: toasts, the image viewer, the narrow-layout sidebar, open dialogs. */

export interface Toast {
  id: number;
  text: string;
  kind: 'info' | 'error';
}

/** An image the full-size viewer shows. */
export interface ViewerImage {
  src: string;
  name: string;
  width?: number;
  height?: number;
  /** The stored image (attachments.add): the viewer shows its read text as a selectable layer. */
  sha256?: string;
}

class UiState {
  toasts = $state<Toast[]>([]);
  viewer = $state<ViewerImage | null>(null);
  cameraOpen = $state(false);
  /** The settings dialog is open (SettingsDialog.svelte). */
  settingsOpen = $state(false);
  /** The conversation whose settings dialog is open (ConversationSettings.svelte), by id; null when none. */
  conversationSettingsFor = $state<string | null>(null);
  /** The in-page capture overlay is open (lib/capture/in-page.svelte.ts). */
  captureOpen = $state(false);
  /** The model manager or the first-run screen is open (lib/state/models.svelte.ts). */
  modelsOpen = $state(false);
  /** Narrow windows (small screens, 200% zoom) show the conversation list as an overlay. */
  sidebarOpen = $state(false);
  /** The narrow layout is active (the sidebar is an overlay there). */
  narrow = $state(false);
  /** Polite announcements for screen readers (e.g. "Answer finished"). */
  announcement = $state('');
  #timers = new Map<number, ReturnType<typeof setTimeout>>();
  #nextId = 1;

  constructor() {
    if (typeof window !== 'undefined' && window.matchMedia) {
      const query = window.matchMedia('(max-width: 48rem)');
      this.narrow = query.matches;
      query.addEventListener('change', (e) => {
        this.narrow = e.matches;
        if (!e.matches) this.sidebarOpen = false;
      });
    }
  }

  #conversationSettingsOpener: HTMLElement | null = null;

  /** Open conversation `id`'s settings dialog; focus goes back to `opener` (its menu button) when it closes. */
  openConversationSettings(id: string, opener: HTMLElement | null = null): void {
    this.#conversationSettingsOpener = opener;
    this.conversationSettingsFor = id;
  }

  /** Close the conversation settings dialog and give focus back to what opened it, if it is still there. */
  closeConversationSettings(): void {
    if (this.conversationSettingsFor === null) return;
    this.conversationSettingsFor = null;
    const opener = this.#conversationSettingsOpener;
    this.#conversationSettingsOpener = null;
    if (opener?.isConnected) queueMicrotask(() => opener.focus());
  }

  /** Close the overlay list and give focus back to the button that opens it. */
  closeSidebar(): void {
    if (!this.sidebarOpen) return;
    this.sidebarOpen = false;
    if (this.narrow) queueMicrotask(() => document.querySelector<HTMLElement>('[data-testid=sidebar-toggle]')?.focus());
  }

  /** True while a modal dialog owns Escape. */
  get modalOpen(): boolean {
    return this.viewer !== null || this.cameraOpen || this.settingsOpen || this.conversationSettingsFor !== null || this.captureOpen || this.modelsOpen;
  }

  /**
   * Shows `text` for `ms` milliseconds. The same text (and kind) already on screen is not shown
   * twice: that toast stays and its time starts again (five clicks on Copy give one "Copied").
   */
  toast(text: string, kind: Toast['kind'] = 'info', ms = kind === 'error' ? 6000 : 2500): void {
    const same = this.toasts.find((t) => t.text === text && t.kind === kind);
    const id = same?.id ?? this.#nextId++;
    if (!same) this.toasts.push({ id, text, kind });
    clearTimeout(this.#timers.get(id));
    this.#timers.set(id, setTimeout(() => this.dismiss(id), ms));
  }

  dismiss(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
    const i = this.toasts.findIndex((t) => t.id === id);
    if (i >= 0) this.toasts.splice(i, 1);
  }

  announce(text: string): void {
    // Clear first so that the same text is announced again.
    this.announcement = '';
    queueMicrotask(() => (this.announcement = text));
  }
}

export const ui = new UiState();

/** Copy text; falls back to execCommand where the Clipboard API is missing (plain http off loopback). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through to the legacy path
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.style.position = 'fixed';
  area.style.opacity = '0';
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  area.remove();
  return ok;
}
