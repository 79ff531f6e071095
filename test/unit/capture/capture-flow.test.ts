/**
 * The Electron side of the screenshot hotkey with fakes: captureDisplays against a fake
 * desktopCapturer/screen, the fallback when blank, hotkey state transitions, the flow from
 * selection to attachment, and the overlay window options. Real Electron (capture pixels, portal,
 * overlay windows) is not exercised here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesktopCapturerSource, NativeImage } from 'electron';
import { captureDisplays, captureFallback, type CapturerApi, type ScreenApi } from '../../../main/app/capture/capture.js';
import { parseSelection } from '../../../main/api/capture.js';
import { captureRunner, overlayWindowOptions, startCapture, type CaptureFlowDeps } from '../../../main/app/capture/flow.js';
import { CaptureHotkey, captureController, type ShortcutApi } from '../../../main/app/capture/hotkey.js';
import type { SessionType } from '../../../main/app/capture/decisions.js';
import type { Rect } from '../../../main/api/capture-geometry.js';

/** A BGRA NativeImage stand-in: noisy (a real desktop) or one colour (blank). */
function fakeImage(width: number, height: number, blank: boolean, crops: Rect[] = []): NativeImage {
  const buf = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    buf[i * 4] = blank ? 0 : (i * 37) % 256;
    buf[i * 4 + 1] = blank ? 0 : (i * 91) % 256;
    buf[i * 4 + 2] = blank ? 0 : (i * 13) % 256;
    buf[i * 4 + 3] = 255;
  }
  const image = {
    getSize: () => ({ width, height }),
    isEmpty: () => width === 0 || height === 0,
    toBitmap: () => buf,
    crop: (rect: Rect) => {
      crops.push(rect);
      return { toPNG: () => Buffer.from(`PNG ${rect.width}x${rect.height}`) };
    },
  };
  return image as unknown as NativeImage;
}

const displays = [
  { id: 1, bounds: { x: 0, y: 0, width: 100, height: 50 }, scaleFactor: 2 },
  { id: 2, bounds: { x: 100, y: 0, width: 80, height: 40 }, scaleFactor: 1 },
];
const screen = { getAllDisplays: () => displays } as unknown as ScreenApi;

function capturer(sources: Array<Partial<DesktopCapturerSource>> | Error, asked: unknown[] = []): CapturerApi {
  return {
    getSources: async (options) => {
      asked.push(options);
      if (sources instanceof Error) throw sources;
      return sources as DesktopCapturerSource[];
    },
  };
}

test('captureDisplays: asks for the largest physical size, matches by display_id, drops the blank display', async () => {
  const asked: unknown[] = [];
  const real = fakeImage(200, 100, false);
  const result = await captureDisplays(
    capturer([{ display_id: '2', thumbnail: fakeImage(80, 40, true) }, { display_id: '1', thumbnail: real }], asked),
    screen,
  );
  assert.deepEqual((asked[0] as { thumbnailSize: unknown; types: unknown }).thumbnailSize, { width: 200, height: 100 });
  assert.deepEqual((asked[0] as { types: unknown }).types, ['screen']);
  assert.ok(result.ok);
  assert.equal(result.frames.length, 1);
  assert.equal(result.frames[0]!.display.id, 1);
  assert.equal(result.frames[0]!.image, real);
  assert.deepEqual(result.frames[0]!.physical, { width: 200, height: 100 });
  assert.deepEqual(result.blankDisplays, [2]);
});

test('captureDisplays: all blank → blank; none → no-sources; throws → permission; empty display_id → by order', async () => {
  assert.deepEqual(
    await captureDisplays(capturer([{ display_id: '1', thumbnail: fakeImage(200, 100, true) }, { display_id: '2', thumbnail: fakeImage(80, 40, true) }]), screen),
    { ok: false, reason: 'blank' },
  );
  assert.deepEqual(await captureDisplays(capturer([]), screen), { ok: false, reason: 'no-sources' });
  assert.deepEqual(await captureDisplays(capturer(new Error('denied')), screen), { ok: false, reason: 'permission' });
  const byOrder = await captureDisplays(capturer([{ display_id: '', thumbnail: fakeImage(200, 100, false) }, { display_id: '', thumbnail: fakeImage(80, 40, false) }]), screen);
  assert.ok(byOrder.ok);
  assert.deepEqual(byOrder.frames.map((f) => f.display.id), [1, 2]);
});

