import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ModelStatus } from '../../../main/api/contract.js';
import { createCaptureBridge, createPreloadApi } from '../../../main/app/preload-api.js';
import { SELECT_CHANNEL } from '../../../main/api/capture.js';
import { callNameFromChannel, isIpcResult } from '../../../main/app/channels.js';

test('call: invokes the call channel and unwraps { ok: true, value }', async () => {
  const seen: Array<[string, unknown]> = [];
  const { api } = createPreloadApi(async (channel, request) => {
    seen.push([channel, request]);
    return { ok: true, value: { theme: 'dark', maxNewTokens: 256, greedy: true } };
  });
  assert.deepEqual(await api.call('settings.get', {}), { theme: 'dark', maxNewTokens: 256, greedy: true });
  assert.deepEqual(seen, [['omnifusion:settings.get', {}]]);
});

test('call: { ok: false } rejects with an Error carrying the user message', async () => {
  const { api } = createPreloadApi(async () => ({ ok: false, error: { code: 'not_found', message: 'This conversation no longer exists.' } }));
  await assert.rejects(api.call('conversations.get', { id: 'x' }), (err: unknown) => err instanceof Error && err.message === 'This conversation no longer exists.');
});

test('call: unknown names never reach IPC; malformed replies are errors', async () => {
  let invoked = 0;
  const { api } = createPreloadApi(async () => {
    invoked++;
    return { value: 1 };
  });
  await assert.rejects(api.call('shell.exec' as never, {} as never), /unknown call/);
  await assert.rejects(api.call('__proto__' as never, {} as never), /unknown call/);
  assert.equal(invoked, 0);
  await assert.rejects(api.call('settings.get', {}), /malformed reply/);
});

test('the exposed object has exactly call and on, and is frozen', () => {
  const { api } = createPreloadApi(async () => ({ ok: true, value: null }));
  assert.deepEqual(Object.keys(api).sort(), ['call', 'on']);
  assert.equal(Object.isFrozen(api), true);
});

test('on: port messages reach the listeners of their event; unsubscribe stops them', () => {
  const { api, receive } = createPreloadApi(async () => ({ ok: true, value: null }));
  const tokens: string[] = [];
  const statuses: ModelStatus[] = [];
  const off = api.on('generation.token', (p) => tokens.push(p.text));
  api.on('models.status', (p) => statuses.push(p));
  receive({ event: 'generation.token', payload: { messageId: 'm', text: 'a' } });
  receive({ event: 'models.status', payload: { name: 'n', family: 'f', executionProvider: 'cpu', state: 'error', error: 'crashed' } });
  receive({ event: 'unknown', payload: {} });
  receive('junk');
  receive(null);
  receive({ event: 'generation.token' });
  off();
  receive({ event: 'generation.token', payload: { messageId: 'm', text: 'b' } });
  assert.deepEqual(tokens, ['a']);
  assert.equal(statuses.length, 1);
  assert.equal(statuses[0]!.state, 'error');
});

test('on: a throwing listener does not stop the others; unknown events are refused', () => {
  const { api, receive } = createPreloadApi(async () => ({ ok: true, value: null }));
  const got: string[] = [];
  const originalError = console.error;
  console.error = () => undefined;
  try {
    api.on('generation.token', () => {
      throw new Error('listener bug');
    });
    api.on('generation.token', (p) => got.push(p.text));
    receive({ event: 'generation.token', payload: { messageId: 'm', text: 'x' } });
  } finally {
    console.error = originalError;
  }
  assert.deepEqual(got, ['x']);
  assert.throws(() => api.on('evil' as never, () => undefined), /unknown event/);
  assert.throws(() => api.on('generation.token', 'not a function' as never), /function/);
});

test('channel helpers: the table decides, shapes are checked', () => {
  assert.equal(callNameFromChannel('omnifusion:generation.send'), 'generation.send');
  assert.equal(callNameFromChannel('omnifusion:constructor'), undefined);
  assert.equal(callNameFromChannel('generation.send'), undefined);
  assert.equal(isIpcResult({ ok: true, value: undefined }), true);
  assert.equal(isIpcResult({ ok: true }), false);
  assert.equal(isIpcResult({ ok: false, error: { code: 'engine', message: 'm' } }), true);
  assert.equal(isIpcResult({ ok: false, error: { code: 'weird', message: 'm' } }), false);
  assert.equal(isIpcResult({ ok: false, error: 'm' }), false);
});

test('capture bridge: a selection or a cancel reaches the select channel; malformed answers never do', async () => {
  const sent: Array<[string, unknown]> = [];
  const bridge = createCaptureBridge(async (channel, request) => {
    sent.push([channel, request]);
    return true;
  });
  assert.equal(await bridge.select({ displayId: 7, selection: { start: { x: 1, y: 2 }, end: { x: 30, y: 40 } } }), true);
  assert.equal(await bridge.select({ cancel: true }), true);
  await assert.rejects(bridge.select({ displayId: '7', selection: { x: 0, y: 0, width: 1, height: 1 } } as never), /malformed selection/);
  await assert.rejects(bridge.select({ displayId: 7, selection: { start: { x: 1, y: 2 }, end: { x: Number.NaN, y: 4 } }, extra: 'x' } as never), /malformed selection/);
  assert.deepEqual(sent, [
    [SELECT_CHANNEL, { displayId: 7, selection: { start: { x: 1, y: 2 }, end: { x: 30, y: 40 } } }],
    [SELECT_CHANNEL, { cancel: true }],
  ]);
  assert.deepEqual(Object.keys(bridge), ['select']);
});
