import { afterAll, describe, expect, it } from 'vitest';
import { propagation, ROOT_CONTEXT, trace, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { CREATE_CONTEXT_HEADER, restoreCreateContext } from './kafka-context.js';

describe('kafkajs instrumentation and the messages a command created', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  afterAll(() => propagation.disable());

  /** What the instrumentation does to each message of a producer's send, with the hook the services install. */
  const send = (hook: typeof restoreCreateContext | undefined, headers: Record<string, string>) => {
    const instrumentation = new KafkaJsInstrumentation({ enabled: false, producerHook: hook });
    instrumentation.setTracerProvider(provider);
    const message = { key: 'case-1', value: 'v', headers: { ...headers } };
    const span = (
      instrumentation as unknown as {
        _startProducerSpan(topic: string, m: typeof message, client: unknown): Span;
      }
    )._startProducerSpan('case-events', message, undefined);
    span.end();
    const sent = exporter.getFinishedSpans().at(-1);
    if (!sent) throw new Error('the instrumentation made no send span');
    return { message, span: sent };
  };

  const created = () => {
    const span = provider.getTracer('test').startSpan('create case-events');
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
    span.end();
    const traceparent = headers.traceparent ?? '';
    return { span, headers: { traceparent, [CREATE_CONTEXT_HEADER]: traceparent } };
  };

  it('without the hook, the send span replaces the creation context a message carries', () => {
    const c = created();
    const { message } = send(undefined, c.headers);
    expect(message.headers.traceparent).not.toBe(c.headers.traceparent);
  });

  it('with it, the message keeps its creation context and the send span links to it', () => {
    const c = created();
    const { message, span } = send(restoreCreateContext, c.headers);
    expect(message.headers.traceparent).toBe(c.headers.traceparent);
    expect(span.links.map((l) => l.context.spanId)).toEqual([c.span.spanContext().spanId]);
  });

  it('leaves a message made without a creation span as the instrumentation made it', () => {
    const { message, span } = send(restoreCreateContext, {});
    expect(message.headers.traceparent).toContain(span.spanContext().spanId);
    expect(span.links).toEqual([]);
  });
});