test('captureFallback: a blank Wayland capture offers the picker then open-file and the bind hint', () => {
  const d = captureFallback({ ok: false, reason: 'blank' }, { session: 'wayland', shortcutConfirmed: false, portalAvailable: true, clipboardHasImage: false });
  assert.deepEqual(d.fallbacks, ['system-picker', 'open-file']);
  assert.match(d.message ?? '', /omnifusion-desktop --capture/);
  const ok = captureFallback({ ok: true, frames: [], blankDisplays: [] }, { session: 'x11', shortcutConfirmed: true, portalAvailable: false, clipboardHasImage: false });
  assert.deepEqual(ok, { fallbacks: [], message: undefined });
});

function fakeShortcuts(result: boolean | Error = true) {
  const registered = new Map<string, () => void>();
  const unregistered: string[] = [];
  return {
    registered,
    unregistered,
    api: {
      register: (accel: string, cb: () => void) => {
        if (result instanceof Error) throw result;
        if (result) registered.set(accel, cb);
        return result;
      },
      unregister: (accel: string) => {
        unregistered.push(accel);
        registered.delete(accel);
      },
    },
  };
}

test('hotkey: Wayland is unconfirmed until the first press; X11 confirmed; refusal or a bad accelerator fails', () => {
  const fake = fakeShortcuts();
  let fired = 0;
  let t = 1000;
  const hk = new CaptureHotkey(fake.api, 'wayland', () => fired++, () => t);
  assert.equal(hk.set('Control+Alt+Shift+M'), 'unconfirmed');
  t = 1500;
  fake.registered.get('Control+Alt+Shift+M')!();
  assert.equal(fired, 1);
  assert.equal(hk.state, 'confirmed');
  const registered = (api: ShortcutApi, accel: string, session: SessionType) => new CaptureHotkey(api, session, () => {}).set(accel);
  assert.equal(registered(fakeShortcuts().api, 'Control+Alt+Shift+M', 'x11'), 'confirmed');
  assert.equal(registered(fakeShortcuts(false).api, 'Control+Alt+Shift+M', 'x11'), 'failed');
  assert.equal(registered(fakeShortcuts(new Error('bad')).api, 'Nope+', 'windows'), 'failed');
});

test('captureController: statuses carry the hotkey line; the first press on Wayland reports confirmed once', () => {
  const fake = fakeShortcuts();
  let started = 0;
  const hk = new CaptureHotkey(fake.api, 'wayland', () => {});
  const controller = captureController(hk, 'wayland', () => started++);
  const changes: string[] = [];
  controller.onChange((s) => changes.push(`${s.accelerator} ${s.state} ${s.message ?? ''}`));
  const first = controller.set('Control+Alt+Shift+M');
  assert.equal(first.state, 'unconfirmed');
  assert.match(first.message ?? '', /has not confirmed it/);
  fake.registered.get('Control+Alt+Shift+M')!();
  fake.registered.get('Control+Alt+Shift+M')!();
  assert.deepEqual(changes, ['Control+Alt+Shift+M confirmed '], 'one change, on the first press');
  assert.deepEqual(controller.status(), { accelerator: 'Control+Alt+Shift+M', state: 'confirmed', command: 'omnifusion-desktop --capture' });
  controller.start();
  assert.equal(started, 1);
  const taken = captureController(new CaptureHotkey(fakeShortcuts(false).api, 'x11', () => {}), 'x11', () => {});
  assert.equal(taken.set('Control+Alt+Shift+K').state, 'failed');
});

test('hotkey: a new accelerator releases the old one and must be confirmed again; release on quit', () => {
  const fake = fakeShortcuts();
  const hk = new CaptureHotkey(fake.api, 'wayland', () => {});
  hk.set('Control+Alt+Shift+M');
  fake.registered.get('Control+Alt+Shift+M')!();
  assert.equal(hk.state, 'confirmed');
  assert.equal(hk.set('Control+Alt+Shift+M'), 'confirmed', 'same accelerator: unchanged');
  assert.equal(hk.set('Control+Alt+Shift+K'), 'unconfirmed');
  assert.deepEqual(fake.unregistered, ['Control+Alt+Shift+M']);
  assert.deepEqual([...fake.registered.keys()], ['Control+Alt+Shift+K']);
  hk.release();
  assert.deepEqual([...fake.registered.keys()], []);
  assert.equal(hk.state, 'failed');
});

