/**
 * main/app/main.ts wired to a fake Electron (fixtures/fake-electron.mjs, swapped in by a loader
 * hook together with a fake api-service), run in a child process: checks what must happen before
 * 'ready', the window options, the IPC table and sender checks, the event port, the app://
 * protocol with its CSP, permissions, navigation rules, crash reload, second instance, the
 * utility-process launcher and the quit sequence. Electron's real behaviour behind those calls
 * is not exercised here (no binary); the calls and their arguments are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CALL_NAMES } from '../../../main/api/contract.js';
import { CONTENT_SECURITY_POLICY } from '../../../main/app/window-options.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Trace {
  [key: string]: unknown;
  webPreferences: Record<string, unknown>;
  serviceOptions: { dataDir: string; launcher: string };
  index: { status: number; csp: string; type: string; body: string };
  attachment: { status: number; type: string };
  fork: { path: string; serviceName: string; pid: number };
}

function runMain(withRenderer = true): { trace: Trace; stderr: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnifusion-main-'));
  try {
    mkdirSync(path.join(dir, 'app', 'dist', 'renderer'), { recursive: true });
    mkdirSync(path.join(dir, 'userData'));
    if (withRenderer) writeFileSync(path.join(dir, 'app', 'dist', 'renderer', 'index.html'), '<!doctype html><title>OmniFusion</title>\n');
    writeFileSync(path.join(dir, 'a.png'), 'PNG');
    const env: NodeJS.ProcessEnv = { ...process.env, FAKE_USER_DATA: path.join(dir, 'userData'), FAKE_APP_PATH: path.join(dir, 'app'), FAKE_ATTACHMENT: path.join(dir, 'a.png') };
    delete env['OMNIFUSION_RENDERER_URL'];
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', './test/unit/app/fixtures/register.mjs', 'test/unit/app/fixtures/drive-main.mjs'],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    return { trace: JSON.parse(result.stdout) as Trace, stderr: result.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const { trace } = runMain();

test('before ready: privileged app:// scheme, global sandbox, single-instance lock forwarding argv', () => {
  assert.equal(trace['schemesBeforeReady'], true);
  assert.equal(trace['sandboxBeforeReady'], true);
  assert.deepEqual((trace['schemes'] as Array<{ scheme: string }>).map((s) => s.scheme), ['app']);
  assert.ok(Array.isArray((trace['lockData'] as { argv: unknown }).argv));
  assert.deepEqual(trace['fatal'], []);
  assert.deepEqual(trace['exits'], []);
});

test('one hardened window loading app://omnifusion/index.html; data in a userData subfolder', () => {
  assert.equal(trace['windowCount'], 1);
  assert.equal(trace['loaded'], 'app://omnifusion/index.html');
  assert.equal(trace.webPreferences['contextIsolation'], true);
  assert.equal(trace.webPreferences['sandbox'], true);
  assert.equal(trace.webPreferences['nodeIntegration'], false);
  assert.match(String(trace.webPreferences['preload']), /preload\.cjs$/);
  assert.equal(trace['show'], false);
  assert.equal(trace['backgroundColor'], '#16181d', 'the saved dark theme paints the window dark');
  assert.equal(path.basename(trace.serviceOptions.dataDir), 'OmniFusion');
  assert.equal(trace.serviceOptions.launcher, 'function');
});

test('IPC: exactly the call table; the app frame is served, errors are data, others refused', () => {
  assert.deepEqual(trace['channels'], CALL_NAMES.map((n) => `omnifusion:${n}`).sort());
  assert.deepEqual(trace['trustedCall'], { ok: true, value: { theme: 'dark', maxNewTokens: 256, greedy: true, captureHotkey: 'Control+Alt+Shift+M', captureMode: 'ask', captureOpens: 'main' } });
  assert.deepEqual(trace['failedCall'], { ok: false, error: { code: 'not_found', message: 'no such conversation' } });
  assert.equal((trace['untrustedCall'] as { ok: boolean }).ok, false);
  // settings.get for the window colour, the trusted call, conversations.get; not the refused one
  assert.deepEqual(trace['serviceCalls'], ['capture.status', 'settings.get', 'settings.get', 'conversations.get']);
});

test('events: the preload gets a MessagePort and service events travel on it', () => {
  assert.deepEqual(trace['portPosted'], ['omnifusion:events']);
  assert.equal(trace['portHandedOver'], true);
  assert.deepEqual(trace['portSent'], [[{ event: 'generation.token', payload: { messageId: 'm', text: 'hi' } }]]);
});

test('app:// serves the renderer with the CSP, attachments by hash, nothing else', () => {
  assert.equal(trace.index.status, 200);
  assert.equal(trace.index.csp, CONTENT_SECURITY_POLICY);
  assert.equal(trace.index.type, 'text/html; charset=utf-8');
  assert.match(trace.index.body, /OmniFusion/);
  assert.equal(trace['traversalStatus'], 404);
  assert.deepEqual(trace.attachment, { status: 200, type: 'image/png' });
  assert.equal(trace['missingAttachment'], 404);
  assert.equal(trace['post'], 405);
});

test('permissions: camera yes, microphone and the rest no; no devices', () => {
  assert.deepEqual(trace['permissions'], [true, false, false]);
  assert.equal(trace['check'], true);
  assert.equal(trace['device'], false);
});

test('navigation: new windows denied, leaving the app prevented, safe links opened outside', () => {
  assert.deepEqual(trace['openHttps'], { action: 'deny' });
  assert.deepEqual(trace['openFile'], { action: 'deny' });
  assert.equal(trace['navAway'], true);
  assert.equal(trace['navJs'], true);
  assert.equal(trace['navApp'], false);
  assert.equal(trace['frameNav'], true);
  assert.equal(trace['redirect'], true);
  assert.equal(trace['webview'], true);
  assert.deepEqual(trace['opened'], ['https://example.com/', 'https://evil.example/']);
});

test('a crashed renderer is reloaded; a second instance focuses the window', () => {
  assert.equal(trace['reloads'], 1);
  assert.equal(trace['focused'], 1);
});

test('the engine runs in a utility process named for the OS task list', () => {
  assert.deepEqual(trace.fork, { path: '/entry.js', serviceName: 'OmniFusion engine', pid: 1 });
});

test('quitting closes the service once, removes the IPC handlers, then quits', () => {
  assert.equal(trace['closed'], 1);
  assert.equal(trace['quits'], 2, 'the first quit is held, the second goes through');
  assert.equal(trace['handlersAfterQuit'], 0);
});

test('without a built renderer the app says so and exits 1', () => {
  const { trace: failed } = runMain(false);
  assert.equal(failed['windowCount'], undefined);
  assert.match(String((failed['fatal'] as string[])[0]), /could not start: The window's files are missing .*index\.html/);
  assert.deepEqual(failed['exits'], [1]);
});
