import {
  status,
  type MethodDefinition,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { requestProblem, requestTypeOf } from './request-check.js';
import { BUSY_CODE, busyReason, type RequestBudget } from './request-budget.js';

const UNDECODABLE = Symbol('undecodable');
const BUSY = Symbol('busy');

/** A request that could not be taken, with the reason naming the field. */
export interface Undecodable {
  readonly [UNDECODABLE]: string;
}

/** Why `request` could not be decoded, or undefined for a decoded request. */
export const undecodable = (request: unknown): string | undefined =>
  typeof request === 'object' && request !== null && UNDECODABLE in request
    ? (request as Undecodable)[UNDECODABLE]
    : undefined;

export const UNDECODABLE_CODE = 'REQUEST.UNDECODABLE';

/** Why a request was not taken for the server's bound on requests held (RequestBudget), or undefined. */
export const busy = (request: unknown): string | undefined =>
  typeof request === 'object' && request !== null && BUSY in request
    ? (request as { readonly [BUSY]: string })[BUSY]
    : undefined;

const turnedAway = (why: string) => ({
  code: status.UNAVAILABLE,
  details: `${BUSY_CODE}: ${why}`,
});

const refusal = (why: string) => ({
  code: status.INVALID_ARGUMENT,
  details: `${UNDECODABLE_CODE}: ${why}`,
});

/**
 * The service with deserializers that never throw: bytes that are not a
 * valid request (bad wire format, invalid UTF-8, an int64 beyond 2^53, a
 * Timestamp outside its range) become an Undecodable value instead of
 * grpc-js's INTERNAL "Error deserializing request". Unary and
 * server-streaming calls answer it with INVALID_ARGUMENT naming the field;
 * streaming requests reach the handler, which answers the item and goes on.
 *
 * With a `budget`, a request is decoded only when its bytes fit beside the
 * requests held (RequestBudget), and held until its call is answered; one
 * that does not fit is answered UNAVAILABLE (`REQUEST.BUSY`) undecoded. A
 * streamed item is never refused: the handler takes it when it reads it
 * (`takeItem`), in its stream's order, stops reading the stream while the
 * budget is full, and releases each item once done with it.
 */
export function tolerant<I extends UntypedServiceImplementation>(
  definition: ServiceDefinition<I>,
  impl: I,
  budget?: RequestBudget,
): { definition: ServiceDefinition<I>; impl: I } {
  const defs: Record<string, MethodDefinition<unknown, unknown>> = {};
  const handlers: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(definition) as [
    string,
    MethodDefinition<unknown, unknown>,
  ][]) {
    const type = requestTypeOf(m.path);
    const decode = (bytes: Buffer) => {
      const problem = type && requestProblem(type, bytes);
      if (problem) return { [UNDECODABLE]: problem };
      try {
        return m.requestDeserialize(bytes);
      } catch (e) {
        return { [UNDECODABLE]: `cannot decode: ${(e as Error).message}` };
      }
    };
    defs[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        if (!budget) return decode(bytes);
        if (m.requestStream) {
          const item = decode(bytes);
          budget.measure(item, bytes.length);
          return item;
        }
        if (!budget.take(bytes.length)) return { [BUSY]: busyReason(bytes.length, budget) };
        const request = decode(bytes);
        if (undecodable(request) !== undefined) budget.giveBack(bytes.length);
        else budget.hold(request, bytes.length);
        return request;
      },
    };
    const handler = impl[name] as (...args: unknown[]) => void;
    const release = (request: unknown) => budget?.release(request);
    handlers[name] = m.requestStream
      ? handler
      : m.responseStream
        ? (call: {
            request: unknown;
            emit: (e: string, v: unknown) => void;
            once: (e: string, f: () => void) => void;
          }) => {
            const turned = busy(call.request);
            if (turned) return call.emit('error', turnedAway(turned));
            const why = undecodable(call.request);
            if (why) return call.emit('error', refusal(why));
            for (const end of ['finish', 'close', 'cancelled', 'error'])
              call.once(end, () => release(call.request));
            handler(call);
          }
        : (call: { request: unknown }, callback: (e: unknown, ...rest: unknown[]) => void) => {
            const turned = busy(call.request);
            if (turned) return callback(turnedAway(turned));
            const why = undecodable(call.request);
            if (why) return callback(refusal(why));
            handler(call, (e: unknown, ...rest: unknown[]) => {
              release(call.request);
              callback(e, ...rest);
            });
          };
  }
  return { definition: defs as ServiceDefinition<I>, impl: handlers as I };
}
