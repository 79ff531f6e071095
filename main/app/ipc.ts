/**
 * The main-process side of the typed API over Electron IPC.
 *
 * - One `ipcMain.handle` per call in CALL_NAMES (`omnifusion:<call>`), nothing else.
 * - Every call and every event-port request checks `event.senderFrame`: it must be the top-level
 *   frame of the app's own origin (Electron's checklist: "validate the sender of all IPC
 *   messages"). A null frame (navigated away or destroyed) is refused.
 * - Results cross as data: `{ ok: true, value } | { ok: false, error: ApiErrorPayload }`.
 * - Events (tokens, done, model status) go to each window over its own MessagePort
 *   (MessageChannelMain), handed over when the window's preload asks for it; a reload asks again
 *   and the old port is closed.
 *
 * Electron objects are reached only through the structural types below, so the logic is tested
 * with plain fakes; main.ts passes the real `ipcMain` and `MessageChannelMain`.
 */
import { CALL_NAMES, EVENT_NAMES, type ApiErrorPayload, type CallName, type OmniFusionApi } from '../api/contract.js';
import { APP_ORIGIN, urlOrigin } from './app-protocol.js';
import { EVENTS_CONNECT_CHANNEL, EVENTS_PORT_CHANNEL, callChannel, callNameFromChannel, type EventEnvelope, type IpcResult } from './channels.js';

/** The part of a frame the checks read (Electron's WebFrameMain). */
export interface FrameLike {
  readonly url: string;
  readonly parent: FrameLike | null;
}

/** A frame that can receive a port (WebFrameMain.postMessage). */
export interface PortTargetFrame extends FrameLike {
  postMessage(channel: string, message: unknown, transfer?: PortLike[]): void;
}

/** The main end of a message channel (Electron's MessagePortMain). */
export interface PortLike {
  postMessage(message: unknown): void;
  start(): void;
  close(): void;
  on(event: 'close', listener: () => void): unknown;
}

/** The invoke event fields the handlers read (IpcMainInvokeEvent). */
export interface InvokeEventLike {
  readonly senderFrame: FrameLike | null;
}

/** The send event fields the port request reads (IpcMainEvent). */
export interface SendEventLike {
  readonly senderFrame: PortTargetFrame | null;
  readonly sender: { readonly id: number };
}

/** The part of `ipcMain` used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
  on(channel: string, listener: (event: SendEventLike, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: SendEventLike, ...args: unknown[]) => void): unknown;
}

/**
 * Whether a frame URL belongs to the app: its origin must be one of `trustedOrigins` (app://omnifusion,
 * plus the Vite dev server's origin when developing). Refuses null, about:blank, file:, data:,
 * other hosts and anything that does not parse.
 */
export function isTrustedSender(frameUrl: string | null | undefined, trustedOrigins: readonly string[] = [APP_ORIGIN]): boolean {
  if (typeof frameUrl !== 'string' || frameUrl === '') return false;
  const origin = urlOrigin(frameUrl);
  return origin !== undefined && trustedOrigins.includes(origin);
}

/** Whether an IPC sender frame is the app's top-level frame (not a subframe, not gone). */
export function isTrustedFrame(frame: FrameLike | null | undefined, trusted: (frameUrl: string) => boolean): boolean {
  if (!frame) return false;
  if (frame.parent !== null) return false;
  return trusted(frame.url);
}

const API_ERROR_CODES: ReadonlySet<string> = new Set<ApiErrorPayload['code']>(['bad_request', 'not_found', 'bad_image', 'engine', 'internal']);

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim() || 'unknown error';
}

/**
 * Default error mapping when the service has none of its own: keep a code the contract knows,
 * map engine errors to 'engine' (except bad input), everything else to 'internal'.
 */
export function describeIpcError(err: unknown): ApiErrorPayload {
  if (typeof err === 'object' && err !== null) {
    const e = err as { name?: unknown; code?: unknown; message?: unknown };
    const message = typeof e.message === 'string' ? firstLine(e.message) : 'unknown error';
    if (typeof e.code === 'string' && API_ERROR_CODES.has(e.code)) return { code: e.code as ApiErrorPayload['code'], message };
    if (e.name === 'EngineError') return { code: 'engine', message };
    if (e.name === 'StoreError' && e.code === 'invalid_argument') return { code: 'bad_request', message };
    return { code: 'internal', message };
  }
  return { code: 'internal', message: firstLine(String(err)) };
}

