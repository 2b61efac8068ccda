import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { logs } from '@opentelemetry/api-logs';
import {
  InMemoryLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor,
} from '@opentelemetry/sdk-logs';
import { createLogger } from './log.js';

describe('createLogger', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  });
  afterAll(() => context.disable());

  it('writes JSON lines with the service name and the trace id active at the time', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('case-intake', sink);
    const span = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 };
    context.with(trace.setSpanContext(context.active(), span), () => log.info('inside'));
    log.warn('outside');
    const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(inside).toMatchObject({
      msg: 'inside',
      service: 'case-intake',
      trace_id: 'a'.repeat(32),
      span_id: 'b'.repeat(16),
    });
    expect(outside).toMatchObject({ msg: 'outside', level: 40 });
    expect(outside?.trace_id).toBeUndefined();
  });

  it('hands every line to the OpenTelemetry logs SDK too, with its trace, severity and fields', () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    logs.setGlobalLoggerProvider(provider);
    try {
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      });
      const log = createLogger('reporting', sink, true);
      const span = { traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), traceFlags: 1 };
      context.with(trace.setSpanContext(context.active(), span), () =>
        log.error({ err: new Error('boom'), caseId: 'LZ2021-000001' }, 'cannot apply'),
      );
      log.info({ logger: 'kafkajs', namespace: 'Connection' }, 'connected');
      // The line still goes to stdout as before.
      expect(lines).toHaveLength(2);
      const [failed, connected] = exporter.getFinishedLogRecords();
      expect(failed).toMatchObject({
        severityText: 'ERROR',
        body: 'cannot apply',
        attributes: expect.objectContaining({
          caseId: 'LZ2021-000001',
          service: 'reporting',
          'exception.type': 'Error',
          'exception.message': 'boom',
        }),
      });
      expect(failed?.spanContext?.traceId).toBe('c'.repeat(32));
      expect(failed?.instrumentationScope.name).toBe('reporting');
      expect(connected).toMatchObject({
        severityText: 'INFO',
        body: 'connected',
        attributes: expect.objectContaining({ logger: 'kafkajs', namespace: 'Connection' }),
      });
    } finally {
      logs.disable();
    }
  });
});
