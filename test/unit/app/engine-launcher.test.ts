import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ForkOptions } from 'electron';
import { ENGINE_SERVICE_NAME, utilityProcessLauncher, type UtilityChild } from '../../../main/app/engine-launcher.js';
import { EngineHost, EngineError } from '../../../main/engine/host.js';
import type { EngineEvent, EngineRequest } from '../../../main/engine/protocol.js';

/** A fake utility process: records what main posts, lets the test answer as the engine would. */
class FakeUtility extends EventEmitter implements UtilityChild {
  pid: number | undefined = 4242;
  readonly posted: EngineRequest[] = [];
  killed = 0;
  postMessage(message: unknown): void {
    this.posted.push(message as EngineRequest);
  }
  kill(): boolean {
    this.killed++;
    return true;
  }
  reply(event: EngineEvent): void {
    this.emit('message', event);
  }
  exit(code: number): void {
    this.pid = undefined;
    this.emit('exit', code);
  }
}

function fakeFork(): { fork: (path: string, args?: string[], options?: ForkOptions) => FakeUtility; forks: Array<{ path: string; args?: string[]; options?: ForkOptions; child: FakeUtility }> } {
  const forks: Array<{ path: string; args?: string[]; options?: ForkOptions; child: FakeUtility }> = [];
  return {
    forks,
    fork: (path, args, options) => {
      const child = new FakeUtility();
      forks.push({ path, ...(args ? { args } : {}), ...(options ? { options } : {}), child });
      return child;
    },
  };
}

test('forks the entry as a named utility process with inherited stdio', () => {
  const { fork, forks } = fakeFork();
  const proc = utilityProcessLauncher(fork, { OMNIFUSION_TEST: '1' })('/app/dist/main/engine/process/engine-main.js');
  assert.equal(forks.length, 1);
  assert.equal(forks[0]!.path, '/app/dist/main/engine/process/engine-main.js');
  assert.deepEqual(forks[0]!.args, []);
  assert.equal(forks[0]!.options?.serviceName, ENGINE_SERVICE_NAME);
  assert.equal(forks[0]!.options?.stdio, 'inherit');
  assert.equal((forks[0]!.options?.env as Record<string, string | undefined> | undefined)?.['OMNIFUSION_TEST'], '1');
  assert.equal(proc.pid, 4242);
});

test('maps postMessage/message/exit to the EngineProcess interface', () => {
  const { fork, forks } = fakeFork();
  const proc = utilityProcessLauncher(fork)('/entry.js');
  const child = forks[0]!.child;
  const got: EngineEvent[] = [];
  const exits: string[] = [];
  proc.onMessage((e) => got.push(e));
  proc.onExit((why) => exits.push(why));
  proc.send({ type: 'cancel', id: 3 });
  child.reply({ type: 'ready', pid: 4242 });
  assert.deepEqual(child.posted, [{ type: 'cancel', id: 3 }]);
  assert.deepEqual(got, [{ type: 'ready', pid: 4242 }]);
  child.emit('error', 'FatalError', 'v8::Something', 'report');
  child.exit(133);
  assert.deepEqual(exits, ['FatalError at v8::Something'], 'exit is told once');
  proc.send({ type: 'cancel', id: 4 });
  assert.equal(child.posted.length, 1, 'nothing is posted to a dead process');
  proc.kill();
  assert.equal(child.killed, 0, 'a dead process is not killed');
  assert.equal(proc.pid, undefined);
  const late: string[] = [];
  proc.onExit((why) => late.push(why));
  assert.deepEqual(late, ['FatalError at v8::Something'], 'a late listener still hears why');
});

test('kill stops a live process', () => {
  const { fork, forks } = fakeFork();
  const proc = utilityProcessLauncher(fork)('/entry.js');
  proc.kill();
  assert.equal(forks[0]!.child.killed, 1);
});

test('EngineHost over the utility launcher: a crash fails the request, the next one restarts the engine', async () => {
  const { fork, forks } = fakeFork();
  const host = new EngineHost({ launcher: utilityProcessLauncher(fork) });
  const loading = host.load('/models/tiny', 'cpu');
  forks[0]!.child.reply({ type: 'ready', pid: 1 });
  await new Promise((r) => setImmediate(r));
  const load = forks[0]!.child.posted[0]!;
  assert.equal(load.type, 'load');
  forks[0]!.child.exit(1);
  await assert.rejects(loading, (err: unknown) => err instanceof EngineError && err.code === 'crashed');

  const again = host.load('/models/tiny', 'cpu');
  assert.equal(forks.length, 2, 'a fresh engine process was started');
  forks[1]!.child.reply({ type: 'ready', pid: 2 });
  await new Promise((r) => setImmediate(r));
  const reload = forks[1]!.child.posted.find((r) => r.type === 'load');
  assert.ok(reload && reload.type === 'load');
  const info = { family: 'omnifusion', name: 'tiny', executionProvider: 'cpu' };
  forks[1]!.child.reply({ type: 'loaded', id: reload.id, info } as unknown as EngineEvent);
  assert.deepEqual(await again, info);
});
