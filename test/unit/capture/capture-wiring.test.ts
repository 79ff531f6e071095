/**
 * main/app/main.ts's capture wiring against a fake Electron with the capture APIs
 * (fixtures/fake-electron-capture.mjs): the Wayland portal switch before 'ready', the default
 * hotkey registered and released on quit, `--capture` from a second instance running capture →
 * overlay → crop → attachment → main window, and Esc cancelling. Real capture pixels, the portal
 * and the overlay page are not exercised (no Electron binary).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultHotkey } from '../../../main/api/capture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function runMain(): Record<string, unknown> {
  const dir = mkdtempSync(path.join(tmpdir(), 'omnifusion-capture-'));
  try {
    mkdirSync(path.join(dir, 'app', 'dist', 'renderer'), { recursive: true });
    mkdirSync(path.join(dir, 'userData'));
    writeFileSync(path.join(dir, 'app', 'dist', 'renderer', 'index.html'), '<!doctype html><title>OmniFusion</title>\n');
    const env: NodeJS.ProcessEnv = { ...process.env, FAKE_USER_DATA: path.join(dir, 'userData'), FAKE_APP_PATH: path.join(dir, 'app'), XDG_SESSION_TYPE: 'wayland' };
    delete env['OMNIFUSION_RENDERER_URL'];
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', './test/unit/capture/fixtures/register.mjs', 'test/unit/capture/fixtures/drive-capture.mjs'],
      { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const trace = runMain();

test('Wayland: the GlobalShortcutsPortal feature is switched on before ready; the default hotkey is registered', () => {
  if (process.platform === 'win32' || process.platform === 'darwin') return; // session detection is platform-based
  assert.deepEqual(trace['switchesBeforeReady'], ['enable-features=GlobalShortcutsPortal']);
  assert.deepEqual(trace['fatal'], []);
  assert.deepEqual(trace['registered'], [defaultHotkey(process.platform)]);
  assert.equal(trace['firstInstanceCapture'], 0, 'no --capture on the first launch: no capture');
});

test('--capture from a second instance: capture at physical size, one overlay per display, crop, attachment, window told', () => {
  assert.deepEqual(trace['getSources'], [{ types: ['screen'], thumbnailSize: { width: 200, height: 100 }, fetchWindowIcons: false }]);
  const second = trace['secondInstance'] as { frameServed: unknown; frameAfter: number; overlays: Array<{ bounds: number[]; frame: boolean; url: string }>; refused: boolean; answered: boolean };
  assert.deepEqual(second.frameServed, { status: 200, type: 'image/png', body: 'PNG frame 200x100', other: 404 }, 'the overlay page gets its display frozen');
  assert.equal(second.frameAfter, 404, 'the frame is dropped once the selection is made');
  assert.equal(second.overlays.length, 1);
  assert.deepEqual(second.overlays[0]!.bounds, [0, 0, 100, 50]);
  assert.equal(second.overlays[0]!.frame, false);
  assert.equal(second.overlays[0]!.url, 'app://omnifusion/index.html#capture-overlay/7');
  assert.equal(second.refused, false, 'a selection from another origin is ignored');
  assert.equal(second.answered, true);
  assert.deepEqual(trace['crops'], [{ x: 20, y: 10, width: 40, height: 30 }]);
  assert.deepEqual(trace['added'], [{ name: 'screenshot.png', bytes: 'PNG 40x30' }]);
  assert.deepEqual(trace['published'], [{ event: 'capture.attached', sha256: 'c'.repeat(64), mode: 'ask' }], 'captureOpens = main: the main window gets the crop');
  assert.equal(trace['displayMedia'], true, 'the in-page fallback capture is answered by a handler');
  assert.equal(trace['overlaysLeft'], 0);
  assert.equal(trace['handlerLeft'], false);
});

test('the hotkey opens the overlays; Esc closes them without an attachment; quitting unregisters the hotkey', () => {
  assert.equal(trace['escPrevented'], true);
  assert.deepEqual(trace['afterEsc'], { overlaysLeft: 0, handlerLeft: false, added: 1 });
  assert.deepEqual(trace['unregistered'], [defaultHotkey(process.platform)]);
});

test('captureOpens = quick-ask: the crop opens in a compact, sandboxed window routed to it, with the mode', () => {
  assert.deepEqual(trace['quickAsk'], { url: `app://omnifusion/index.html#quick-ask/${'c'.repeat(64)}/ocr`, width: 520, height: 440, sandbox: true });
  assert.equal(trace['publishedAfterQuickAsk'], 1, 'the main window is not told as well');
});