/** Options of registerIpc. */
export interface IpcOptions {
  /** Error mapping (the service's own, if it has one). */
  describeError?: (err: unknown) => ApiErrorPayload;
  /** Makes the channel a window's events travel on (`() => new MessageChannelMain()`). */
  createChannel?: () => { port1: PortLike; port2: PortLike };
}

const REFUSED: IpcResult<never> = { ok: false, error: { code: 'bad_request', message: 'call refused: it did not come from the app window' } };

/**
 * Run one call for a sender: check the frame, the channel and the request's shape, then call the
 * API and wrap the answer. Never throws.
 */
export async function handleCall(
  api: OmniFusionApi,
  channel: string,
  event: InvokeEventLike,
  request: unknown,
  trusted: (frameUrl: string) => boolean,
  describeError: (err: unknown) => ApiErrorPayload = describeIpcError,
): Promise<IpcResult<unknown>> {
  if (!isTrustedFrame(event.senderFrame, trusted)) return REFUSED;
  const name = callNameFromChannel(channel);
  if (name === undefined) return { ok: false, error: { code: 'bad_request', message: `unknown call channel ${JSON.stringify(channel)}` } };
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return { ok: false, error: { code: 'bad_request', message: `${name}: the request must be an object` } };
  }
  try {
    const value: unknown = await api.call(name, request as never);
    return { ok: true, value };
  } catch (err) {
    let error: ApiErrorPayload;
    try {
      error = describeError(err);
    } catch {
      error = describeIpcError(err);
    }
    return { ok: false, error };
  }
}

/**
 * Fans the API's events out to every connected window, one MessagePort each. A port whose other
 * end is gone (reload, window closed) is dropped.
 */
export class EventHub {
  private readonly ports = new Map<number, PortLike>();
  private readonly unsubscribe: Array<() => void>;

  constructor(api: Pick<OmniFusionApi, 'on'>) {
    this.unsubscribe = EVENT_NAMES.map((event) =>
      api.on(event, (payload) => this.broadcast({ event, payload } as EventEnvelope)),
    );
  }

  /** Number of connected windows. */
  get size(): number {
    return this.ports.size;
  }

  /** Connect window `key`'s port, replacing (and closing) the one it had. */
  attach(key: number, port: PortLike): void {
    this.detach(key);
    this.ports.set(key, port);
    port.on('close', () => {
      if (this.ports.get(key) === port) this.ports.delete(key);
    });
    port.start();
  }

  /** Disconnect window `key`. */
  detach(key: number): void {
    const port = this.ports.get(key);
    if (!port) return;
    this.ports.delete(key);
    try {
      port.close();
    } catch {
      // already closed
    }
  }

  /** Send one event to every window. */
  broadcast(envelope: EventEnvelope): void {
    for (const [key, port] of this.ports) {
      try {
        port.postMessage(envelope);
      } catch {
        this.detach(key);
      }
    }
  }

  /** Stop listening to the API and close every port. */
  dispose(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const key of [...this.ports.keys()]) this.detach(key);
  }
}

/** What registerIpc returns: the event hub, and a way to remove every handler. */
export interface IpcRegistration {
  hub: EventHub;
  channels: readonly string[];
  dispose(): void;
}

/**
 * Register the API on `ipcMain`: one invoke handler per call, and the event-port request.
 * `isTrusted` decides which frame URLs may call (normally `isTrustedSender`).
 */
export function registerIpc(
  ipcMain: IpcMainLike,
  api: OmniFusionApi,
  isTrusted: (frameUrl: string) => boolean,
  options: IpcOptions = {},
): IpcRegistration {
  const describe = options.describeError ?? describeIpcError;
  const channels = CALL_NAMES.map((name: CallName) => callChannel(name));
  for (const channel of channels) {
    ipcMain.handle(channel, (event, request) => handleCall(api, channel, event, request, isTrusted, describe));
  }

  const hub = new EventHub(api);
  const connect = (event: SendEventLike): void => {
    const frame = event.senderFrame;
    if (!frame || !isTrustedFrame(frame, isTrusted) || !options.createChannel) return;
    const { port1, port2 } = options.createChannel();
    hub.attach(event.sender.id, port1);
    frame.postMessage(EVENTS_PORT_CHANNEL, null, [port2]);
  };
  ipcMain.on(EVENTS_CONNECT_CHANNEL, connect);

  return {
    hub,
    channels,
    dispose: () => {
      for (const channel of channels) ipcMain.removeHandler(channel);
      ipcMain.removeListener(EVENTS_CONNECT_CHANNEL, connect);
      hub.dispose();
    },
  };
}
