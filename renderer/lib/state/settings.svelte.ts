/**
 * Settings, the theme and the capture hotkey's status. The theme setting is 'system' until the user
 * flips it with the toggle; the effective theme is written to <html data-theme> (the CSS variables
 * hang off it). A copy of the setting in localStorage lets the first paint use the right colours
 * before settings.get answers.
 *
 * `save()` (the settings dialog) sends each changed setting in its own settings.set call, so a
 * refused value (e.g. a hotkey that is a system shortcut) is reported against its own field and
 * the rest of what the user changed is still saved.
 *
 * `captureStatus` follows capture.status (asked at start and after a save, and pushed by the
 * 'capture.status' event); `dismissedNotices` are the hotkey problems the user dismissed in the
 * chat window (kept in localStorage, see lib/settings/hotkey-notice.ts).
 */
import type { CaptureStatus } from '../../../main/api/capture';
import type { AppNotice, OmniFusionApi, Settings } from '../../../main/api/contract';
import { errorMessage } from '../platform/errors';
import { dismissNotice, loadDismissed, saveDismissed, shouldShowHotkeyNotice } from '../settings/hotkey-notice';
import { ui } from './ui.svelte';

/** Per setting: the one-line reason it was not saved. */
export type SettingErrors = Partial<Record<keyof Settings, string>>;

/** The order changed settings are saved in: the hotkey last (it is the one most likely refused). */
// A Record over every key, so that a new setting cannot be left out of saving.
const SAVE_RANK: Record<keyof Settings, number> = { theme: 0, systemPrompt: 1, greedy: 2, temperature: 3, top_p: 4, maxNewTokens: 5, device: 6, captureMode: 7, captureOpens: 8, captureHotkey: 9 };
const SAVE_ORDER = (Object.keys(SAVE_RANK) as (keyof Settings)[]).sort((a, b) => SAVE_RANK[a] - SAVE_RANK[b]);

function storage(): Storage | undefined {
  try {
    return typeof localStorage === 'undefined' ? undefined : localStorage;
  } catch {
    return undefined;
  }
}

/** sessionStorage key of the startup notices dismissed in this window (code + message of each). */
const DISMISSED_APP_NOTICES_KEY = 'omnifusion.dismissedAppNotices';

function session(): Storage | undefined {
  try {
    return typeof sessionStorage === 'undefined' ? undefined : sessionStorage;
  } catch {
    return undefined;
  }
}

function appNoticeKey(notice: AppNotice): string {
  return `${notice.code}\n${notice.message}`;
}

function loadDismissedAppNotices(): string[] {
  try {
    const raw: unknown = JSON.parse(session()?.getItem(DISMISSED_APP_NOTICES_KEY) ?? '[]');
    return Array.isArray(raw) ? raw.filter((k): k is string => typeof k === 'string') : [];
  } catch {
    return [];
  }
}

function saveDismissedAppNotices(keys: string[]): void {
  try {
    session()?.setItem(DISMISSED_APP_NOTICES_KEY, JSON.stringify(keys));
  } catch {
    // Storage full or refused: the dismissal lasts until the next reload only.
  }
}

export type Theme = Settings['theme'];
const CACHE_KEY = 'omnifusion.theme';
const DARK_QUERY = '(prefers-color-scheme: dark)';

function cachedTheme(): Theme {
  try {
    const value = localStorage.getItem(CACHE_KEY);
    if (value === 'light' || value === 'dark' || value === 'system') return value;
  } catch {
    // storage may be unavailable (opaque origins); the default is fine
  }
  return 'system';
}

function systemDark(): boolean {
  return typeof matchMedia === 'function' && matchMedia(DARK_QUERY).matches;
}

/** Apply a theme to the document (also used before the app mounts). */
export function applyTheme(theme: Theme): 'light' | 'dark' {
  const effective = theme === 'system' ? (systemDark() ? 'dark' : 'light') : theme;
  const root = document.documentElement;
  root.dataset.theme = effective;
  root.dataset.themeSetting = theme;
  root.style.colorScheme = effective;
  return effective;
}

export function applyCachedTheme(): void {
  applyTheme(cachedTheme());
}

