/**
 * The object the preload exposes as `window.omnifusion`: an OmniFusionApi over an invoke function
 * and an event feed, with no Electron in it so it can be tested with fakes. Runs in the sandboxed
 * preload, so it imports nothing but the contract and the channel table (both pure; esbuild
 * bundles them into the one preload file).
 *
 * Errors: contextBridge copies an Error into the page with its message only (custom properties
 * such as `code` are dropped), so a failed call rejects with an Error whose message is the
 * one-line `ApiErrorPayload.message` meant for the user.
 */
import type { ApiEvents, CallName, CallRequest, CallResponse, EventName, OmniFusionApi } from '../api/contract.js';
import { parseSelection, SELECT_CHANNEL, type RegionSelection } from '../api/capture.js';
import { callChannel, isCallName, isEventEnvelope, isEventName, isIpcResult, type EventEnvelope } from './channels.js';

/** How the preload reaches main: `ipcRenderer.invoke`. */
export type Invoke = (channel: string, request: unknown) => Promise<unknown>;

/** The preload's API plus the hook its event port feeds. */
export interface PreloadApi {
  /** What is exposed to the page (only `call` and `on`). */
  api: OmniFusionApi;
  /** Feed one message from the event port (`port.onmessage = (e) => receive(e.data)`). */
  receive(data: unknown): void;
}

type AnyListener = (payload: unknown) => void;

export function createPreloadApi(invoke: Invoke): PreloadApi {
  const listeners = new Map<EventName, Set<AnyListener>>();

  async function call<C extends CallName>(name: C, request: CallRequest<C>): Promise<CallResponse<C>> {
    if (!isCallName(name)) throw new Error(`unknown call ${JSON.stringify(name)}`);
    const result = await invoke(callChannel(name), request ?? {});
    if (!isIpcResult(result)) throw new Error(`${name}: malformed reply from the app`);
    if (!result.ok) throw new Error(result.error.message);
    return result.value as CallResponse<C>;
  }

  function on<E extends EventName>(name: E, listener: (payload: ApiEvents[E]) => void): () => void {
    if (!isEventName(name)) throw new Error(`unknown event ${JSON.stringify(name)}`);
    if (typeof listener !== 'function') throw new TypeError('listener must be a function');
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    const entry = listener as AnyListener;
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  function receive(data: unknown): void {
    if (!isEventEnvelope(data)) return;
    const envelope: EventEnvelope = data;
    for (const listener of [...(listeners.get(envelope.event) ?? [])]) {
      try {
        listener(envelope.payload);
      } catch (err) {
        // One failing listener must not starve the others (e.g. the token stream).
        console.error(`omnifusion: a ${envelope.event} listener threw`, err);
      }
    }
  }

  // A frozen object with exactly two functions: nothing else of the preload reaches the page.
  const api: OmniFusionApi = Object.freeze({ call, on });
  return { api, receive };
}

/** What an overlay page may send: a selection on its display, or a cancel. */
export type OverlayAnswer = RegionSelection | { cancel: true };

/** The overlay window's one extra object, `window.omnifusionCapture` (only on the overlay route). */
export interface CaptureBridge {
  /** Answer the capture; resolves true once main took it. Malformed answers never reach IPC. */
  select(answer: OverlayAnswer): Promise<boolean>;
}

export function createCaptureBridge(invoke: Invoke): CaptureBridge {
  return Object.freeze({
    async select(answer: OverlayAnswer): Promise<boolean> {
      const cancel = typeof answer === 'object' && answer !== null && (answer as { cancel?: unknown }).cancel === true;
      const selection = cancel ? undefined : parseSelection(answer);
      if (!cancel && !selection) throw new Error('capture: malformed selection');
      return (await invoke(SELECT_CHANNEL, cancel ? { cancel: true } : selection)) === true;
    },
  });
}
