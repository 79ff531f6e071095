/**
 * The Electron IPC wire format, shared by main (ipc.ts) and the preload (preload-api.ts). Pure:
 * no Node and no Electron imports, because the preload is bundled for a sandboxed renderer.
 *
 * Calls go over `ipcRenderer.invoke` on one channel per call name, `omnifusion:<call>` (VS Code
 * accepts only `vscode:`-prefixed channels in the same way). Results come back as data,
 * `{ ok: true, value } | { ok: false, error }` (Signal's sql channel): an exception thrown in an
 * `ipcMain.handle` handler reaches the renderer as a generic Error with the message prefixed by
 * Electron and the code lost, whereas data keeps the `ApiErrorPayload` intact.
 *
 * Events (tokens, done, model status) reach the renderer over a MessagePort that main posts on
 * `omnifusion:events` after the preload asks for it on `omnifusion:events:connect`.
 */
import { CALL_NAMES, EVENT_NAMES, type ApiErrorPayload, type ApiEvents, type CallName, type EventName } from '../api/contract.js';

/** Prefix of every IPC channel the app uses. */
export const CHANNEL_PREFIX = 'omnifusion:';

/** Renderer → main: "send me an event port" (ipcRenderer.send; main answers on EVENTS_PORT_CHANNEL). */
export const EVENTS_CONNECT_CHANNEL = `${CHANNEL_PREFIX}events:connect`;

/** Main → renderer: carries the MessagePort that events arrive on (webContents.postMessage). */
export const EVENTS_PORT_CHANNEL = `${CHANNEL_PREFIX}events`;

/** The invoke channel of a call. */
export function callChannel(name: CallName): string {
  return `${CHANNEL_PREFIX}${name}`;
}

const CALL_SET: ReadonlySet<string> = new Set(CALL_NAMES);
const EVENT_SET: ReadonlySet<string> = new Set(EVENT_NAMES);

/** True for a name in the call table (guards anything that arrives over IPC or from the page). */
export function isCallName(name: unknown): name is CallName {
  return typeof name === 'string' && CALL_SET.has(name);
}

/** True for a name in the event table. */
export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && EVENT_SET.has(name);
}

/** The call a channel carries, or undefined for a channel outside the table. */
export function callNameFromChannel(channel: string): CallName | undefined {
  if (!channel.startsWith(CHANNEL_PREFIX)) return undefined;
  const name = channel.slice(CHANNEL_PREFIX.length);
  return isCallName(name) ? name : undefined;
}

/** What an invoke channel answers. */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: ApiErrorPayload };

const ERROR_CODES: ReadonlySet<string> = new Set<ApiErrorPayload['code']>(['bad_request', 'not_found', 'bad_image', 'engine', 'internal']);

/** True for a well-formed IpcResult (the preload does not trust shapes blindly either). */
export function isIpcResult(value: unknown): value is IpcResult<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { ok?: unknown; error?: unknown };
  if (v.ok === true) return 'value' in v;
  if (v.ok !== false || typeof v.error !== 'object' || v.error === null) return false;
  const e = v.error as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' && ERROR_CODES.has(e.code) && typeof e.message === 'string';
}

/** One event on the port. */
export type EventEnvelope = { [E in EventName]: { event: E; payload: ApiEvents[E] } }[EventName];

/** True for a well-formed envelope with a known event name. */
export function isEventEnvelope(value: unknown): value is EventEnvelope {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { event?: unknown; payload?: unknown };
  return isEventName(v.event) && typeof v.payload === 'object' && v.payload !== null;
}
