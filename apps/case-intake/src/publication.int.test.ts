import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Metadata } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { startTelemetry, shutdownTelemetry } from '@enforcement/telemetry';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  consumeEvents,
  startIntake,
  tokenFor,
  unary,
  type Consumed,
} from './test-support/harness.js';

const byCase = (seen: Consumed[]) => {
  const m = new Map<string, number[]>();
  for (const s of seen) m.set(s.key, [...(m.get(s.key) ?? []), s.event.version]);
  return m;
};

async function threeSteps(client: intake.CaseIntakeServiceClient, md: Metadata, caseId: string) {
  const l = fullLoop(caseId);
  await unary((cb) => client.registerCase(l.register, md, cb));
  await unary((cb) => client.dispatchCase(l.dispatch, md, cb));
  await unary((cb) => client.recordProgress(l.evidence, md, cb));
}

describe('publication to Kafka', () => {
  let agency: Metadata;
  beforeAll(async () => {
    startTelemetry({
      serviceName: 'case-intake-test',
      spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
    });
    agency = await tokenFor(['agency'], ['lz-eeb']);
  });
  afterAll(() => shutdownTelemetry());

  it('publishes every accepted event keyed by case id, in version order, with id, type, schema and trace headers', async () => {
    const intakeSvc = await startIntake();
    try {
      const cases = [uniqueName('pub'), uniqueName('pub'), uniqueName('pub')];
      await Promise.all(cases.map((id) => threeSteps(intakeSvc.client, agency, id)));
      const seen = await consumeEvents(intakeSvc.topics.caseEvents, (s) => s.length >= 9);

      for (const id of cases) expect(byCase(seen).get(id)).toEqual([1, 2, 3]);
      const first = seen.find((s) => s.event.version === 1);
      expect(first?.headers).toMatchObject({
        'event-id': first?.event.eventId,
        'event-type': 'caseRegistered',
        'schema-version': '1',
        'case-version': '1',
      });
      expect(first?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    } finally {
      await intakeSvc.stop();
    }
  });

  it('stopped as soon as its answers are in, it has published every commit and removed each from the outbox', async () => {
    const intakeSvc = await startIntake();
    const cases = Array.from({ length: 20 }, () => uniqueName('stop'));
    await Promise.all(cases.map((id) => threeSteps(intakeSvc.client, agency, id)));
    await intakeSvc.stop();
    const seen = await consumeEvents(intakeSvc.topics.caseEvents, (s) => s.length >= 60);
    for (const id of cases) expect(byCase(seen).get(id)).toEqual([1, 2, 3]);
    // Nothing is left to send again on the next start.
    const again = await startIntake({ db: intakeSvc.db, topics: intakeSvc.topics, relay: 'off' });
    try {
      expect(await again.service.store.outbox.countDocuments()).toBe(0);
    } finally {
      await again.stop();
    }
  });

  it('loses nothing when the service dies between storing and publishing: the restart publishes it, in order per case', async () => {
    const crashed = await startIntake({ relay: 'off' });
    const cases = [uniqueName('crash'), uniqueName('crash'), uniqueName('crash')];
    for (const id of cases) await threeSteps(crashed.client, agency, id);
    crashed.client.close();
    await crashed.service.kill();

    const restarted = await startIntake({ db: crashed.db, topics: crashed.topics });
    try {
      const seen = await consumeEvents(crashed.topics.caseEvents, (s) =>
        cases.every((id) => (byCase(s).get(id) ?? []).length >= 3),
      );
      for (const id of cases) expect(byCase(seen).get(id)).toEqual([1, 2, 3]);
      // Once published, the outbox is empty: nothing is sent again on the next start.
      await restarted.service.relay.drain();
      expect(await restarted.service.store.outbox.countDocuments()).toBe(0);
    } finally {
      await restarted.stop();
    }
  });

  it("two instances taking up a dead one's outbox at once: every commit published, in order per case, and the outbox emptied", async () => {
    const crashed = await startIntake({ relay: 'off' });
    const cases = Array.from({ length: 4 }, () => uniqueName('pair'));
    for (const id of cases) await threeSteps(crashed.client, agency, id);
    crashed.client.close();
    await crashed.service.kill();

    // Both sweep the same outbox documents when they start.
    const [a, b] = await Promise.all([
      startIntake({ db: crashed.db, topics: crashed.topics }),
      startIntake({ db: crashed.db, topics: crashed.topics }),
    ]);
    try {
      const seen = await consumeEvents(crashed.topics.caseEvents, (s) =>
        cases.every((id) => new Set(byCase(s).get(id)).size >= 3),
      );
      // Published at least once; each version first seen after the one before it.
      for (const id of cases) expect([...new Set(byCase(seen).get(id))]).toEqual([1, 2, 3]);
      await Promise.all([a.service.relay.drain(), b.service.relay.drain()]);
      expect(await a.service.store.outbox.countDocuments()).toBe(0);
      expect(await a.service.store.parkedCases()).toEqual([]);
      // Either instance goes on with the cases, on the head the other published.
      for (const [svc, id] of [
        [a, cases[0]],
        [b, cases[1]],
      ] as const) {
        const r = await unary<intake.CommandResult>((cb) =>
          svc.client.recordProgress(fullLoop(id ?? '').notice, agency, cb),
        );
        expect(r.version).toBe(4);
      }
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
