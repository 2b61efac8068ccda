import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
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
});
