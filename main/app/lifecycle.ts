/**
 * Lifecycle decisions of the app as plain objects (tested without Electron): quitting only after
 * the service has closed (the database flushed, the engine stopped), and reloading a crashed
 * window a bounded number of times.
 */

/** The part of Electron's before-quit event used here. */
export interface PreventableEvent {
  preventDefault(): void;
}

/**
 * Holds the first quit until `close` has finished, then quits for real. Wire it as
 * `app.on('before-quit', (e) => guard.beforeQuit(e))`.
 */
export class QuitGuard {
  private state: 'running' | 'closing' | 'closed' = 'running';

  constructor(
    private readonly close: () => Promise<void>,
    private readonly quit: () => void,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  /** True once the service has closed and the app may go. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  beforeQuit(event: PreventableEvent): void {
    if (this.state === 'closed') return;
    event.preventDefault();
    if (this.state === 'closing') return;
    this.state = 'closing';
    void this.close()
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.state = 'closed';
        this.quit();
      });
  }
}

/**
 * Whether to reload a window whose renderer crashed: yes, unless it already crashed `max` times
 * within `windowMs` (then show the error instead of looping). The conversation is in the store,
 * so a reload loses nothing but the unsent composer text.
 */
export class CrashRecovery {
  private readonly crashes: number[] = [];

  constructor(
    private readonly max = 3,
    private readonly windowMs = 60_000,
  ) {}

  shouldReload(now: number): boolean {
    while (this.crashes.length > 0 && now - this.crashes[0]! >= this.windowMs) this.crashes.shift();
    this.crashes.push(now);
    return this.crashes.length <= this.max;
  }
}
