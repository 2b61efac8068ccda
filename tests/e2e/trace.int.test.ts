import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics, trace, type Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-node';
import { eventually, uniqueName } from '@enforcement/testing';
import { registerOverdueCase } from '../support/overdue-case.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

describe('one trace and the metrics across the services', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new PeriodicExportingMetricReader({
    exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
    exportIntervalMillis: 3_600_000,
  });
  const meters = new MeterProvider({ readers: [reader] });
  let sys: WholeSystem;

  beforeAll(async () => {
    // What the telemetry package does in a service process, with spans and metrics kept in memory.
    provider.register();
    metrics.setGlobalMeterProvider(meters);
    sys = await startWholeSystem({ rulesTickMs: 300 });
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
    await provider.shutdown();
    await meters.shutdown();
    trace.disable();
    metrics.disable();
  });

  it('follows a registered case from the intake call through Kafka into scoring and reporting', async () => {
    const caseId = uniqueName('traced');
    // Registered 100 days ago: past its deadline, so the rules open an order.
    await registerOverdueCase(sys, caseId);
    const spans = exporter.getFinishedSpans();
    const command = spans.find(
      (s) => s.name === 'intake registerCase' && s.attributes['case.id'] === caseId,
    );
    expect(command).toBeDefined();
    const traceId = command?.spanContext().traceId;
    const inTrace = () =>
      exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const childOf = (child: ReadableSpan | undefined, parent: ReadableSpan | undefined) =>
      child?.parentSpanContext?.spanId === parent?.spanContext().spanId;

    const topic = sys.topics.caseEvents;
    /** The consumer span of one service's group (scoring's groups are `<run>.scoring…`). */
    const processedBy = (spans: ReadableSpan[], service: string) =>
      spans.find(
        (s) =>
          s.name === `process ${topic}` &&
          String(s.attributes['messaging.consumer.group.name']).startsWith(`${sys.run}.${service}`),
      );
    const all = await eventually(
      () => {
        const spans = inTrace();
        return processedBy(spans, 'scoring') && spans.some((s) => s.name === 'reporting chunk')
          ? spans
          : undefined;
      },
      { timeoutMs: 60_000, what: 'the consumers to join the trace' },
    );
    // Named and described by the messaging conventions.
    const publish = all.find((s) => s.name === `create ${topic}`);
    expect(childOf(publish, command)).toBe(true);
    expect(publish?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'create',
      'messaging.destination.name': topic,
      'messaging.kafka.message.key': caseId,
    });
    const reporting = processedBy(all, 'reporting');
    const scoring = processedBy(all, 'scoring');
    expect(childOf(reporting, publish)).toBe(true);
    expect(childOf(scoring, publish)).toBe(true);
    expect(scoring?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': expect.stringMatching(/^\d+$/),
      'messaging.kafka.offset': expect.any(Number),
      'messaging.kafka.message.key': caseId,
    });
    // The chunk span (under which each consumer writes to MongoDB) continues the trace.
    expect(
      childOf(
        all.find((s) => s.name === 'reporting chunk'),
        reporting,
      ),
    ).toBe(true);
    expect(
      childOf(
        all.find((s) => s.name === 'scoring chunk'),
        scoring,
      ),
    ).toBe(true);
  });

  it('measures ingest, projections, consumer lag and the orders the rules open', async () => {
    const lagPoints: Attributes[] = [];
    const units = new Map<string, string>();
    const seen = await eventually(
      async () => {
        const { resourceMetrics } = await reader.collect();
        const points = new Map<string, number>();
        for (const scope of resourceMetrics.scopeMetrics)
          for (const m of scope.metrics)
            for (const p of m.dataPoints as { value: unknown; attributes: Attributes }[])
              if (typeof p.value === 'number') {
                points.set(m.descriptor.name, (points.get(m.descriptor.name) ?? 0) + p.value);
                if (m.descriptor.name === 'enforcement.consumer.lag') lagPoints.push(p.attributes);
                units.set(m.descriptor.name, m.descriptor.unit);
              }
        // The gauge reads the unanswered orders at most every 30 s.
        return (points.get('enforcement.supervision.orders_opened') ?? 0) >= 1 &&
          (points.get('enforcement.supervision.orders_unanswered') ?? 0) >= 1
          ? points
          : undefined;
      },
      { timeoutMs: 90_000, what: 'the overdue rule to open an order, and the gauge to count it' },
    );
    expect(seen.get('enforcement.intake.events')).toBeGreaterThanOrEqual(2);
    expect(seen.get('enforcement.projection.events')).toBeGreaterThanOrEqual(2);
    // Lag from recording to projection, in seconds as the conventions have it.
    expect(seen.has('enforcement.projection.lag')).toBe(true);
    expect(units.get('enforcement.projection.lag')).toBe('s');
    expect(seen.get('enforcement.consumer.lag')).toBeGreaterThanOrEqual(0);
    // Consumer lag per group and partition, named by the messaging conventions.
    expect(lagPoints.length).toBeGreaterThan(0);
    for (const a of lagPoints)
      expect(a).toMatchObject({
        'messaging.system': 'kafka',
        'messaging.consumer.group.name': expect.any(String),
        'messaging.destination.name': sys.topics.caseEvents,
        'messaging.destination.partition.id': expect.stringMatching(/^\d+$/),
      });
  });
});
