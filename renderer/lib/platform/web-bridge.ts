/**
 * OmniFusionApi over HTTP + WebSocket, for the renderer served by `omnifusion serve`
 * (main/server/web-bridge.ts is the other end).
 *
 * - The page is opened as `/?token=T`; the page keeps T in sessionStorage (per origin, port
 *   included: a cookie would be sent to every server on the host, main/server/web-auth.ts) and
 *   sends it as `Authorization: Bearer T` on calls and as the `token.T` subprotocol on the socket.
 *   Attachment URLs in replies carry their own per-file capability, so `<img>` needs no token.
 * - Calls: `POST /api/call/<name>`, JSON body (Uint8Array values as {"$bytes": base64}); the reply
 *   is `{ ok: true, value }` or `{ ok: false, error: { code, message } }`.
 * - Events: JSON text frames `{ event, payload }` on a WebSocket at `/api/events`, reconnected with
 *   backoff when it drops (events sent while it was down are lost: see `onConnection`).
 */
import {
  EVENT_NAMES,
  type ApiEvents,
  type CallName,
  type CallRequest,
  type CallResponse,
  type EventName,
  type OmniFusionApi,
} from '../../../main/api/contract';
import { ApiError } from './errors';
import { decodeBytes, encodeBytes } from './wire';

/** State of the event stream. */
export type ConnectionState = 'connecting' | 'open' | 'closed';

/** A platform whose event stream can drop (the web bridge); the UI re-syncs when it comes back. */
export interface ConnectionAware {
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

export function isConnectionAware(api: OmniFusionApi): api is OmniFusionApi & ConnectionAware {
  return typeof (api as Partial<ConnectionAware>).onConnection === 'function';
}

const EVENT_SET: ReadonlySet<string> = new Set(EVENT_NAMES);
const ERROR_CODES: ReadonlySet<string> = new Set(['bad_request', 'not_found', 'bad_image', 'engine', 'internal']);

type AnyListener = (payload: unknown) => void;

export interface WebBridgeOptions {
  /** Page URL the endpoints are resolved against (defaults to location.href). */
  base?: string;
  /** First reconnect delay in ms; doubles up to `maxDelayMs`. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** The access token (defaults to `takePageToken()`: the URL's `?token=`, then sessionStorage). */
  token?: string;
  fetch?: typeof fetch;
  WebSocket?: typeof WebSocket;
}

/** The event stream's subprotocol (main/server/web-auth.ts EVENTS_PROTOCOL). */
const EVENTS_PROTOCOL = 'omnifusion.events.v1';
const TOKEN_KEY = 'omnifusion.token';

/**
 * The page's access token: from `?token=` when the page was opened with it (then kept in this
 * tab's sessionStorage and removed from the address bar, history and bookmarks), else the one
 * kept earlier in this tab ('' when none: calls then fail as unauthorized, with the reason).
 */
export function takePageToken(): string {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get('token');
  let storage: Storage | undefined;
  try {
    storage = sessionStorage;
  } catch {
    storage = undefined; // storage disabled: the token lives only as long as this page
  }
  if (fromUrl) {
    storage?.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    history.replaceState(history.state, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return storage?.getItem(TOKEN_KEY) ?? '';
}

export class WebBridge implements OmniFusionApi, ConnectionAware {
  readonly #base: URL;
  readonly #fetch: typeof fetch;
  readonly #WebSocket: typeof WebSocket;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #token: string;
  readonly #listeners = new Map<string, Set<AnyListener>>();
  readonly #connectionListeners = new Set<(state: ConnectionState) => void>();
  #socket: WebSocket | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #state: ConnectionState = 'closed';
  #closed = false;

  constructor(options: WebBridgeOptions = {}) {
    this.#base = new URL(options.base ?? location.href);
    this.#fetch = options.fetch ?? fetch.bind(globalThis);
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#minDelay = options.minDelayMs ?? 500;
    this.#maxDelay = options.maxDelayMs ?? 10_000;
    this.#token = options.token ?? takePageToken();
  }

  async call<C extends CallName>(name: C, request: CallRequest<C>): Promise<CallResponse<C>> {
    let response: Response;
    try {
      response = await this.#fetch(new URL(`/api/call/${name}`, this.#base), {
        method: 'POST',
        credentials: 'omit',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#token}` },
        body: JSON.stringify(request ?? {}, encodeBytes),
      });
    } catch (err) {
      throw new ApiError('network', `Cannot reach the OmniFusion server (${(err as Error).message}).`);
    }
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      throw new ApiError('unauthorized', text.trim() || 'Not authorized: open the URL with ?token= that `omnifusion serve` printed.');
    }
    let reply: unknown;
    try {
      reply = JSON.parse(text, decodeBytes);
    } catch {
      throw new ApiError('internal', `Unexpected reply from the server (HTTP ${response.status}): ${text.slice(0, 200)}`);
    }
    if (reply && typeof reply === 'object' && 'ok' in reply) {
      if (reply.ok === true && 'value' in reply) return reply.value as CallResponse<C>;
      if (reply.ok === false && 'error' in reply && reply.error && typeof reply.error === 'object') {
        const { code, message } = reply.error as { code?: unknown; message?: unknown };
        throw new ApiError(
          typeof code === 'string' && ERROR_CODES.has(code) ? (code as ApiError['code']) : 'internal',
          typeof message === 'string' ? message : 'The call failed.',
        );
      }
    }
    throw new ApiError('internal', `Malformed reply from the server (HTTP ${response.status}).`);
  }

