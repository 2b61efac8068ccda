import {
  status,
  type MethodDefinition,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { requestProblem, requestTypeOf } from './request-check.js';

const UNDECODABLE = Symbol('undecodable');

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
 */
export function tolerant<I extends UntypedServiceImplementation>(
  definition: ServiceDefinition<I>,
  impl: I,
): { definition: ServiceDefinition<I>; impl: I } {
  const defs: Record<string, MethodDefinition<unknown, unknown>> = {};
  const handlers: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(definition) as [
    string,
    MethodDefinition<unknown, unknown>,
  ][]) {
    const type = requestTypeOf(m.path);
    defs[name] = {
      ...m,
      requestDeserialize: (bytes: Buffer) => {
        const problem = type && requestProblem(type, bytes);
        if (problem) return { [UNDECODABLE]: problem };
        try {
          return m.requestDeserialize(bytes);
        } catch (e) {
          return { [UNDECODABLE]: `cannot decode: ${(e as Error).message}` };
        }
      },
    };
    const handler = impl[name] as (...args: unknown[]) => void;
    handlers[name] = m.requestStream
      ? handler
      : m.responseStream
        ? (call: { request: unknown; emit: (e: string, v: unknown) => void }) => {
            const why = undecodable(call.request);
            if (why) call.emit('error', refusal(why));
            else handler(call);
          }
        : (call: { request: unknown }, callback: (e: unknown) => void) => {
            const why = undecodable(call.request);
            if (why) callback(refusal(why));
            else handler(call, callback);
          };
  }
  return { definition: defs as ServiceDefinition<I>, impl: handlers as I };
}
