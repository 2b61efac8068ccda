import { afterAll, describe, expect, it } from 'vitest';
import { context, propagation, trace } from '@opentelemetry/api';
import { shutdownTelemetry, startTelemetry } from './index.js';

describe('trace context without an exporter', () => {
  afterAll(() => shutdownTelemetry());

  it('still gives spans a trace id and injects traceparent, so Kafka messages carry it', () => {
    for (const v of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT']) delete process.env[v];
    startTelemetry({ serviceName: 'case-intake' });
    const carrier: Record<string, string> = {};
    trace.getTracer('test').startActiveSpan('intake registerCase', (span) => {
      propagation.inject(context.active(), carrier);
      span.end();
    });
    expect(carrier.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
