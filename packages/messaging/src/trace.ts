import { context, propagation, type Context } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';

/** W3C trace context of the active span, as Kafka headers. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
}

/** The trace context a producer put in a message's headers. */
export function contextFromHeaders(headers: IHeaders | undefined): Context {
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v !== undefined) carrier[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return propagation.extract(context.active(), carrier);
}

export function headerString(headers: IHeaders | undefined, key: string): string | undefined {
  const v = headers?.[key];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? String(v[0]) : String(v);
}