  on<E extends EventName>(name: E, listener: (payload: ApiEvents[E]) => void): () => void {
    let set = this.#listeners.get(name);
    if (!set) this.#listeners.set(name, (set = new Set()));
    const l = listener as AnyListener;
    set.add(l);
    this.#ensureSocket();
    return () => {
      set.delete(l);
    };
  }

  /** Calls `listener` with the current state at once (the socket may already be open), then on every change. */
  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.#connectionListeners.add(listener);
    listener(this.#state);
    return () => {
      this.#connectionListeners.delete(listener);
    };
  }

  /** Stop the event stream for good (tests; the page otherwise lives as long as the bridge). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#socket?.close();
    this.#socket = undefined;
  }

  #setState(state: ConnectionState): void {
    if (state === this.#state) return;
    this.#state = state;
    for (const l of this.#connectionListeners) l(state);
  }

  #ensureSocket(): void {
    if (this.#socket || this.#retry !== undefined || this.#closed) return;
    const url = new URL('/api/events', this.#base);
    url.protocol = this.#base.protocol === 'https:' ? 'wss:' : 'ws:';
    url.search = '';
    url.hash = '';
    this.#setState('connecting');
    let socket: WebSocket;
    try {
      socket = new this.#WebSocket(url.href, [EVENTS_PROTOCOL, `token.${this.#token}`]);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    socket.onopen = () => {
      this.#attempt = 0;
      this.#setState('open');
    };
    socket.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data !== 'string') return;
      let envelope: unknown;
      try {
        envelope = JSON.parse(ev.data, decodeBytes);
      } catch {
        return;
      }
      if (!envelope || typeof envelope !== 'object') return;
      const { event, payload } = envelope as { event?: unknown; payload?: unknown };
      if (typeof event !== 'string' || !EVENT_SET.has(event) || typeof payload !== 'object' || payload === null) return;
      for (const l of [...(this.#listeners.get(event) ?? [])]) {
        try {
          l(payload);
        } catch (err) {
          console.error(`listener of ${event} failed`, err);
        }
      }
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#setState('closed');
      this.#scheduleReconnect();
    };
  }

  #scheduleReconnect(): void {
    if (this.#closed) return;
    const delay = Math.min(this.#maxDelay, this.#minDelay * 2 ** this.#attempt) * (0.75 + Math.random() * 0.5);
    this.#attempt++;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.#ensureSocket();
    }, delay);
  }
}
