/**
 * Settings and the theme. The theme setting is 'system' until the user flips it with the toggle;
 * the effective theme is written to <html data-theme> (the CSS variables hang off it). A copy of
 * the setting in localStorage lets the first paint use the right colours before settings.get answers.
 */
import type { OmniFusionApi, Settings } from '../../../main/api/contract';
import { errorMessage } from '../platform/errors';
import { ui } from './ui.svelte';

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
  #api: OmniFusionApi | undefined;

  async init(api: OmniFusionApi): Promise<void> {
    this.#api = api;
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
