/**
 * The screenshot hotkey and capture calls: the desktop shell's capture controller follows
 * settings.captureHotkey (registered at start, checked and registered on change), its state is
 * capture.status and the `capture.status` event, capture.start runs the flow. Without a shell
 * (the browser UI) the state is 'unavailable'.
 */
import { CAPTURE_COMMAND, isAvoidedAccelerator, type CaptureStatus } from '../../api/capture.js';
import type { ServiceContext } from './context.js';
import { ApiRequestError } from './errors.js';
import type { Handlers } from './handlers.js';

/** The capture calls and the hotkey change settings.set makes. */
export interface Capture {
  /**
   * Check a new hotkey and register it; on failure the previous one is registered again and the
   * change refused, so the user never ends up without a working hotkey they had.
   * @throws ApiRequestError (bad_request) naming the problem (a system shortcut, or not registrable).
   */
  applyHotkey(accelerator: string, previous: string): void;
  handlers: Pick<Handlers, 'capture.status' | 'capture.start'>;
}

/** The capture of the service of `ctx`: registers the settings' hotkey with the shell's controller now. */
export function createCapture(ctx: ServiceContext): Capture {
  const { platform, emit } = ctx;
  const capture = ctx.options.capture;
  if (capture) {
    capture.set(ctx.settings.captureHotkey);
    capture.onChange((next) => emit('capture.status', next));
  }
  const captureStatus = (): CaptureStatus =>
    capture?.status() ?? {
      accelerator: ctx.settings.captureHotkey,
      state: 'unavailable',
      message: 'The global screenshot hotkey works in the desktop app; here, use the Screenshot button in the composer.',
      command: CAPTURE_COMMAND,
    };

  return {
    applyHotkey(accelerator, previous) {
      if (typeof accelerator === 'string' && isAvoidedAccelerator(accelerator, platform)) {
        throw new ApiRequestError('bad_request', `${accelerator} is a system shortcut: choose another`);
      }
      if (!capture) return;
      const result = capture.set(accelerator);
      if (result.state === 'failed') {
        capture.set(previous);
        throw new ApiRequestError('bad_request', `${accelerator} could not be registered (another app may use it): choose another`);
      }
      emit('capture.status', result);
    },
    handlers: {
      'capture.status': () => captureStatus(),
      'capture.start': () => {
        if (!capture) throw new ApiRequestError('bad_request', 'screen capture runs in the desktop app; here, use the Screenshot button');
        capture.start();
        return { started: true };
      },
    },
  };
}
