/** Running the built `omnifusion` command as a user would (npm run build first; scripts/test.sh does). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../fixtures/reference-cases.js';

/** What a finished command left behind; `chunks` are stdout writes in arrival order. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  chunks: string[];
}

/** How to run: `detached` puts the command in its own process group (as a terminal job); `onStdout` sees each read. */
export interface CliOptions {
  timeoutMs?: number;
  detached?: boolean;
  onStdout?: (child: ChildProcess, chunk: string) => void;
  onSpawn?: (child: ChildProcess) => void;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** Run `omnifusion ...args` and collect its output. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/omnifusion.js'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    options.onSpawn?.(child);
    const chunks: string[] = [];
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      chunks.push(d);
      options.onStdout?.(child, d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: chunks.join(''), stderr, chunks });
    });
  });
}

/** A user-facing failure: non-zero exit, exactly one line on stderr, no stack trace. */
export function isOneLineError(run: CliRun): boolean {
  const lines = run.stderr.split('\n').filter((l) => l.trim());
  return run.code !== 0 && lines.length === 1 && !/\n\s+at\s/.test(run.stderr) && !run.stderr.includes('    at ');
}
