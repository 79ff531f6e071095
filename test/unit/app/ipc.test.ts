import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CALL_NAMES, type ApiEvents, type CallName, type EventName, type OmniFusionApi } from '../../../main/api/contract.js';
import { APP_ORIGIN } from '../../../main/app/app-protocol.js';
import { EVENTS_CONNECT_CHANNEL, EVENTS_PORT_CHANNEL, callChannel, type EventEnvelope } from '../../../main/app/channels.js';
import {
  EventHub,
  describeIpcError,
  handleCall,
  isTrustedFrame,
  isTrustedSender,
  registerIpc,
  type FrameLike,
  type InvokeEventLike,
  type IpcMainLike,
  type PortLike,
  type PortTargetFrame,
  type SendEventLike,
} from '../../../main/app/ipc.js';

const APP_URL = `${APP_ORIGIN}/index.html`;
const trusted = (url: string): boolean => isTrustedSender(url);

/** A fake API: records calls, answers from a table, and lets tests emit events. */
class FakeApi implements OmniFusionApi {
  readonly calls: Array<{ name: CallName; request: unknown }> = [];
  readonly listeners = new Map<EventName, Set<(payload: unknown) => void>>();
  answer: (name: CallName, request: unknown) => unknown = (name) => ({ echo: name });

  async call(name: CallName, request: unknown): Promise<never> {
    this.calls.push({ name, request });
    return (await this.answer(name, request)) as never;
  }

  on<E extends EventName>(name: E, listener: (payload: ApiEvents[E]) => void): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as (payload: unknown) => void);
    return () => set.delete(listener as (payload: unknown) => void);
  }

  emit<E extends EventName>(name: E, payload: ApiEvents[E]): void {
    for (const l of this.listeners.get(name) ?? []) l(payload);
  }
}

function frame(url: string, parent: FrameLike | null = null): FrameLike {
  return { url, parent };
}

class FakePort implements PortLike {
  readonly sent: unknown[] = [];
  started = false;
  closed = false;
  private onClose: Array<() => void> = [];
  postMessage(message: unknown): void {
    if (this.closed) throw new Error('closed');
    this.sent.push(message);
  }
  start(): void {
    this.started = true;
  }
  close(): void {
    this.closed = true;
  }
  on(_event: 'close', listener: () => void): this {
    this.onClose.push(listener);
    return this;
  }
  remoteClosed(): void {
    for (const l of this.onClose) l();
  }
}

class FakeIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => unknown>();
  readonly listeners = new Map<string, Array<(event: SendEventLike, ...args: unknown[]) => void>>();
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void {
    assert.equal(this.handlers.has(channel), false, `handler registered twice: ${channel}`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
  on(channel: string, listener: (event: SendEventLike, ...args: unknown[]) => void): this {
    this.listeners.set(channel, [...(this.listeners.get(channel) ?? []), listener]);
    return this;
  }
  removeListener(channel: string, listener: (event: SendEventLike, ...args: unknown[]) => void): this {
    this.listeners.set(channel, (this.listeners.get(channel) ?? []).filter((l) => l !== listener));
    return this;
  }
  invoke(channel: string, event: InvokeEventLike, ...args: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    assert.ok(handler, `no handler for ${channel}`);
    return Promise.resolve(handler(event, ...args));
  }
  send(channel: string, event: SendEventLike): void {
    for (const l of this.listeners.get(channel) ?? []) l(event);
  }
}

test('isTrustedSender: the app origin only', () => {
  assert.equal(isTrustedSender(APP_URL), true);
  assert.equal(isTrustedSender(`${APP_ORIGIN}/`), true);
  assert.equal(isTrustedSender(`${APP_ORIGIN}/index.html#/conversation/1`), true);
  assert.equal(isTrustedSender('APP://OMNIFUSION/index.html'), true);
  for (const url of [
    'app://evil/index.html',
    'app://omnifusion.evil/index.html',
    'app://omnifusion:8080/index.html',
    'app://omnifusion@evil/index.html',
    'https://omnifusion/index.html',
    'https://example.com/',
    'http://localhost:5173/',
    'file:///opt/OmniFusion/resources/app.asar/dist/renderer/index.html',
    'file:///tmp/evil.html',
    'about:blank',
    'about:srcdoc',
    'data:text/html,<script>1</script>',
    'blob:app://omnifusion/5d2c',
    'javascript:1',
    '',
    'garbage',
  ]) {
    assert.equal(isTrustedSender(url), false, url);
  }
  assert.equal(isTrustedSender(null), false);
  assert.equal(isTrustedSender(undefined), false);
});

test('isTrustedSender: a dev-server origin only when listed', () => {
  assert.equal(isTrustedSender('http://localhost:5173/', [APP_ORIGIN, 'http://localhost:5173']), true);
  assert.equal(isTrustedSender('http://localhost:5174/', [APP_ORIGIN, 'http://localhost:5173']), false);
});

test('isTrustedFrame: top-level app frame only; null, subframes and foreign frames refused', () => {
  assert.equal(isTrustedFrame(frame(APP_URL), trusted), true);
  assert.equal(isTrustedFrame(null, trusted), false);
  assert.equal(isTrustedFrame(undefined, trusted), false);
  assert.equal(isTrustedFrame(frame(APP_URL, frame(APP_URL)), trusted), false);
  assert.equal(isTrustedFrame(frame('https://evil.example/', frame(APP_URL)), trusted), false);
  assert.equal(isTrustedFrame(frame('about:blank'), trusted), false);
});

test('registerIpc: one handler per call in the table, under the omnifusion: prefix', () => {
  const ipc = new FakeIpcMain();
  const reg = registerIpc(ipc, new FakeApi(), trusted);
  assert.deepEqual([...ipc.handlers.keys()].sort(), CALL_NAMES.map((n) => `omnifusion:${n}`).sort());
  assert.deepEqual(reg.channels, CALL_NAMES.map(callChannel));
  assert.equal(ipc.listeners.get(EVENTS_CONNECT_CHANNEL)?.length, 1);
  reg.dispose();
  assert.equal(ipc.handlers.size, 0);
  assert.equal(ipc.listeners.get(EVENTS_CONNECT_CHANNEL)?.length, 0);
});

test('a call from the app frame reaches the API and answers { ok: true, value }', async () => {
  const ipc = new FakeIpcMain();
  const api = new FakeApi();
  registerIpc(ipc, api, trusted);
  const reply = await ipc.invoke('omnifusion:conversations.get', { senderFrame: frame(APP_URL) }, { id: 'c1' });
  assert.deepEqual(reply, { ok: true, value: { echo: 'conversations.get' } });
  assert.deepEqual(api.calls, [{ name: 'conversations.get', request: { id: 'c1' } }]);
});

test('calls from other frames are refused as data and never reach the API', async () => {
  const ipc = new FakeIpcMain();
  const api = new FakeApi();
  registerIpc(ipc, api, trusted);
  for (const senderFrame of [null, frame('https://evil.example/'), frame('file:///tmp/x.html'), frame('about:blank'), frame(APP_URL, frame(APP_URL))]) {
    const reply = (await ipc.invoke('omnifusion:settings.get', { senderFrame }, {})) as { ok: boolean; error?: { code: string } };
    assert.equal(reply.ok, false);
    assert.equal(reply.error?.code, 'bad_request');
  }
  assert.equal(api.calls.length, 0);
});

test('handleCall: channels outside the table and non-object requests are refused', async () => {
  const api = new FakeApi();
  const event = { senderFrame: frame(APP_URL) };
  for (const channel of ['omnifusion:eval', 'omnifusion:', 'settings.get', 'omnifusion:__proto__', 'vscode:settings.get']) {
    const reply = await handleCall(api, channel, event, {}, trusted);
    assert.deepEqual(reply.ok, false, channel);
  }
  for (const request of [null, undefined, 'x', 1, ['a']]) {
    const reply = await handleCall(api, 'omnifusion:settings.get', event, request, trusted);
    assert.equal(reply.ok, false);
  }
  assert.equal(api.calls.length, 0);
});

test('errors cross as data: the API error payload, or a mapped one', async () => {
  const api = new FakeApi();
  const event = { senderFrame: frame(APP_URL) };
  api.answer = () => {
    throw Object.assign(new Error('no such conversation'), { code: 'not_found' });
  };
  assert.deepEqual(await handleCall(api, 'omnifusion:conversations.get', event, { id: 'x' }, trusted), {
    ok: false,
    error: { code: 'not_found', message: 'no such conversation' },
  });
  api.answer = () => {
    throw Object.assign(new Error('engine process stopped (exit code 1) during the request\n  at stack'), { name: 'EngineError', code: 'crashed' });
  };
  assert.deepEqual(await handleCall(api, 'omnifusion:generation.send', event, {}, trusted), {
    ok: false,
    error: { code: 'engine', message: 'engine process stopped (exit code 1) during the request' },
  });
  // the service's own mapping wins; a throwing mapper falls back to the default
  const custom = await handleCall(api, 'omnifusion:generation.send', event, {}, trusted, () => ({ code: 'internal', message: 'custom' }));
  assert.deepEqual(custom, { ok: false, error: { code: 'internal', message: 'custom' } });
  const fallback = await handleCall(api, 'omnifusion:generation.send', event, {}, trusted, () => {
    throw new Error('mapper bug');
  });
  assert.equal(fallback.ok === false && fallback.error.code, 'engine');
});

test('describeIpcError: known codes kept, others mapped, non-errors stringified', () => {
  assert.deepEqual(describeIpcError(Object.assign(new Error('bad'), { code: 'bad_image' })), { code: 'bad_image', message: 'bad' });
  assert.deepEqual(describeIpcError(Object.assign(new Error('hash'), { name: 'StoreError', code: 'invalid_argument' })), { code: 'bad_request', message: 'hash' });
  assert.deepEqual(describeIpcError(new TypeError('x is undefined')), { code: 'internal', message: 'x is undefined' });
  assert.deepEqual(describeIpcError('plain'), { code: 'internal', message: 'plain' });
});

function connectEvent(url: string, id = 1): { event: SendEventLike; posted: Array<{ channel: string; ports: PortLike[] }> } {
  const posted: Array<{ channel: string; ports: PortLike[] }> = [];
  const senderFrame: PortTargetFrame = {
    url,
    parent: null,
    postMessage: (channel, _message, transfer = []) => posted.push({ channel, ports: transfer }),
  };
  return { event: { senderFrame, sender: { id } }, posted };
}

test('the event port: the app frame gets one end, events arrive on the other', () => {
  const ipc = new FakeIpcMain();
  const api = new FakeApi();
  const made: Array<{ port1: FakePort; port2: FakePort }> = [];
  const reg = registerIpc(ipc, api, trusted, {
    createChannel: () => {
      const pair = { port1: new FakePort(), port2: new FakePort() };
      made.push(pair);
      return pair;
    },
  });
  const { event, posted } = connectEvent(APP_URL);
  ipc.send(EVENTS_CONNECT_CHANNEL, event);
  assert.equal(made.length, 1);
  assert.equal(posted.length, 1);
  assert.equal(posted[0]!.channel, EVENTS_PORT_CHANNEL);
  assert.equal(posted[0]!.ports[0], made[0]!.port2);
  assert.equal(made[0]!.port1.started, true);

  api.emit('generation.token', { messageId: 'm1', text: 'Hel' });
  api.emit('generation.token', { messageId: 'm1', text: 'lo' });
  api.emit('models.status', { name: 'tiny', family: 'omnifusion', executionProvider: 'cpu', state: 'error', error: 'engine process stopped' });
  assert.deepEqual(made[0]!.port1.sent, [
    { event: 'generation.token', payload: { messageId: 'm1', text: 'Hel' } },
    { event: 'generation.token', payload: { messageId: 'm1', text: 'lo' } },
    { event: 'models.status', payload: { name: 'tiny', family: 'omnifusion', executionProvider: 'cpu', state: 'error', error: 'engine process stopped' } },
  ]);
  reg.dispose();
  assert.equal(made[0]!.port1.closed, true);
  assert.equal([...api.listeners.values()].reduce((n, s) => n + s.size, 0), 0);
});

test('the event port is not given to foreign frames', () => {
  const ipc = new FakeIpcMain();
  let made = 0;
  registerIpc(ipc, new FakeApi(), trusted, {
    createChannel: () => {
      made++;
      return { port1: new FakePort(), port2: new FakePort() };
    },
  });
  for (const url of ['https://evil.example/', 'about:blank', 'file:///tmp/x.html']) {
    const { event, posted } = connectEvent(url);
    ipc.send(EVENTS_CONNECT_CHANNEL, event);
    assert.equal(posted.length, 0);
  }
  ipc.send(EVENTS_CONNECT_CHANNEL, { senderFrame: null, sender: { id: 1 } });
  assert.equal(made, 0);
});

test('EventHub: a reload replaces the window port; a closed port is dropped', () => {
  const api = new FakeApi();
  const hub = new EventHub(api);
  const first = new FakePort();
  const second = new FakePort();
  const other = new FakePort();
  hub.attach(1, first);
  hub.attach(2, other);
  hub.attach(1, second);
  assert.equal(first.closed, true);
  assert.equal(hub.size, 2);
  const token: EventEnvelope = { event: 'generation.token', payload: { messageId: 'm', text: 'x' } };
  hub.broadcast(token);
  assert.deepEqual(second.sent, [token]);
  assert.deepEqual(other.sent, [token]);
  assert.deepEqual(first.sent, []);
  // the stale close of the replaced port must not drop the new one
  first.remoteClosed();
  assert.equal(hub.size, 2);
  other.remoteClosed();
  assert.equal(hub.size, 1);
  // a port that throws on send is dropped
  second.closed = true;
  hub.broadcast(token);
  assert.equal(hub.size, 0);
});
