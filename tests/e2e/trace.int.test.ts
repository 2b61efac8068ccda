import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-node';
import { intake } from '@enforcement/contracts';
import { DISTRICTS } from '@enforcement/reference-data';
import { eventually, tokenFor, uniqueName, unary } from '@enforcement/testing';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

describe('one trace across the services', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let sys: WholeSystem;

  beforeAll(async () => {
    // What the telemetry package does in a service process, with spans kept in memory.
    provider.register();
    sys = await startWholeSystem();
  }, 120_000);

  afterAll(async () => {
    await sys?.stop();
    await provider.shutdown();
    trace.disable();
  });

  it('follows a registered case from the intake call through Kafka into scoring and reporting', async () => {
    const caseId = uniqueName('traced');
    const md = await tokenFor(['agency'], ['lz-eeb']);
    await unary<intake.CommandResult>((cb) =>
      sys.intakeClient.registerCase(
        intake.RegisterCaseRequest.fromPartial({
          meta: { commandId: `${caseId}:1`, caseId },
          agencyId: 'lz-eeb',
          district: DISTRICTS[0],
          domain: 1,
          violationCode: 'ENV-AIR-001',
          legalBasis: '《大气污染防治法》第九十九条',
          source: 1,
          parties: [{ kind: 2, name: '柳州某公司', identifier: '9145' }],
          title: 'traced',
        }),
        md,
        cb,
      ),
    );
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

    const all = await eventually(
      () => {
        const names = inTrace().map((s) => s.name);
        return names.some((n) => n === 'scoring process') &&
          names.some((n) => n === 'reporting chunk')
          ? inTrace()
          : undefined;
      },
      { timeoutMs: 60_000, what: 'the consumers to join the trace' },
    );
    const publish = all.find((s) => s.name.endsWith(' publish'));
    expect(childOf(publish, command)).toBe(true);
    const reporting = all.find((s) => s.name === 'reporting process');
    const scoring = all.find((s) => s.name === 'scoring process');
    expect(childOf(reporting, publish)).toBe(true);
    expect(childOf(scoring, publish)).toBe(true);
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
});
