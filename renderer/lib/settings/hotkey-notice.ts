/**
 * When the chat window shows the hotkey notice (HotkeyNotice.svelte). Pure, unit-tested in
 * test/unit/renderer-settings/hotkey-notice.test.ts.
 *
 * The notice is for a hotkey that may not work: 'unconfirmed' (Wayland: registered, not yet seen
 * to fire) and 'failed' (not registered). 'confirmed' needs no notice; 'unavailable' (the browser
 * UI) is not a problem the user can fix here: the settings dialog explains it instead.
 *
 * A dismissal is remembered per problem: the accelerator and the state. Dismissing "Control+Alt+
 * Shift+M is unconfirmed" hides that one for good (it is kept in localStorage), but the notice comes
 * back for a new problem: the same hotkey failing later, or another hotkey being unconfirmed.
 */
import type { CaptureStatus } from '../../../main/api/capture.js';

/** localStorage key of the dismissed problems (a JSON array of noticeKey values). */
export const DISMISSED_STORAGE_KEY = 'omnifusion.hotkeyNotice.dismissed';
/** Dismissals kept (oldest dropped first), so the list cannot grow without bound. */
const MAX_DISMISSED = 50;

/** Identity of a problem the notice reports: the accelerator (normalized for case and spaces) and the state. */
export function noticeKey(status: Pick<CaptureStatus, 'accelerator' | 'state'>): string {
  const accel = status.accelerator
    .split('+')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean)
    .join('+');
  return `${accel}|${status.state}`;
}

/** Whether the chat window shows the notice for `status`, given the dismissed problems. */
export function shouldShowHotkeyNotice(status: CaptureStatus | null | undefined, dismissed: ReadonlySet<string> | readonly string[]): boolean {
  if (!status) return false;
  if (status.state !== 'unconfirmed' && status.state !== 'failed') return false;
  const set = dismissed instanceof Set ? dismissed : new Set(dismissed as readonly string[]);
  return !set.has(noticeKey(status));
}

/** The dismissed problems after dismissing `status` (most recent last, at most MAX_DISMISSED). */
export function dismissNotice(dismissed: readonly string[], status: Pick<CaptureStatus, 'accelerator' | 'state'>): string[] {
  const key = noticeKey(status);
  return [...dismissed.filter((k) => k !== key), key].slice(-MAX_DISMISSED);
}

/** Minimal Storage (localStorage, or a fake in tests). */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** The dismissed problems stored in `storage`; [] when absent, unreadable or malformed. */
export function loadDismissed(storage: StorageLike | undefined): string[] {
  try {
    const raw = storage?.getItem(DISMISSED_STORAGE_KEY);
    if (!raw) return [];
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').slice(-MAX_DISMISSED) : [];
  } catch {
    return [];
  }
}

/** Store the dismissed problems (quietly: storage may be unavailable or full). */
export function saveDismissed(storage: StorageLike | undefined, dismissed: readonly string[]): void {
  try {
    storage?.setItem(DISMISSED_STORAGE_KEY, JSON.stringify(dismissed.slice(-MAX_DISMISSED)));
  } catch {
    // not fatal: the notice may show again next time
  }
}