function flowDeps(over: Partial<CaptureFlowDeps>, crops: Rect[], added: Array<{ name: string; bytes: Uint8Array }>, shown: unknown[]): CaptureFlowDeps {
  const frame = { display: displays[0]!, image: fakeImage(200, 100, false, crops), physical: { width: 200, height: 100 } };
  return {
    capture: async () => ({ ok: true, frames: [frame], blankDisplays: [] }),
    selectRegion: async () => ({ displayId: 1, selection: { start: { x: 30.2, y: 20 }, end: { x: 10, y: 5 } } }),
    addAttachment: async (name, bytes) => {
      added.push({ name, bytes });
      return { sha256: 'f'.repeat(64), name, mime: 'image/png', size: bytes.byteLength } as never;
    },
    attached: (a) => shown.push(a),
    fallback: () => ({ fallbacks: ['open-file'], message: 'blank' }),
    ...over,
  };
}

test('flow: selection (up-left drag, DIP) → physical crop (rounded outward) → PNG attachment → main window told', async () => {
  const crops: Rect[] = [];
  const added: Array<{ name: string; bytes: Uint8Array }> = [];
  const shown: unknown[] = [];
  const outcome = await startCapture(flowDeps({}, crops, added, shown));
  assert.equal(outcome.kind, 'attached');
  assert.deepEqual(crops, [{ x: 20, y: 10, width: 41, height: 30 }]);
  assert.equal(added[0]!.name, 'screenshot.png');
  assert.equal(Buffer.from(added[0]!.bytes).toString(), 'PNG 41x30');
  assert.equal(shown.length, 1);
});

test('flow: Esc cancels, a tiny selection is refused, a blank capture goes to the fallback; a second press while open is busy', async () => {
  const none = (): [Rect[], never[], unknown[]] => [[], [] as never[], []];
  assert.deepEqual(await startCapture(flowDeps({ selectRegion: async () => undefined }, ...none())), { kind: 'cancelled' });
  const tiny = await startCapture(flowDeps({ selectRegion: async () => ({ displayId: 1, selection: { x: 1, y: 1, width: 0.2, height: 10 } }) }, ...none()));
  assert.deepEqual(tiny, { kind: 'refused', reason: 'too-small' });
  const blank = await startCapture(flowDeps({ capture: async () => ({ ok: false, reason: 'blank' }) }, ...none()));
  assert.equal(blank.kind, 'fallback');
  let release!: () => void;
  const run = captureRunner(flowDeps({ selectRegion: () => new Promise((r) => (release = () => r(undefined))) }, ...none()));
  const first = run();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(await run(), { kind: 'busy' });
  release();
  assert.deepEqual(await first, { kind: 'cancelled' });
});

test('overlay: one frameless, transparent, always-on-top, sandboxed window at the display bounds; IPC payload parsed strictly', () => {
  const o = overlayWindowOptions({ id: 2, bounds: { x: -1920, y: -200, width: 1920, height: 1080 }, scaleFactor: 1 }, '/p.cjs');
  assert.deepEqual([o.x, o.y, o.width, o.height], [-1920, -200, 1920, 1080]);
  assert.equal(o.frame, false);
  assert.equal(o.transparent, true);
  assert.equal(o.alwaysOnTop, true);
  assert.equal(o.webPreferences?.sandbox, true);
  assert.equal(o.webPreferences?.contextIsolation, true);
  assert.deepEqual(parseSelection({ displayId: 1, selection: { x: 1, y: 2, width: 3, height: 4 } }), { displayId: 1, selection: { x: 1, y: 2, width: 3, height: 4 } });
  assert.equal(parseSelection({ displayId: '1', selection: { x: 1, y: 2, width: 3, height: 4 } }), undefined);
  assert.equal(parseSelection({ displayId: 1, selection: { x: 1, y: 2, width: 'a', height: 4 } }), undefined);
});
