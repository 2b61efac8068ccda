import { propagation, ROOT_CONTEXT, trace, type Span } from '@opentelemetry/api';

/**
 * The header a message's creation context travels in beside `traceparent`:
 * the kafkajs instrumentation's `send` span injects its own `traceparent`
 * over the one the producer put there, and `restoreCreateContext` puts it back.
 */
export const CREATE_CONTEXT_HEADER = 'enforcement-create-traceparent';

type Headers = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/**
 * The kafkajs instrumentation's producer hook. A message made under a
 * `create` span (one per commit: a child of the command that made it) keeps
 * that span's context, so whoever consumes it continues the command's trace;
 * the instrumentation's `send` span (one per message of a batched request)
 * links to it, as the messaging conventions have batch sends do.
 */
export function restoreCreateContext(span: Span, info: { message: { headers?: Headers } }): void {
  const headers = info.message.headers;
  const created = headers?.[CREATE_CONTEXT_HEADER];
  if (!headers || created === undefined) return;
  const traceparent = String(Array.isArray(created) ? created[0] : created);
  const context = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
  if (!context) return;
  span.addLink({ context });
  headers.traceparent = traceparent;
}