class SettingsState {
  settings = $state<Settings | null>(null);
  theme = $state<Theme>(cachedTheme());
  #systemDark = $state(systemDark());
  effectiveTheme = $derived<'light' | 'dark'>(this.theme === 'system' ? (this.#systemDark ? 'dark' : 'light') : this.theme);
  /** The global screenshot hotkey's state (null until capture.status answers). */
  captureStatus = $state<CaptureStatus | null>(null);
  /** Hotkey problems the user dismissed in the chat window. */
  dismissedNotices = $state<string[]>(loadDismissed(storage()));
  /** The chat window's hotkey notice is up. */
  hotkeyNoticeVisible = $derived(shouldShowHotkeyNotice(this.captureStatus, this.dismissedNotices));
  /**
   * What this start of the app has to tell the user (a damaged history set aside, settings reset),
   * until dismissed. A dismissal is remembered for this window's session (sessionStorage, by code
   * and message), so a reload does not bring the notice back while the same server runs.
   */
  notices = $state<AppNotice[]>([]);
  #api: OmniFusionApi | undefined;

  async init(api: OmniFusionApi): Promise<void> {
    this.#api = api;
    api.on('capture.status', (status) => (this.captureStatus = status));
    void this.refreshCaptureStatus();
    void api.call('app.notices', {}).then(
      (notices) => {
        const dismissed = new Set(loadDismissedAppNotices());
        this.notices = notices.filter((n) => !dismissed.has(appNoticeKey(n)));
      },
      () => undefined, // an older server without the call: nothing to tell
    );
    if (typeof matchMedia === 'function') {
      matchMedia(DARK_QUERY).addEventListener('change', (e) => {
        this.#systemDark = e.matches;
        if (this.theme === 'system') applyTheme('system');
      });
    }
    applyTheme(this.theme);
    try {
      const settings = await api.call('settings.get', {});
      this.settings = settings;
      this.#setTheme(settings.theme);
    } catch (err) {
      ui.toast(`Settings could not be read: ${errorMessage(err)}`, 'error');
    }
  }

  /** Ask for the hotkey's state again (after a save, or when the settings dialog opens). */
  async refreshCaptureStatus(): Promise<void> {
    if (!this.#api) return;
    try {
      this.captureStatus = await this.#api.call('capture.status', {});
    } catch {
      // an older server without the call: no status, no notice
    }
  }

  /** Settings as the server has them now (the settings dialog opens with these). */
  async reload(): Promise<Settings | null> {
    if (!this.#api) return this.settings;
    try {
      const settings = await this.#api.call('settings.get', {});
      this.settings = settings;
      return settings;
    } catch {
      return this.settings;
    }
  }

  /**
   * Save what differs from the current settings, one setting per call. Returns the errors of the
   * settings that were refused (they keep their previous value); the others are saved.
   */
  async save(next: Partial<Settings>): Promise<SettingErrors> {
    const errors: SettingErrors = {};
    const api = this.#api;
    if (!api) {
      for (const key of Object.keys(next) as (keyof Settings)[]) errors[key] = 'Not connected.';
      return errors;
    }
    const base = this.settings ?? (await this.reload());
    let hotkeyTried = false;
    for (const key of SAVE_ORDER) {
      if (!(key in next) || next[key] === undefined) continue;
      if (base && base[key] === next[key]) continue;
      try {
        const saved = await api.call('settings.set', { [key]: next[key] } as Partial<Settings>);
        this.settings = saved;
        if (key === 'theme') this.#setTheme(saved.theme);
        if (key === 'captureHotkey') hotkeyTried = true;
      } catch (err) {
        errors[key] = errorMessage(err).split('\n')[0];
        if (key === 'captureHotkey') hotkeyTried = true;
      }
    }
    if (hotkeyTried) await this.refreshCaptureStatus();
    return errors;
  }

  /** Hide the chat window's hotkey notice for the current problem (remembered across reloads). */
  /** Hide a startup notice and remember that for this window's session. */
  dismissAppNotice(notice: AppNotice): void {
    const key = appNoticeKey(notice);
    this.notices = this.notices.filter((n) => appNoticeKey(n) !== key);
    const keys = loadDismissedAppNotices();
    if (!keys.includes(key)) saveDismissedAppNotices([...keys, key]);
  }

  dismissHotkeyNotice(): void {
    if (!this.captureStatus) return;
    this.dismissedNotices = dismissNotice(this.dismissedNotices, this.captureStatus);
    saveDismissed(storage(), this.dismissedNotices);
  }

  #setTheme(theme: Theme): void {
    this.theme = theme;
    applyTheme(theme);
    try {
      localStorage.setItem(CACHE_KEY, theme);
    } catch {
      // not fatal
    }
  }

  /** Flip between light and dark (an explicit choice, saved through settings.set). */
  async toggleTheme(): Promise<void> {
    const next = this.effectiveTheme === 'dark' ? 'light' : 'dark';
    this.#setTheme(next);
    if (!this.#api) return;
    try {
      this.settings = await this.#api.call('settings.set', { theme: next });
    } catch (err) {
      ui.toast(`The theme was not saved: ${errorMessage(err)}`, 'error');
    }
  }
}

export const settings = new SettingsState();
