/**
 * Command-line handling of the app, pure: the flags the app understands (also when a second
 * instance forwards its argv), and where the app keeps its files.
 */
import path from 'node:path';
import type { ExecutionProvider } from '../engine/session.js';

/** What the app was asked to do. */
export interface AppArgs {
  /** Start a screen-region capture (the global hotkey relaunches the app with it). */
  capture: boolean;
  /** Model package folder to load instead of the configured one. */
  modelDir?: string;
  /** Execution provider to try first. */
  executionProvider?: ExecutionProvider;
  /** Flags given with a value the app cannot use (logged, then ignored). */
  problems?: string[];
}

/**
 * The engine's execution providers (engine/session.ts has the same list, but importing it would
 * load onnxruntime-node into main; the type check below keeps the two in step).
 */
export const EXECUTION_PROVIDER_NAMES = ['cpu', 'webgpu', 'cuda', 'dml', 'coreml', 'auto'] as const satisfies readonly ExecutionProvider[];
type Exhaustive<T extends never> = T;
export type AllProvidersListed = Exhaustive<Exclude<ExecutionProvider, (typeof EXECUTION_PROVIDER_NAMES)[number]>>;

function isExecutionProvider(value: string): value is ExecutionProvider {
  return (EXECUTION_PROVIDER_NAMES as readonly string[]).includes(value);
}

const VALUE_FLAGS = { '--model-dir': 'modelDir', '--execution-provider': 'executionProvider' } as const;

/**
 * Parse the flags the app knows out of an argv. Unknown arguments are skipped: Electron's own
 * entries (the executable, `.` or the app path) and the switches Chromium adds to a forwarded
 * argv (which it may also reorder) must not break parsing. `--flag=value` and `--flag value`
 * both work; a value that looks like a flag is not taken.
 */
export function parseAppArgs(argv: readonly string[]): AppArgs {
  const args: AppArgs = { capture: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '--capture') {
      args.capture = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    if (!(flag in VALUE_FLAGS)) continue;
    const key = VALUE_FLAGS[flag as keyof typeof VALUE_FLAGS];
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (!value) continue;
    if (key === 'executionProvider') {
      if (isExecutionProvider(value)) args.executionProvider = value;
      else (args.problems ??= []).push(`--execution-provider ${value}: not one of ${EXECUTION_PROVIDER_NAMES.join(', ')}`);
    } else {
      args[key] = value;
    }
  }
  return args;
}

/**
 * The argv a second instance forwarded: the one it put in `additionalData` (exact, as the docs
 * recommend) when present, else the argv Electron reports (which Chromium may have altered).
 */
export function forwardedArgv(argv: readonly string[], additionalData: unknown): readonly string[] {
  if (typeof additionalData === 'object' && additionalData !== null) {
    const forwarded = (additionalData as { argv?: unknown }).argv;
    if (Array.isArray(forwarded) && forwarded.every((a) => typeof a === 'string')) return forwarded as string[];
  }
  return argv;
}

/**
 * The app's data folder: a subfolder of Electron's userData, so the database and attachments do
 * not mix with Chromium's Cache, GPUCache, Local Storage and the like that live beside them.
 */
export function appDataDir(userData: string): string {
  return path.join(userData, 'OmniFusion');
}
