/** main/api/capture.ts: accelerator checks and the window routes (shared by main, preload and renderer). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { captureFrameUrl, isAcceleratorLike, isAvoidedAccelerator, parseRoute, routeHash, type AppRoute } from '../../../main/api/capture.js';

test('isAcceleratorLike: one key with a modifier, or a bare F-key; nothing else', () => {
  for (const ok of ['Control+Alt+Shift+M', 'CmdOrCtrl+Shift+2', 'Alt+Space', 'F13', 'Shift+F5', 'Super+PrintScreen']) assert.equal(isAcceleratorLike(ok), true, ok);
  for (const bad of ['', 'M', 'Control+Shift', 'Control+A+B', 'F25', 'F0', '+', 'x'.repeat(101)]) assert.equal(isAcceleratorLike(bad), false, bad);
});

test('isAvoidedAccelerator: system shortcuts in any spelling and order, per platform', () => {
  assert.equal(isAvoidedAccelerator('Super+Shift+S', 'linux'), true);
  assert.equal(isAvoidedAccelerator('shift+win+s', 'win32'), true);
  assert.equal(isAvoidedAccelerator('PrtSc', 'linux'), true);
  assert.equal(isAvoidedAccelerator('Shift+Cmd+4', 'darwin'), true);
  assert.equal(isAvoidedAccelerator('Shift+Cmd+4', 'linux'), false, 'a macOS shortcut is free elsewhere');
  assert.equal(isAvoidedAccelerator('Control+Alt+Shift+M', 'linux'), false);
});

test('routes: every route round-trips through its hash; anything else is the chat window', () => {
  const routes: AppRoute[] = [
    { kind: 'main' },
    { kind: 'capture-overlay', displayId: 2779098405 },
    { kind: 'quick-ask', attachment: 'ab'.repeat(32), mode: 'ocr' },
    { kind: 'quick-ask', attachment: '0'.repeat(64), mode: 'ask' },
  ];
  for (const route of routes) assert.deepEqual(parseRoute(routeHash(route)), route);
  for (const hash of ['#capture-overlay/', '#capture-overlay/-1', '#capture-overlay/7/x', '#quick-ask/abc/ask', `#quick-ask/${'A'.repeat(64)}/ask`, `#quick-ask/${'a'.repeat(64)}/draw`, '#settings']) {
    assert.deepEqual(parseRoute(hash), { kind: 'main' }, hash);
  }
  assert.equal(captureFrameUrl(7), '/capture/7.png');
});
