/**
 * The capture hotkey: a global shortcut whose state follows decisions.shortcutState
 * (failed / unconfirmed until the first press on Wayland / confirmed). Thin over Electron's
 * globalShortcut; the accelerator can change (a setting) and is released on quit.
 */
import type { GlobalShortcut } from 'electron';
import { shortcutState, type SessionType, type ShortcutState } from './decisions.js';

export type ShortcutApi = Pick<GlobalShortcut, 'register' | 'unregister'>;

export class CaptureHotkey {
  #accelerator: string | undefined;
  #registered = false;
  #registeredAt = 0;
  #firedWithinMs: number | undefined;

  constructor(
    private readonly api: ShortcutApi,
    private readonly session: SessionType,
    private readonly onFire: () => void,
    private readonly now: () => number = Date.now,
  ) {}

  get accelerator(): string | undefined {
    return this.#accelerator;
  }

  get state(): ShortcutState {
    return shortcutState(this.#registered, this.#firedWithinMs, this.session);
  }

  /** (Re-)register under `accelerator`; the previous one is released first. Same one again: no-op. */
  set(accelerator: string): ShortcutState {
    if (accelerator === this.#accelerator && this.#registered) return this.state;
    this.release();
    this.#accelerator = accelerator;
    this.#firedWithinMs = undefined;
    this.#registeredAt = this.now();
    try {
      this.#registered = this.api.register(accelerator, () => {
        this.#firedWithinMs ??= Math.max(0, this.now() - this.#registeredAt);
        this.onFire();
      });
    } catch {
      // Electron throws on an accelerator it cannot parse.
      this.#registered = false;
    }
    return this.state;
  }

  /** Unregister (on quit, or before a new accelerator). */
  release(): void {
    if (this.#registered && this.#accelerator !== undefined) {
      try {
        this.api.unregister(this.#accelerator);
      } catch {
        // already gone
      }
    }
    this.#registered = false;
  }
}

export function registerCaptureHotkey(
  api: ShortcutApi,
  accelerator: string,
  onFire: () => void,
  session: SessionType,
  now?: () => number,
): CaptureHotkey {
  const hotkey = new CaptureHotkey(api, session, onFire, now);
  hotkey.set(accelerator);
  return hotkey;
}
