import { afterAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { shutdownTelemetry, startTelemetry } from './index.js';

describe('startTelemetry', () => {
  const exporter = new InMemorySpanExporter();

  afterAll(() => shutdownTelemetry());

  it('exports spans under the service name taken from OTEL_SERVICE_NAME', async () => {
    process.env.OTEL_SERVICE_NAME = 'case-intake';
    const processor = new SimpleSpanProcessor(exporter);
    const first = startTelemetry({ spanProcessors: [processor] });
    const again = startTelemetry();

    trace.getTracer('test').startActiveSpan('append', (span) => span.end());
    await processor.forceFlush();

    expect(again).toBe(first);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('append');
    expect(span?.resource.attributes['service.name']).toBe('case-intake');
  });
});
