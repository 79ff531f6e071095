/**
 * The Electron launcher of the engine process: `utilityProcess.fork` (a Chromium utility process
 * with Node, so `session.run()` blocking its thread never blocks main or the window). The engine
 * entry speaks the same protocol over `process.parentPort` as over a Node IPC channel, so the
 * EngineHost supervises it unchanged: it restarts the process after a crash and fails the request
 * in flight; the api-service turns that into a `models.status` error and a partial message.
 *
 * `fork` is injected (main.ts passes `utilityProcess.fork`) so the mapping is tested without
 * Electron's binary.
 */
import type { ForkOptions } from 'electron';
import type { EngineLauncher, EngineProcess } from '../engine/host.js';
import type { EngineEvent, EngineRequest } from '../engine/protocol.js';
import { engineEnvironment } from '../engine/process/environment.js';

/** The part of Electron's UtilityProcess the launcher uses. */
export interface UtilityChild {
  readonly pid: number | undefined;
  postMessage(message: unknown): void;
  kill(): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'error', listener: (type: string, location: string, report: string) => void): unknown;
}

/** `utilityProcess.fork`. */
export type UtilityFork = (modulePath: string, args?: string[], options?: ForkOptions) => UtilityChild;

/** Name shown in the OS task manager / Chromium's process list. */
export const ENGINE_SERVICE_NAME = 'OmniFusion engine';

/** Options of the engine's utility process. */
export function engineForkOptions(env: NodeJS.ProcessEnv = {}): ForkOptions {
  return {
    serviceName: ENGINE_SERVICE_NAME,
    stdio: 'inherit',
    env: engineEnvironment(process.env, env),
  };
}

/** An EngineLauncher that starts the engine entry with `fork` (Electron's utilityProcess.fork). */
export function utilityProcessLauncher(fork: UtilityFork, env: NodeJS.ProcessEnv = {}): EngineLauncher {
  return (entry: string): EngineProcess => {
    const child = fork(entry, [], engineForkOptions(env));
    let gone = false;
    const exitListeners: Array<(why: string) => void> = [];
    let exitReason: string | undefined;
    const tell = (why: string): void => {
      if (exitReason !== undefined) return;
      exitReason = why;
      gone = true;
      for (const listener of exitListeners) listener(why);
    };
    child.on('exit', (code) => tell(`exit code ${code}`));
    child.on('error', (type, location) => tell(`${type}${location ? ` at ${location}` : ''}`));
    return {
      get pid() {
        return child.pid;
      },
      send: (request: EngineRequest) => {
        if (!gone) child.postMessage(request);
      },
      onMessage: (listener: (event: EngineEvent) => void) => {
        child.on('message', (message) => listener(message as EngineEvent));
      },
      onExit: (listener: (why: string) => void) => {
        if (exitReason !== undefined) listener(exitReason);
        else exitListeners.push(listener);
      },
      kill: () => {
        if (!gone) child.kill();
      },
    };
  };
}
