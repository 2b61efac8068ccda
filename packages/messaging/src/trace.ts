import type { GroupLag } from './kafka.js';
import {
  context,
  metrics,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type BatchObservableCallback,
  type Context,
} from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';
import { CREATE_CONTEXT_HEADER } from '@enforcement/telemetry/kafka-context';

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

const tracer = trace.getTracer('enforcement-messaging');

/** Where a chunk of consumed messages comes from, for the messaging conventions' attributes. */
export interface Consumed {
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
}

/**
 * Runs `work` on a chunk of consumed messages, traced: each message gets a
 * CONSUMER span `process <topic>`, a child of the span that created it (from
 * its headers), with the messaging conventions' attributes; `work` runs in
 * the first one's context, so the store writes it makes (and their
 * instrumented driver spans) are part of that trace; the chunk's span
 * (`<name> chunk`) links to every message's. The kafkajs instrumentation's
 * own `poll` and `process` spans start new traces and only link back; these
 * continue the command's. Costs nothing when no tracer is registered.
 */
export async function processTraced<T>(
  name: string,
  from: Consumed,
  messages: readonly { headers?: IHeaders; key?: Buffer | null; offset?: string }[],
  work: () => Promise<T>,
): Promise<T> {
  const spans = messages.map((m) =>
    tracer.startSpan(
      `process ${from.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.operation.name': 'process',
          'messaging.destination.name': from.topic,
          'messaging.destination.partition.id': String(from.partition),
          'messaging.consumer.group.name': from.group,
          ...(m.offset !== undefined ? { 'messaging.kafka.offset': Number(m.offset) } : {}),
          ...(m.key ? { 'messaging.kafka.message.key': m.key.toString('utf8') } : {}),
        },
      },
      contextFromHeaders(m.headers),
    ),
  );
  const first = spans[0];
  const run = () =>
    tracer.startActiveSpan(
      `${name} chunk`,
      {
        attributes: { 'messaging.batch.message_count': messages.length },
        links: spans.map((s) => ({ context: s.spanContext() })),
      },
      async (chunk) => {
        try {
          return await work();
        } catch (e) {
          chunk.recordException(e as Error);
          chunk.setStatus({ code: SpanStatusCode.ERROR });
          throw e;
        } finally {
          chunk.end();
        }
      },
    );
  try {
    return first ? await context.with(trace.setSpan(context.active(), first), run) : await run();
  } finally {
    for (const s of spans) s.end();
  }
}

/**
 * A PRODUCER span `create <topic>` for the messages of one unit of work
 * (a commit) about to be sent in a batch, a child of `parent`: its context
 * goes in their headers, under `traceparent` and under the header the
 * kafkajs instrumentation's hook restores it from (its `send` span would
 * replace it), so consumers continue `parent`'s trace.
 */
export function startPublishSpan(
  topic: string,
  parent: Record<string, string>,
  what: { key: string; messages: number },
) {
  const span = tracer.startSpan(
    `create ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'create',
        'messaging.operation.name': 'create',
        'messaging.destination.name': topic,
        'messaging.kafka.message.key': what.key,
        'messaging.batch.message_count': what.messages,
      },
    },
    propagation.extract(ROOT_CONTEXT, parent),
  );
  const headers = traceHeaders(trace.setSpan(ROOT_CONTEXT, span));
  if (headers.traceparent) headers[CREATE_CONTEXT_HEADER] = headers.traceparent;
  return { span, headers };
}

/**
 * The metrics of one projection: events applied by outcome, dead letters,
 * and, observed when metrics are collected, the lag from intake's recording
 * to the projection (s) and the messages on the topic not consumed yet, per partition.
 */
export interface ProjectionMetrics {
  outcome(outcome: string, n?: number): void;
  /** A chunk applied and written: how long it took (s) and how many messages it held. */
  chunk(seconds: number, messages: number): void;
  /** The recording time (ms) of an event just applied. */
  recorded(ms: number): void;
  /**
   * Observes, when metrics are collected, the cases whose later events wait
   * for an earlier version that has not arrived: how many, and how long ago
   * intake recorded the earliest waiting event (s; 0 when none waits).
   * Returns what stops observing (the service stopping).
   */
  waitingFrom(read: () => Promise<{ cases: number; earliestMs: number | undefined }>): () => void;
}

export function projectionMetrics(service: string, lag: GroupLag): ProjectionMetrics {
  const meter = metrics.getMeter('enforcement-messaging');
  const attrs = { service };
  const applied = meter.createCounter('enforcement.projection.events', {
    description: 'Case events handled by a projection, by outcome',
  });
  const deadLetters = meter.createCounter('enforcement.projection.dead_letters', {
    description: 'Case events sent to the dead-letter topic',
  });
  // At 0 from the start, so that an alert on its increase sees the first one.
  deadLetters.add(0, attrs);
  const chunkDuration = meter.createHistogram('enforcement.projection.chunk.duration', {
    description: 'Time to apply a chunk of messages and write what it changed',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] },
  });
  let recordedMs = 0;
  meter
    .createObservableGauge('enforcement.projection.lag', {
      description: 'Time from intake recording the latest applied event to now',
      unit: 's',
    })
    .addCallback((r) => {
      if (recordedMs > 0) r.observe((Date.now() - recordedMs) / 1000, attrs);
    });
  // Per partition, with the messaging conventions' attributes, so an alert can
  // tell one stuck partition from a group that is behind everywhere.
  meter
    .createObservableGauge('enforcement.consumer.lag', {
      description: 'Messages on the topic not yet committed by the consumer group, per partition',
      unit: '{message}',
    })
    .addCallback(async (r) => {
      const read = await lag.read().catch(() => undefined);
      if (!read) return;
      for (const [partition, n] of read.partitions)
        r.observe(n, {
          ...attrs,
          'messaging.system': 'kafka',
          'messaging.consumer.group.name': lag.groupId,
          'messaging.destination.name': lag.topic,
          'messaging.destination.partition.id': String(partition),
        });
    });
  return {
    outcome: (outcome: string, n = 1) => {
      applied.add(n, { ...attrs, outcome });
      if (outcome === 'poison') deadLetters.add(n, attrs);
    },
    chunk: (seconds: number, messages: number) =>
      chunkDuration.record(seconds, { ...attrs, 'messaging.batch.message_count': messages }),
    recorded: (ms: number) => {
      if (ms > recordedMs) recordedMs = ms;
    },
    waitingFrom: (read) => {
      const cases = meter.createObservableGauge('enforcement.projection.waiting_cases', {
        description: 'Cases whose later events wait for an earlier version that has not arrived',
        unit: '{case}',
      });
      const age = meter.createObservableGauge('enforcement.projection.waiting_age', {
        description: 'Time since intake recorded the earliest event waiting for an earlier version',
        unit: 's',
      });
      const observe: BatchObservableCallback = async (r) => {
        const w = await read().catch(() => undefined);
        if (!w) return;
        r.observe(cases, w.cases, attrs);
        r.observe(
          age,
          w.earliestMs === undefined ? 0 : Math.max(0, (Date.now() - w.earliestMs) / 1000),
          attrs,
        );
      };
      meter.addBatchObservableCallback(observe, [cases, age]);
      return () => meter.removeBatchObservableCallback(observe, [cases, age]);
    },
  };
}
