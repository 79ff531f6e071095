/**
 * The capture hotkey: a global shortcut whose state follows decisions.shortcutState
 * (failed / unconfirmed until the first press on Wayland / confirmed). Thin over Electron's
 * globalShortcut; the accelerator follows settings.captureHotkey (the API service drives it
 * through captureController) and is released on quit.
 */
import type { GlobalShortcut } from 'electron';
import type { CaptureStatus } from '../../api/capture.js';
import type { CaptureController } from '../../core/api-service.js';
import { hotkeyStatus, shortcutState, type SessionType, type ShortcutState } from './decisions.js';

export type ShortcutApi = Pick<GlobalShortcut, 'register' | 'unregister'>;

export class CaptureHotkey {
  #accelerator: string | undefined;
  #registered = false;
  #registeredAt = 0;
  #firedWithinMs: number | undefined;
  #onStateChange: ((state: ShortcutState) => void) | undefined;

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

  /** Called when the state changes without a set(): the first press confirms an unconfirmed hotkey. */
  onStateChange(listener: (state: ShortcutState) => void): void {
    this.#onStateChange = listener;
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
        const before = this.state;
        this.#firedWithinMs ??= Math.max(0, this.now() - this.#registeredAt);
        if (this.state !== before) this.#onStateChange?.(this.state);
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

/**
 * The hotkey as the API service sees it (settings.captureHotkey → register; capture.status;
 * capture.start): statuses carry the one-line message of decisions.hotkeyStatus.
 */
export function captureController(hotkey: CaptureHotkey, session: SessionType, start: () => void): CaptureController {
  const status = (): CaptureStatus => hotkeyStatus(hotkey.accelerator ?? '', hotkey.state, session);
  return {
    set: (accelerator) => {
      hotkey.set(accelerator);
      return status();
    },
    status,
    onChange: (listener) => hotkey.onStateChange(() => listener(status())),
    start,
  };
}
