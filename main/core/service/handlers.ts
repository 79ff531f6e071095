/**
 * The call table: the type of a handler per call of the contract (Handlers), the composition of
 * the domain modules' parts into one table that the compiler proves handles every call exactly
 * once, and the dispatch of a call to its handler.
 */
import type { CallName, CallRequest, CallResponse } from '../../api/contract.js';
import { ApiRequestError } from './errors.js';

/** A handler of call `C`: its request (already checked to be an object) to its response. */
export type Handler<C extends CallName> = (request: CallRequest<C>) => Promise<CallResponse<C>> | CallResponse<C>;

/** One handler for every call of main/api/contract.ts. A domain module exports its part as `Pick<Handlers, …>`. */
export type Handlers = { [C in CallName]: Handler<C> };

/** Calls handled by more than one of `Parts`. */
type Repeated<Parts extends readonly object[], Seen extends PropertyKey = never> = Parts extends readonly [infer Head extends object, ...infer Rest extends readonly object[]]
  ? (keyof Head & Seen) | Repeated<Rest, Seen | keyof Head>
  : never;
/** Calls handled by some of `Parts`. */
type Handled<Parts extends readonly object[]> = Parts[number] extends infer P ? (P extends object ? keyof P : never) : never;
/** `unknown` when `Parts` handle every call exactly once; else a type no argument list has, naming the calls. */
type ExactlyOnce<Parts extends readonly object[]> = [Repeated<Parts>] extends [never]
  ? [Exclude<CallName, Handled<Parts>>] extends [never]
    ? unknown
    : { notHandled: Exclude<CallName, Handled<Parts>> }
  : { handledTwice: Repeated<Parts> };

/**
 * The domain modules' parts as one table. Does not compile when a call is handled by two parts
 * (the error names `handledTwice`) or by none (`notHandled`).
 */
export function handlerTable<const Parts extends readonly Partial<Handlers>[]>(...parts: Parts & ExactlyOnce<Parts>): Handlers {
  return Object.assign({}, ...parts) as Handlers;
}

/**
 * Run call `name` with `request` (absent → {}).
 * @throws ApiRequestError (bad_request) for a name that is not a call or a request that is not a
 *   JSON object; else whatever the handler throws.
 */
export async function dispatch<C extends CallName>(handlers: Handlers, name: C, request: CallRequest<C>): Promise<CallResponse<C>> {
  const handler = (Object.hasOwn(handlers, name) ? handlers[name] : undefined) as Handler<C> | undefined;
  if (!handler) throw new ApiRequestError('bad_request', `unknown call "${String(name)}"`);
  if (request !== undefined && (typeof request !== 'object' || request === null || Array.isArray(request))) throw new ApiRequestError('bad_request', 'the request must be a JSON object');
  return handler(request ?? ({} as CallRequest<C>));
}
