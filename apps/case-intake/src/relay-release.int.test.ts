import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Metadata } from '@grpc/grpc-js';
import { eventually, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  consumeEvents,
  intakeBehindSmallTopic,
  raiseTopicLimit,
  tokenFor,
  unary,
  type TestIntake,
} from './test-support/harness.js';

/**
 * An operator's release (store-admin release) writes the released commits to
 * the outbox, then removes the parked records. A relay sweep reads the parked
 * records, then the outbox: a release that lands between the two reads must
 * be taken up by that sweep, not parked again behind records it has removed.
 * CI met this by chance once (tests/faults/release-outage); here the release
 * is made to land there every time.
 */
describe('a release that lands while a sweep reads', () => {
  let svc: TestIntake;
  let agency: Metadata;
  let kafka: Kafka;
  const big = fullLoop(uniqueName('big'));
  const bigId = big.register.meta.caseId;

  beforeAll(async () => {
    ({ svc, kafka } = await intakeBehindSmallTopic('release'));
    agency = await tokenFor(['agency'], ['lz-eeb']);
  });
  afterAll(() => svc?.stop());

  it('publishes the released commits in order and never parks them again', async () => {
    const c = svc.client;
    await unary((cb) => c.registerCase({ ...big.register, title: 'x'.repeat(30_000) }, agency, cb));
    await unary((cb) => c.dispatchCase(big.dispatch, agency, cb));
    const store = svc.service.store;
    await eventually(
      async () => ((await store.parked.countDocuments({ caseId: bigId })) === 2 ? true : undefined),
      { timeoutMs: 20_000, what: 'both commits parked' },
    );
    await raiseTopicLimit(kafka, svc.topics.caseEvents);

    // The next sweep's read of the parked records is where the release lands.
    const readParked = store.parkedCommits.bind(store);
    let released = 0;
    store.parkedCommits = async () => {
      const seen = await readParked();
      if (released === 0 && seen.some((p) => p.caseId === bigId))
        released = await store.release(bigId);
      return seen;
    };
    try {
      await eventually(() => (released > 0 ? true : undefined), {
        timeoutMs: 20_000,
        what: 'a sweep to read the parked records',
      });
    } finally {
      store.parkedCommits = readParked;
    }
    expect(released).toBe(2);

    const republished = await consumeEvents(
      svc.topics.caseEvents,
      (s) => s.filter((x) => x.key === bigId).length >= 2,
    );
    expect(republished.filter((x) => x.key === bigId).map((x) => x.event.version)).toEqual([1, 2]);
    await eventually(
      async () => ((await store.outbox.countDocuments({})) === 0 ? true : undefined),
      { timeoutMs: 20_000, what: 'an empty outbox' },
    );
    expect(await store.parked.countDocuments({})).toBe(0);
    // The case is free: its next command is published after the released ones.
    await unary((cb) => c.recordProgress(big.evidence, agency, cb));
    const seen = await consumeEvents(
      svc.topics.caseEvents,
      (s) => s.filter((x) => x.key === bigId).length >= 3,
    );
    expect(seen.filter((x) => x.key === bigId).map((x) => x.event.version)).toEqual([1, 2, 3]);
    expect(await store.parked.countDocuments({})).toBe(0);
  });
});
