import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { appDataDir, forwardedArgv, parseAppArgs } from '../../../main/app/args.js';
import { CrashRecovery, QuitGuard } from '../../../main/app/lifecycle.js';

test('parseAppArgs: --capture and value flags, in dev and packaged argv shapes', () => {
  assert.deepEqual(parseAppArgs(['/usr/lib/electron/electron', '.']), { capture: false });
  assert.deepEqual(parseAppArgs(['/opt/OmniFusion/omnifusion-desktop', '--capture']), { capture: true });
  assert.deepEqual(parseAppArgs(['electron', '.', '--model-dir', '/models/omni', '--execution-provider=webgpu']), {
    capture: false,
    modelDir: '/models/omni',
    executionProvider: 'webgpu',
  });
  assert.deepEqual(parseAppArgs(['app', '--model-dir=/a=b']), { capture: false, modelDir: '/a=b' });
});

test('parseAppArgs: Chromium switches and unknown arguments are skipped, missing values ignored', () => {
  assert.deepEqual(
    parseAppArgs(['C:\\OmniFusion\\OmniFusion.exe', '--allow-file-access-from-files', '--enable-features=GlobalShortcutsPortal', '--capture', '--original-process-start-time=1']),
    { capture: true },
  );
  assert.deepEqual(parseAppArgs(['app', '--model-dir']), { capture: false });
  assert.deepEqual(parseAppArgs(['app', '--model-dir', '--capture']), { capture: true });
  assert.deepEqual(parseAppArgs(['app', '--model-dir=']), { capture: false });
  assert.deepEqual(parseAppArgs(['app', '--', '--capture']), { capture: false });
  assert.deepEqual(parseAppArgs(['app', '--capture=yes', '--capturex']), { capture: false });
});

test('parseAppArgs: an unknown execution provider is reported, not passed on', () => {
  assert.deepEqual(parseAppArgs(['app', '--execution-provider', 'gpu']), {
    capture: false,
    problems: ['--execution-provider gpu: not one of cpu, webgpu, cuda, dml, coreml, auto'],
  });
  assert.equal(parseAppArgs(['app', '--execution-provider=cuda']).executionProvider, 'cuda');
});

test('forwardedArgv prefers the exact argv the second instance put in additionalData', () => {
  assert.deepEqual(forwardedArgv(['app', '--x'], { argv: ['app', '--capture'] }), ['app', '--capture']);
  assert.deepEqual(forwardedArgv(['app', '--capture'], undefined), ['app', '--capture']);
  assert.deepEqual(forwardedArgv(['app', '--capture'], { argv: [1, 2] }), ['app', '--capture']);
  assert.deepEqual(forwardedArgv(['app'], { argv: 'app --capture' }), ['app']);
});

test('appDataDir is a subfolder of userData', () => {
  const userData = path.join(path.sep, 'home', 'u', '.config', 'OmniFusion Desktop');
  const dir = appDataDir(userData);
  assert.equal(path.dirname(dir), userData);
  assert.notEqual(dir, userData);
});

test('QuitGuard: holds the quit until the service closed, then quits once', async () => {
  let closes = 0;
  let quits = 0;
  let release!: () => void;
  const guard = new QuitGuard(
    () => {
      closes++;
      return new Promise<void>((r) => (release = r));
    },
    () => quits++,
  );
  const prevented: boolean[] = [];
  const event = (): { preventDefault(): void } => {
    const i = prevented.push(false) - 1;
    return { preventDefault: () => (prevented[i] = true) };
  };
  guard.beforeQuit(event());
  guard.beforeQuit(event()); // a second quit while closing
  assert.deepEqual(prevented, [true, true]);
  assert.equal(closes, 1);
  assert.equal(quits, 0);
  release();
  await new Promise((r) => setImmediate(r));
  assert.equal(quits, 1);
  assert.equal(guard.closed, true);
  guard.beforeQuit(event()); // the real quit goes through
  assert.deepEqual(prevented, [true, true, false]);
  assert.equal(closes, 1);
});

test('QuitGuard: a failing close is reported and the app still quits', async () => {
  const errors: unknown[] = [];
  let quits = 0;
  const guard = new QuitGuard(
    () => Promise.reject(new Error('database is locked')),
    () => quits++,
    (err) => errors.push(err),
  );
  guard.beforeQuit({ preventDefault: () => undefined });
  await new Promise((r) => setImmediate(r));
  assert.equal(quits, 1);
  assert.equal((errors[0] as Error).message, 'database is locked');
});

test('CrashRecovery: reloads a crashed window at most 3 times a minute', () => {
  const recovery = new CrashRecovery(3, 60_000);
  assert.equal(recovery.shouldReload(0), true);
  assert.equal(recovery.shouldReload(1_000), true);
  assert.equal(recovery.shouldReload(2_000), true);
  assert.equal(recovery.shouldReload(3_000), false);
  assert.equal(recovery.shouldReload(70_000), true, 'old crashes age out');
});
