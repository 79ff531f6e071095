/** Running `omnifusion serve` as a user would, and calling its API. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { decodeBytes, encodeBytes } from '../../main/server/wire.js';
import { REPO_ROOT, TINY_MODEL_DIR } from '../fixtures/reference-cases.js';

export interface Server {
  child: ChildProcess;
  url: string;
  origin: string;
  token: string;
}

/** How to start serve: `args` after `serve --data-dir D --port 0` (default `--model` the tiny package); `env` replaces this process's. */
export interface ServeOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Start `omnifusion serve` on a free port and wait for the URL it prints. */
export async function startServe(dataDir: string, options: ServeOptions = {}): Promise<Server> {
  const args = ['serve', '--data-dir', dataDir, '--port', '0', ...(options.args ?? ['--model', TINY_MODEL_DIR])];
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/omnifusion.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env ? { env: options.env } : {}),
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const match = /(http:\/\/\S+\?token=\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  const parsed = new URL(url);
  return { child, url, origin: parsed.origin, token: parsed.searchParams.get('token')! };
}

export async function stopServe(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const gone = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await gone;
}

export async function call<T = unknown>(server: Server, name: string, request: unknown): Promise<T> {
  const res = await fetch(`${server.origin}/api/call/${name}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(request, encodeBytes),
  });
  const reply = JSON.parse(await res.text(), decodeBytes) as { ok: boolean; value?: T; error?: { code: string; message: string } };
  if (!reply.ok) throw Object.assign(new Error(reply.error!.message), { code: reply.error!.code });
  return reply.value as T;
}

