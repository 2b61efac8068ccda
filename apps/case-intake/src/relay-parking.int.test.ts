import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Metadata } from '@grpc/grpc-js';
import { eventually, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  consumeEvents,
  intakeBehindSmallTopic,
  raiseTopicLimit,
  storeAdmin,
  tokenFor,
  unary,
  type TestIntake,
} from './test-support/harness.js';

/**
 * A record Kafka refuses for good (here: a topic whose max.message.bytes is
 * below what intake was told it takes) is parked with its case's later
 * commits, and every other case keeps flowing, in order.
 */
describe('a record the broker refuses for good', () => {
  let svc: TestIntake;
  let agency: Metadata;
  let kafka: Kafka;
  const big = fullLoop(uniqueName('big'));
  const small = fullLoop(uniqueName('small'));

  beforeAll(async () => {
    ({ svc, kafka } = await intakeBehindSmallTopic('park'));
    agency = await tokenFor(['agency'], ['lz-eeb']);
  });
  afterAll(() => svc?.stop());

  it('parks it and what follows on its case; every other case is published', async () => {
    const c = svc.client;
    await unary((cb) => c.registerCase({ ...big.register, title: 'x'.repeat(30_000) }, agency, cb));
    await unary((cb) => c.registerCase(small.register, agency, cb));
    await unary((cb) => c.dispatchCase(big.dispatch, agency, cb));
    await unary((cb) => c.dispatchCase(small.dispatch, agency, cb));
    await unary((cb) => c.recordProgress(small.evidence, agency, cb));

    const seen = await consumeEvents(svc.topics.caseEvents, (s) => s.length >= 3);
    await svc.service.relay.drain();
    expect(seen.map((s) => [s.key, s.event.version])).toEqual([
      [small.register.meta.caseId, 1],
      [small.register.meta.caseId, 2],
      [small.register.meta.caseId, 3],
    ]);
    const parked = await eventually(
      async () => {
        const docs = await svc.service.store.parked.find({}).toArray();
        return docs.length === 2 ? docs : undefined;
      },
      { timeoutMs: 20_000, what: 'two parked commits' },
    );
    expect(parked.map((d) => [d.caseId, d.fromVersion]).sort()).toEqual([
      [big.register.meta.caseId, 1],
      [big.register.meta.caseId, 2],
    ]);
    expect(parked.find((d) => d.fromVersion === 1)?.reason).toContain('MESSAGE_TOO_LARGE');
    expect(await svc.service.store.outbox.countDocuments({})).toBe(0);
    expect(svc.service.relay.backlog).toBe(0);
    // Stored all the same: the history verifies, only its publication waits for an operator.
    const supervisor = await tokenFor(['supervisor']);
    const v = await unary<{ valid: boolean; eventCount: number }>((cb) =>
      c.verifyCase({ caseId: big.register.meta.caseId }, supervisor, cb),
    );
    expect(v).toMatchObject({ valid: true, eventCount: 2 });
    expect(svc.service.checkpoints.get(small.register.meta.caseId)?.version).toBe(3);
  });

  it('publishes a released case in version order once the topic takes it, and its next commands flow', async () => {
    await raiseTopicLimit(kafka, svc.topics.caseEvents);
    const bigId = big.register.meta.caseId;
    // A mistyped database, or a bucket count not the store's: refused, nothing released.
    const typo = await storeAdmin(['release', '--case', bigId], { MONGODB_DB: `${svc.db}_typo` });
    expect(typo.code, typo.stderr).toBe(65);
    expect(typo.stderr).toContain('not an event store');
    const wrong = await storeAdmin(['release', '--case', bigId, '--buckets', '3'], {
      MONGODB_DB: svc.db,
    });
    expect(wrong.code, wrong.stderr).toBe(78);
    expect(wrong.stderr).toContain('3');
    // Republishing a parked case is refused: its parked commits go by release, in their turn.
    const republish = await storeAdmin(['republish', '--case', bigId], { MONGODB_DB: svc.db });
    expect(republish.code, republish.stderr).toBe(65);
    expect(republish.stderr).toContain(`release --case ${bigId}`);
    expect(await svc.service.store.outbox.countDocuments({})).toBe(0);
    expect(await svc.service.store.parked.countDocuments({})).toBe(2);
    const released = await storeAdmin(['release', '--case', bigId], { MONGODB_DB: svc.db });
    expect(released.code, released.stderr).toBe(0);
    expect(released.stdout).toContain(`released 2 commits of ${bigId}`);
    expect(await svc.service.store.parked.countDocuments({})).toBe(0);
    const republished = await consumeEvents(
      svc.topics.caseEvents,
      (s) => s.filter((x) => x.key === bigId).length >= 2,
    );
    expect(republished.filter((x) => x.key === bigId).map((x) => x.event.version)).toEqual([1, 2]);
    // The case flows again without a restart: its next command is published, not parked.
    await unary((cb) => svc.client.recordProgress(big.evidence, agency, cb));
    const seen = await consumeEvents(
      svc.topics.caseEvents,
      (s) => s.filter((x) => x.key === bigId).length >= 3,
    );
    expect(seen.filter((x) => x.key === bigId).map((x) => x.event.version)).toEqual([1, 2, 3]);
    await eventually(
      async () => ((await svc.service.store.outbox.countDocuments({})) === 0 ? true : undefined),
      { timeoutMs: 20_000, what: 'an empty outbox' },
    );
    expect(await svc.service.store.parked.countDocuments({})).toBe(0);
    expect(svc.service.checkpoints.get(bigId)?.version).toBe(3);
  });
});
