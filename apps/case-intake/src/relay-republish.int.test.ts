import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  consumeEvents,
  startIntake,
  storeAdmin,
  tokenFor,
  unary,
  type Consumed,
  type TestIntake,
} from './test-support/harness.js';

const versionsOf = (seen: Consumed[], caseId: string) =>
  seen.filter((s) => s.key === caseId).map((s) => s.event.version);

/**
 * A commit the store holds that never reached the topic, and that no
 * outbox document names any more (here: an instance died before publishing
 * it, and its outbox document was deleted by hand). The read models hold the
 * case's later versions until it comes; `store-admin republish` names the
 * case's whole history in the outbox, and the relay publishes it again.
 */
describe('republishing a case whose commit never reached the topic', () => {
  let agency: Metadata;
  const running: TestIntake[] = [];
  beforeAll(async () => {
    agency = await tokenFor(['agency'], ['lz-eeb']);
  });
  afterAll(async () => {
    for (const svc of running) await svc.stop().catch(() => undefined);
  });

  it('publishes every version of the case again, the lost one among them, and empties the outbox', async () => {
    const svc = await startIntake();
    running.push(svc);
    const crashed = await startIntake({ db: svc.db, topics: svc.topics, relay: 'off' });
    const loop = fullLoop(uniqueName('lost'));
    const caseId = loop.register.meta.caseId;
    await unary((cb) => svc.client.registerCase(loop.register, agency, cb));
    await unary((cb) => crashed.client.dispatchCase(loop.dispatch, agency, cb));
    crashed.client.close();
    await crashed.service.kill();
    await unary((cb) => svc.client.recordProgress(loop.evidence, agency, cb));
    await svc.service.relay.drain();
    // The dead instance's outbox document, deleted by hand: no sweep finds version 2.
    await svc.service.store.outbox.deleteMany({});
    await svc.stop();
    const restarted = await startIntake({ db: svc.db, topics: svc.topics });
    running.push(restarted);
    await restarted.service.relay.drain();
    const before = await consumeEvents(svc.topics.caseEvents, (s) => s.length >= 2);
    expect(versionsOf(before, caseId)).toEqual([1, 3]);

    // Refused without a case, or on a database that is not an event store; a case it does not hold is named.
    expect((await storeAdmin(['republish'], { MONGODB_DB: svc.db })).code).toBe(64);
    const typo = await storeAdmin(['republish', '--case', caseId], {
      MONGODB_DB: `${svc.db}_typo`,
    });
    expect(typo.code).toBe(65);
    const unknown = await storeAdmin(['republish', '--case', `${caseId}-none`], {
      MONGODB_DB: svc.db,
    });
    expect(unknown).toMatchObject({ code: 0 });
    expect(unknown.stdout).toContain('has no commit');

    const r = await storeAdmin(['republish', '--case', caseId], { MONGODB_DB: svc.db });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`named the 3 commits of ${caseId}`);
    // The relay's next sweep: here the one an instance makes when it starts.
    await restarted.stop();
    const again = await startIntake({ db: svc.db, topics: svc.topics });
    running.push(again);
    const after = await consumeEvents(
      svc.topics.caseEvents,
      (s) => versionsOf(s, caseId).length >= 5,
    );
    // Published again whole, in version order, after what was there.
    expect(versionsOf(after, caseId)).toEqual([1, 3, 1, 2, 3]);
    await again.service.relay.drain();
    expect(await again.service.store.outbox.countDocuments({})).toBe(0);
  });
});
