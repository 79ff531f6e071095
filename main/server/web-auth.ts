/**
 * Who may use `omnifusion serve`: the per-run token and the per-file capabilities derived from it.
 *
 * Browsers do not separate cookies by port, so a cookie on 127.0.0.1 is sent to every other server
 * on 127.0.0.1 (a dev server, another app): the token therefore never lives in a cookie. The page
 * takes it from `?token=` once, keeps it in sessionStorage (which is per origin, port included) and
 * sends it as `Authorization: Bearer` on calls and as a WebSocket subprotocol on the event stream.
 * An `<img>` cannot send a header, so attachment URLs carry a capability instead: an HMAC of the
 * file's hash under the token, good for that one file only (and never sent to another origin:
 * Referrer-Policy no-referrer). A custom header cannot be sent cross-site without a CORS
 * preflight, which this server never grants, so no other page can make an authenticated call.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The event stream's WebSocket subprotocol; the token travels as a second one, `token.<T>`. */
export const EVENTS_PROTOCOL = 'omnifusion.events.v1';
const TOKEN_PROTOCOL_PREFIX = 'token.';

/** An attachment URL as the API service writes it (`/files/<sha256>`). */
export const FILE_URL = /^\/files\/([0-9a-f]{64})$/;

/** A fresh per-run token: 32 random bytes, base64url (43 characters, valid in a subprotocol). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of a presented secret with the expected one. */
export function sameSecret(presented: string | undefined | null, expected: string): boolean {
  if (!presented) return false;
  const x = Buffer.from(presented);
  const y = Buffer.from(expected);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The capability for one attachment: HMAC-SHA256(token, "file:" + sha256), 128 bits, base64url. */
export function fileCapability(token: string, sha256: string): string {
  return createHmac('sha256', token).update(`file:${sha256}`).digest().subarray(0, 16).toString('base64url');
}

/** `/files/<sha>` → `/files/<sha>?k=<capability>`; any other string unchanged. */
export function withCapability(token: string, url: string): string {
  const m = FILE_URL.exec(url);
  return m ? `${url}?k=${fileCapability(token, m[1]!)}` : url;
}

/** Whether the request carries the token as `Authorization: Bearer <token>` (the only way for calls). */
export function bearerAuthorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization;
  return typeof header === 'string' && header.startsWith('Bearer ') && sameSecret(header.slice('Bearer '.length), token);
}

/** The subprotocols a WebSocket upgrade offers (`Sec-WebSocket-Protocol`, comma-separated). */
function offeredProtocols(req: IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Whether an event-stream upgrade is authorized: the bearer header (Node clients) or the `token.<T>` subprotocol (browsers). */
export function upgradeAuthorized(req: IncomingMessage, token: string): boolean {
  if (bearerAuthorized(req, token)) return true;
  return offeredProtocols(req).some((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX) && sameSecret(p.slice(TOKEN_PROTOCOL_PREFIX.length), token));
}

/** The subprotocol the server answers with: the events protocol when offered, never the token. */
export function chooseProtocol(protocols: Set<string>): string | false {
  return protocols.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false;
}
