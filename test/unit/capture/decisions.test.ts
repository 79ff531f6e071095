import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AVOIDED_ACCELERATORS, CAPTURE_COMMAND, defaultHotkey, normalizeAccelerator } from '../../../main/api/capture.js';
import {
  chooseCaptureFallback,
  detectSessionType,
  electronSwitchesFor,
  isBlankFrame,
  hotkeyStatus,
  isShortcutConfirmed,
  shortcutState,
  switchToAppendArgs,
  type FallbackInput,
  type SessionType,
} from '../../../main/app/capture/decisions.js';

test('detectSessionType (table)', () => {
  const rows: [string, Record<string, string>, SessionType][] = [
    ['win32', { DISPLAY: ':0' }, 'windows'],
    ['darwin', {}, 'macos'],
    ['linux', { XDG_SESSION_TYPE: 'wayland', DISPLAY: ':0' }, 'wayland'],
    ['linux', { XDG_SESSION_TYPE: 'Wayland' }, 'wayland'],
    ['linux', { XDG_SESSION_TYPE: 'x11', WAYLAND_DISPLAY: 'wayland-0' }, 'x11'],
    ['linux', { XDG_SESSION_TYPE: 'tty', WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':0' }, 'wayland'],
    ['linux', { WAYLAND_DISPLAY: 'wayland-0', DISPLAY: ':1' }, 'wayland'],
    ['linux', { DISPLAY: ':0' }, 'x11'],
    ['freebsd', { DISPLAY: ':0' }, 'x11'],
    ['linux', {}, 'unknown'],
    ['linux', { XDG_SESSION_TYPE: 'tty' }, 'unknown'],
    ['aix', { DISPLAY: ':0' }, 'unknown'],
  ];
  for (const [platform, env, want] of rows) assert.equal(detectSessionType({ platform, env }), want, `${platform} ${JSON.stringify(env)}`);
});

test('electronSwitchesFor enables the GlobalShortcutsPortal feature only on Wayland', () => {
  assert.deepEqual(electronSwitchesFor('wayland'), ['--enable-features=GlobalShortcutsPortal']);
  for (const s of ['x11', 'windows', 'macos', 'unknown'] as const) assert.deepEqual(electronSwitchesFor(s), []);
  assert.deepEqual(switchToAppendArgs('--enable-features=GlobalShortcutsPortal'), ['enable-features', 'GlobalShortcutsPortal']);
  assert.deepEqual(switchToAppendArgs('--no-sandbox'), ['no-sandbox']);
});

function frame(w: number, h: number, px: (x: number, y: number) => [number, number, number, number]): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set(px(x, y), (y * w + x) * 4);
  return d;
}

test('isBlankFrame (table)', () => {
  const W = 320;
  const H = 200;
  const rows: [string, Uint8Array | Uint8ClampedArray, number, number, boolean][] = [
    ['zero size', new Uint8Array(0), 0, 0, true],
    ['buffer shorter than w×h×4', new Uint8Array(10), W, H, true],
    ['non-integer size', new Uint8Array(400), 10.5, 5, true],
    ['all black', frame(W, H, () => [0, 0, 0, 255]), W, H, true],
    ['black with sensor-like noise ≤ 16', frame(W, H, (x, y) => [(x * 7 + y) % 17, (x + y) % 13, 3, 255]), W, H, true],
    ['fully transparent', frame(W, H, (x) => [x % 256, 9, 9, 0]), W, H, true],
    ['uniform grey overlay', frame(W, H, () => [128, 128, 128, 255]), W, H, true],
    ['uniform white ± 5 noise', frame(W, H, (x, y) => [250 + ((x + y) % 5), 252, 255, 255]), W, H, true],
    ['white with a small cursor', frame(W, H, (x, y) => (x >= 160 && x < 166 && y >= 100 && y < 110 ? [0, 0, 0, 255] : [255, 255, 255, 255])), W, H, true],
    ['Uint8ClampedArray uniform', new Uint8ClampedArray(frame(W, H, () => [40, 40, 40, 255])), W, H, true],
    ['gradient desktop', frame(W, H, (x, y) => [x % 256, y % 256, 100, 255]), W, H, false],
    ['white page with a dark taskbar', frame(W, H, (_x, y) => (y >= 180 ? [30, 30, 30, 255] : [255, 255, 255, 255])), W, H, false],
    ['black with one bright window', frame(W, H, (x, y) => (x > 100 && x < 200 && y > 50 && y < 150 ? [200, 200, 200, 255] : [0, 0, 0, 255])), W, H, false],
    ['1×1 pixel frame', new Uint8Array([5, 5, 5, 255]), 1, 1, true],
    ['large 3840×2160 desktop (grid sampled)', frame(3840, 2160, (x, y) => [(x >> 4) & 255, (y >> 4) & 255, 0, 255]), 3840, 2160, false],
  ];
  for (const [name, buf, w, h, want] of rows) assert.equal(isBlankFrame(buf, w, h), want, name);
});

