import { afterAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { resourceAttributes, shutdownTelemetry, startTelemetry } from './index.js';

describe('startTelemetry', () => {
  const exporter = new InMemorySpanExporter();
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });

  afterAll(() => shutdownTelemetry());

  it('exports spans under the service name taken from OTEL_SERVICE_NAME', async () => {
    process.env.OTEL_SERVICE_NAME = 'case-intake';
    const processor = new SimpleSpanProcessor(exporter);
    const first = startTelemetry({ spanProcessors: [processor], metricReaders: [reader] });
    const again = startTelemetry();

    trace.getTracer('test').startActiveSpan('append', (span) => span.end());
    await processor.forceFlush();

    expect(again).toBe(first);
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('append');
    expect(span?.resource.attributes['service.name']).toBe('case-intake');
  });

  it('names the service, its version and instance, and the deployment environment', () => {
    const attrs = resourceAttributes(
      {},
      { OTEL_SERVICE_NAME: 'reporting', SERVICE_VERSION: '1.2.3', ENFORCEMENT_ENV: 'production' },
    );
    expect(attrs).toMatchObject({
      'service.name': 'reporting',
      'service.version': '1.2.3',
      'deployment.environment.name': 'production',
    });
    expect(attrs['service.instance.id']).toMatch(/^[0-9a-f-]{36}$/);
    // Without SERVICE_VERSION: the version of the package whose script is running.
    expect(resourceAttributes({}, {})['service.version']).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('measures the runtime: event-loop delay, heap and the like', async () => {
    await new Promise((r) => setTimeout(r, 200));
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) =>
      s.metrics.map((m) => m.descriptor.name),
    );
    expect(names).toEqual(
      expect.arrayContaining(['nodejs.eventloop.delay.p99', 'v8js.memory.heap.used']),
    );
  });
});
