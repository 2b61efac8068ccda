import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientReadableStream, Metadata } from '@grpc/grpc-js';
import type { scoring } from '@enforcement/contracts';
import { eventually } from '@enforcement/testing';
import { caseEvents } from './test-support/events.js';
import {
  caseAppliedBy,
  publish,
  startTwoSharing,
  tokenFor,
  type TestScoring,
} from './test-support/harness.js';

/**
 * Two instances share the partitions. Each tells its own watchers what it
 * applied at once and the other's through the scores topic: a watcher on
 * either sees the same updates, each once, whichever instance applied them.
 */
describe('live scores across two scoring instances', () => {
  let a: TestScoring;
  let b: TestScoring;
  let supervisor: Metadata;
  beforeAll(async () => {
    [a, b] = await startTwoSharing('watch2');
    supervisor = await tokenFor(['supervisor']);
  }, 90_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('gives a watcher on either instance every update once, whichever instance applied it', async () => {
    const watch = (s: TestScoring) => {
      const got: scoring.CaseScore[] = [];
      const call: ClientReadableStream<scoring.WatchScoresResponse> = s.client.watchScores(
        { agencyId: 'two-ag', district: '' },
        supervisor,
      );
      call.on('data', (r: scoring.WatchScoresResponse) => r.score && got.push(r.score));
      call.on('error', () => undefined);
      return { got, call };
    };
    const onA = watch(a);
    const onB = watch(b);
    await new Promise((r) => setTimeout(r, 500));
    const cases = [
      ...Array.from({ length: 3 }, () => caseAppliedBy(a, 'on-a')),
      ...Array.from({ length: 3 }, () => caseAppliedBy(b, 'on-b')),
    ];
    await publish(
      a.topics.caseEvents,
      cases.flatMap((caseId) => caseEvents({ caseId, agencyId: 'two-ag' })),
    );
    const seenAll = (got: scoring.CaseScore[]) =>
      cases.every((id) => got.some((s) => s.caseId === id));
    await eventually(() => (seenAll(onA.got) && seenAll(onB.got) ? true : undefined), {
      what: 'every case scored on both watchers',
    });
    // A moment more: nothing arrives twice.
    await new Promise((r) => setTimeout(r, 1_500));
    onA.call.cancel();
    onB.call.cancel();
    const perCase = (got: scoring.CaseScore[]) =>
      Object.fromEntries(cases.map((id) => [id, got.filter((s) => s.caseId === id)]));
    expect(perCase(onA.got)).toEqual(perCase(onB.got));
    for (const id of cases) expect(perCase(onA.got)[id]).toHaveLength(1);
  });
});