test('shortcutState / isShortcutConfirmed (table)', () => {
  const rows: [boolean, number | undefined, SessionType, string][] = [
    [false, undefined, 'x11', 'failed'],
    [false, 100, 'wayland', 'failed'],
    [true, undefined, 'x11', 'confirmed'],
    [true, undefined, 'windows', 'confirmed'],
    [true, undefined, 'macos', 'confirmed'],
    [true, undefined, 'wayland', 'unconfirmed'],
    [true, undefined, 'unknown', 'unconfirmed'],
    [true, 0, 'wayland', 'confirmed'],
    [true, 45_000, 'wayland', 'confirmed'],
    [true, Number.NaN, 'wayland', 'unconfirmed'],
    [true, -1, 'wayland', 'unconfirmed'],
  ];
  for (const [reg, fired, session, want] of rows) {
    assert.equal(shortcutState(reg, fired, session), want, `${reg} ${fired} ${session}`);
    assert.equal(isShortcutConfirmed(reg, fired, session), want === 'confirmed');
  }
});

test('chooseCaptureFallback (table)', () => {
  const base: FallbackInput = { session: 'wayland', shortcutConfirmed: true, captureBlank: false, portalAvailable: true, clipboardHasImage: false };
  const rows: [Partial<FallbackInput>, string[], RegExp | undefined][] = [
    [{}, [], undefined],
    [{ captureBlank: true }, ['system-picker', 'open-file'], /blank.*Wayland.*omnifusion-desktop --capture.*GNOME.*KDE/],
    [{ captureBlank: true, clipboardHasImage: true }, ['clipboard', 'system-picker', 'open-file'], /blank/],
    [{ captureBlank: true, portalAvailable: false }, ['open-file'], /GNOME/],
    [{ shortcutConfirmed: false }, [], /could not be confirmed.*Wayland.*omnifusion-desktop --capture.*GNOME: Settings → Keyboard.*KDE: System Settings → Shortcuts/],
    [{ session: 'x11', shortcutConfirmed: false }, [], /desktop shortcut to `omnifusion-desktop --capture`/],
    [{ session: 'x11', captureBlank: true, portalAvailable: false, clipboardHasImage: true }, ['clipboard', 'open-file'], /X11/],
    [{ session: 'macos', captureBlank: true, portalAvailable: false }, ['open-file'], /Screen Recording/],
    [{ session: 'windows', captureBlank: true, portalAvailable: false, clipboardHasImage: true }, ['clipboard', 'open-file'], /Win\+Shift\+S/],
    [{ session: 'windows', shortcutConfirmed: false }, [], /could not be registered/],
    [{ session: 'macos' }, [], undefined],
  ];
  for (const [over, fallbacks, msg] of rows) {
    const d = chooseCaptureFallback({ ...base, ...over });
    assert.deepEqual(d.fallbacks, fallbacks, JSON.stringify(over));
    if (msg) {
      assert.match(d.message ?? '', msg, JSON.stringify(over));
      assert.ok(!d.message!.includes('\n'), 'one line');
    } else assert.equal(d.message, undefined);
    // open-file is always the last resort whenever a fallback is needed.
    if (d.fallbacks.length) assert.equal(d.fallbacks.at(-1), 'open-file');
  }
  assert.equal(CAPTURE_COMMAND, 'omnifusion-desktop --capture');
});

test('defaultHotkey avoids system shortcuts', () => {
  assert.equal(defaultHotkey('darwin'), 'Command+Alt+Shift+M');
  assert.equal(defaultHotkey('win32'), 'Control+Alt+Shift+M');
  assert.equal(defaultHotkey('linux'), 'Control+Alt+Shift+M');
  assert.equal(normalizeAccelerator('Shift+Cmd+4'), 'command+shift+4');
  assert.equal(normalizeAccelerator('Win+Shift+S'), 'shift+super+s');
  assert.equal(normalizeAccelerator('PrtSc'), 'printscreen');
  for (const [platform, list] of [['darwin', AVOIDED_ACCELERATORS.darwin], ['win32', AVOIDED_ACCELERATORS.other], ['linux', AVOIDED_ACCELERATORS.other]] as const) {
    const key = normalizeAccelerator(defaultHotkey(platform));
    assert.ok(!list.map(normalizeAccelerator).includes(key), `${platform}: ${key}`);
    assert.ok(!key.includes('super'), 'no Super/Win chord');
    assert.ok(!key.includes('printscreen'));
  }
});

test('hotkeyStatus: no message when confirmed; unconfirmed and failed say how to bind the capture command', () => {
  assert.deepEqual(hotkeyStatus('Control+Alt+Shift+M', 'confirmed', 'x11'), { accelerator: 'Control+Alt+Shift+M', state: 'confirmed', command: CAPTURE_COMMAND });
  const unconfirmed = hotkeyStatus('Control+Alt+Shift+M', 'unconfirmed', 'wayland');
  assert.match(unconfirmed.message ?? '', /^Control\+Alt\+Shift\+M is registered, but this Wayland session has not confirmed it/);
  assert.ok(unconfirmed.message?.includes(CAPTURE_COMMAND));
  const failedLinux = hotkeyStatus('Control+Alt+Shift+M', 'failed', 'x11');
  assert.match(failedLinux.message ?? '', /could not be registered/);
  assert.ok(failedLinux.message?.includes(CAPTURE_COMMAND));
  const failedWindows = hotkeyStatus('Control+Alt+Shift+M', 'failed', 'windows');
  assert.ok(!failedWindows.message?.includes(CAPTURE_COMMAND), 'Windows has no desktop shortcut command hint');
  for (const s of [unconfirmed, failedLinux, failedWindows]) assert.ok(!s.message?.includes('\n'), 'one line');
});
