/**
 * The API service's part of the capture flow, without Electron: the hotkey setting drives a
 * CaptureController (registered at start, changed only when the new one registers, refused with
 * one line otherwise, the old one kept), capture.status / capture.start with and without a
 * desktop shell, attachments.get, and shell events published to every client.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CAPTURE_COMMAND, defaultHotkey, type CaptureStatus } from '../../../main/api/capture.js';
import { createApiService, type ApiService, type CaptureController } from '../../../main/core/api-service.js';

function fakeController(taken: ReadonlySet<string> = new Set()) {
  const registered: string[] = [];
  let current = '';
  let state: CaptureStatus['state'] = 'failed';
  let listener: ((s: CaptureStatus) => void) | undefined;
  let started = 0;
  const status = (): CaptureStatus => ({ accelerator: current, state, command: CAPTURE_COMMAND });
  const controller: CaptureController = {
    set(accelerator) {
      registered.push(accelerator);
      current = accelerator;
      state = taken.has(accelerator) ? 'failed' : 'unconfirmed';
      return status();
    },
    status,
    onChange: (l) => (listener = l),
    start: () => void started++,
  };
  return {
    controller,
    registered,
    confirm: () => {
      state = 'confirmed';
      listener?.(status());
    },
    started: () => started,
  };
}

async function withService(controller: CaptureController | undefined, run: (service: ApiService, dataDir: string) => Promise<void>): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'omnifusion-capture-service-'));
  const service = await createApiService({ dataDir, platform: 'linux', ...(controller ? { capture: controller } : {}) });
  try {
    await run(service, dataDir);
  } finally {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function refusal(promise: Promise<unknown>, service: ApiService): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const payload = service.describeError(err);
    assert.equal(payload.code, 'bad_request');
    assert.ok(!payload.message.includes('\n'), 'one line');
    return payload.message;
  }
  assert.fail('expected a refusal');
}

test('without a desktop shell: the default hotkey setting, capture.status unavailable, capture.start refused', async () => {
  await withService(undefined, async (service) => {
    const settings = await service.call('settings.get', {});
    assert.equal(settings.captureHotkey, defaultHotkey('linux'));
    assert.equal(settings.captureMode, 'ask');
    assert.equal(settings.captureOpens, 'quick-ask');
    const status = await service.call('capture.status', {});
    assert.equal(status.state, 'unavailable');
    assert.match(status.message ?? '', /desktop app/);
    assert.match(await refusal(service.call('capture.start', {}), service), /desktop app/);
    // The setting is still validated and saved (the desktop app reads the same settings file).
    assert.equal((await service.call('settings.set', { captureHotkey: 'Control+Shift+Y' })).captureHotkey, 'Control+Shift+Y');
  });
});

test('with a desktop shell: registered at start; a new hotkey is applied, persisted and announced', async () => {
  const fake = fakeController();
  await withService(fake.controller, async (service, dataDir) => {
    assert.deepEqual(fake.registered, [defaultHotkey('linux')]);
    const events: CaptureStatus[] = [];
    service.on('capture.status', (s) => events.push(s));
    const saved = await service.call('settings.set', { captureHotkey: 'Control+Shift+Y', captureMode: 'ocr', captureOpens: 'main' });
    assert.equal(saved.captureHotkey, 'Control+Shift+Y');
    assert.deepEqual(fake.registered, [defaultHotkey('linux'), 'Control+Shift+Y']);
    assert.deepEqual(events.map((e) => `${e.accelerator} ${e.state}`), ['Control+Shift+Y unconfirmed']);
    const onDisk = JSON.parse(readFileSync(path.join(dataDir, 'settings.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([onDisk['captureHotkey'], onDisk['captureMode'], onDisk['captureOpens']], ['Control+Shift+Y', 'ocr', 'main']);
    await service.call('settings.set', { theme: 'dark' });
    assert.equal(fake.registered.length, 2, 'an unchanged hotkey is not registered again');
    fake.confirm();
    assert.deepEqual(events.at(-1), { accelerator: 'Control+Shift+Y', state: 'confirmed', command: CAPTURE_COMMAND });
    assert.deepEqual((await service.call('capture.status', {})).state, 'confirmed');
    assert.deepEqual(await service.call('capture.start', {}), { started: true });
    assert.equal(fake.started(), 1);
  });
});

test('a hotkey that is not a shortcut, a system shortcut, or one taken by another app is refused; the old one is kept', async () => {
  const fake = fakeController(new Set(['Control+Alt+Shift+K']));
  await withService(fake.controller, async (service, dataDir) => {
    const before = await service.call('settings.get', {});
    assert.match(await refusal(service.call('settings.set', { captureHotkey: 'Control+Shift' }), service), /is not a shortcut/);
    assert.match(await refusal(service.call('settings.set', { captureHotkey: 'Y' }), service), /is not a shortcut/);
    assert.match(await refusal(service.call('settings.set', { captureHotkey: 'Super+Shift+S' }), service), /system shortcut/);
    assert.match(await refusal(service.call('settings.set', { captureHotkey: 'PrintScreen' }), service), /system shortcut/);
    assert.match(await refusal(service.call('settings.set', { captureHotkey: 'Control+Alt+Shift+K', theme: 'dark' }), service), /could not be registered/);
    assert.deepEqual(fake.registered, [before.captureHotkey, 'Control+Alt+Shift+K', before.captureHotkey], 'the old hotkey is registered again');
    assert.deepEqual(await service.call('settings.get', {}), before, 'nothing of the refused change is kept');
    assert.throws(() => readFileSync(path.join(dataDir, 'settings.json')), /ENOENT/, 'nothing written');
    assert.match(await refusal(service.call('settings.set', { captureMode: 'draw' as never }), service), /captureMode/);
    assert.match(await refusal(service.call('settings.set', { captureOpens: 'tab' as never }), service), /captureOpens/);
  });
});

test('attachments.get returns a stored image; unknown and malformed hashes are refused; publish reaches listeners', async () => {
  await withService(undefined, async (service) => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#3a6' } }).png().toBuffer();
    const added = await service.call('attachments.add', { name: 'screenshot.png', bytes: new Uint8Array(png) });
    const got = await service.call('attachments.get', { sha256: added.sha256 });
    assert.deepEqual([got.sha256, got.width, got.height, got.mime, got.url], [added.sha256, 40, 30, 'image/png', `/files/${added.sha256}`]);
    await assert.rejects(service.call('attachments.get', { sha256: 'f'.repeat(64) }), (err) => service.describeError(err).code === 'not_found');
    await assert.rejects(service.call('attachments.get', { sha256: 'nope' }), (err) => service.describeError(err).code === 'bad_request');
    const seen: string[] = [];
    service.on('capture.attached', (p) => seen.push(`${p.attachment.sha256.slice(0, 8)} ${p.mode}`));
    service.publish('capture.attached', { attachment: got, mode: 'ocr' });
    assert.deepEqual(seen, [`${added.sha256.slice(0, 8)} ocr`]);
  });
});
