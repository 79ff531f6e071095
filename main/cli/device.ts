/**
 * The `--device` flag of `ask` and `ocr`: its default, its help line, and when the engine's
 * provider-fallback note is printed. The default is `auto`, as for `serve` and the app (the
 * settings' default device, core/api-service.ts): the platform's GPU provider when it loads,
 * else the CPU (engine/session.ts autoCandidates).
 */
import type { ExecutionProvider } from '../engine/session.js';

/** What --device is when not given: `auto`, the app's and `serve`'s default. */
export const DEFAULT_DEVICE: ExecutionProvider = 'auto';

/** The help text of --device for `ask` and `ocr`. */
export const DEVICE_HELP =
  "execution provider: auto tries this platform's GPU provider (CUDA on Linux, DirectML on Windows), then cpu, as serve and the app do; a named one falls back to cpu with a note";

/**
 * The engine's load note as a stderr line (`note: …\n`), or undefined when there is none or the
 * only news is that the default `auto` (not typed) ran on the CPU, the ordinary case on a machine
 * without a GPU provider (`--json` still reports the provider used).
 * @param note LoadedModelInfo.note from EngineHost.load.
 * @param deviceTyped whether the user typed --device (then every note is printed).
 */
export function loadNote(note: string | undefined, device: ExecutionProvider, deviceTyped: boolean): string | undefined {
  if (!note || (device === 'auto' && !deviceTyped)) return undefined;
  return `note: ${note}\n`;
}
