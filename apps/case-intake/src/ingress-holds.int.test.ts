import { afterEach, describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { checkHealth } from '@enforcement/grpc-kit';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  consumeTopic,
  startIntake,
  tokenFor,
  unary,
  withMongo,
  type TestIntake,
} from './test-support/harness.js';

type Kind = intake.Command['kind'];

/**
 * A producer pipelines a case's commands to the Kafka ingress, each written
 * for the version the one before it leaves: it never waits for receipts.
 * When one is refused ABORTED (it expected a version the case is no longer
 * at), the ones behind it were meant to follow it. Before, the ingress ran
 * them anyway, and a later step was stored without the refused one: a case
 * with a notice and no evidence. Now every later submission of the case is
 * refused ABORTED too, naming the refused command, until that command is
 * published again; and the hold outlives the instance that made it.
 */
describe('the Kafka ingress behind a submission refused ABORTED', () => {
  const running: TestIntake[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.stop().catch(() => undefined)));
  });

  const start = async (o: Parameters<typeof startIntake>[0]) => {
    const s = await startIntake(o);
    running.push(s);
    return s;
  };

  /** Publishes `kinds` keyed by `key(kind)`, numbered from `first`. */
  const publish = async (
    topic: string,
    bearer: string,
    first: number,
    kinds: readonly Kind[],
  ): Promise<void> => {
    const producer = new Kafka({
      clientId: 'agency-feed',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        messages: kinds.map((kind, i) => ({
          // Keyed by the case as stored: one partition for its commands, however spelled.
          key: (kind?.value.meta?.caseId ?? '').trim(),
          value: JSON.stringify(
            intake.SubmitEventsRequest.toJSON({ sequence: first + i, command: { kind } }),
          ),
          headers: { authorization: bearer },
        })),
      });
    } finally {
      await producer.disconnect();
    }
  };

  /** The receipts of sequences `from`..`to`, by sequence, once all are out. */
  const receipts = async (topic: string, from: number, to: number) => {
    const seen = await consumeTopic(
      topic,
      (m) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(m.value))),
      (all) => new Set(all.map((r) => r.sequence)).size >= to,
      // The ingress of a new group joins it first; on a loaded machine that takes a while.
      90_000,
    );
    const last = new Map(seen.map((r) => [r.sequence, r]));
    return Array.from({ length: to - from + 1 }, (_, i) => last.get(from + i));
  };
  const outcome = (r: intake.SubmitEventsResponse | undefined) => [
    r?.sequence,
    r?.accepted,
    r?.statusCode,
  ];

  const steps = (caseId: string) => {
    const x = fullLoop(caseId);
    /** The same command, written for `expectedVersion`. */
    const at = (kind: Kind, expectedVersion: number): Kind =>
      ({
        ...kind,
        value: { ...kind?.value, meta: { ...kind?.value.meta, expectedVersion } },
      }) as Kind;
    const evidence: Kind = { $case: 'recordProgress', value: x.evidence };
    return {
      x,
      register: { $case: 'registerCase', value: x.register } as Kind,
      dispatch: { $case: 'dispatchCase', value: x.dispatch } as Kind,
      evidence: (expectedVersion: number) => at(evidence, expectedVersion),
      notice: { $case: 'recordProgress', value: x.notice } as Kind,
    };
  };

  const historyOf = async (
    s: TestIntake,
    caseId: string,
    md: Awaited<ReturnType<typeof tokenFor>>,
  ) =>
    (await unary<intake.GetCaseResponse>((cb) => s.client.getCase({ caseId }, md, cb))).history.map(
      (e) => e.payload?.$case,
    );

  /** `kind` sent with the case id spelled `as`. */
  const spelled = (kind: Kind, as: string): Kind =>
    ({ ...kind, value: { ...kind?.value, meta: { ...kind?.value.meta, caseId: as } } }) as Kind;

  /** A case held and released; what follows the refusal names the case as `later` spells it. */
  const heldUntilSentAgain =
    (caseId: string, later = caseId) =>
    async () => {
      const s = await start({ env: { KAFKA_CLIENT_ID: uniqueName('holds') } });
      const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
      const bearer = String(md.get('authorization')[0]);
      const a = steps(caseId);
      const b = steps(uniqueName('beside'));
      await publish(s.topics.intakeSubmissions, bearer, 1, [
        a.register,
        a.dispatch,
        // Written for a version the case is not at.
        a.evidence(7),
        // Runs on its own (a notice needs no evidence): behind the refusal, it is not run.
        spelled(a.notice, later),
        b.register,
      ]);
      const firstFive = await receipts(s.topics.intakeReceipts, 1, 5);
      expect(firstFive.map(outcome)).toEqual([
        [1, true, 0],
        [2, true, 0],
        [3, false, status.ABORTED],
        [4, false, status.ABORTED],
        [5, true, 0],
      ]);
      expect(firstFive[3]?.reason).toContain(a.x.evidence.meta?.commandId);
      // The evidence again, read right, then what followed it.
      await publish(s.topics.intakeSubmissions, bearer, 6, [
        spelled(a.evidence(2), later),
        a.notice,
      ]);
      expect((await receipts(s.topics.intakeReceipts, 6, 7)).map(outcome)).toEqual([
        [6, true, 0],
        [7, true, 0],
      ]);
      expect(await historyOf(s, a.x.register.meta?.caseId ?? '', md)).toEqual([
        'caseRegistered',
        'caseDispatched',
        'evidenceRecorded',
        'partyNotified',
      ]);
    };

  it(
    'runs none of the case’s later submissions until the refused command comes again; other cases go on',
    heldUntilSentAgain(uniqueName('held')),
  );

  // A case id is any printable text. FerretDB refuses a field path whose
  // part begins or ends with white space; before 2026-12-06 the hold's
  // field in the ledger named the case as it is, every write of the
  // partition's ledger failed, and the partition was read again for good.
  it(
    'does so for a case whose id begins and ends with white space, and the partition reads on',
    heldUntilSentAgain(`\u3000${uniqueName('held')} `),
  );

  // Until the evening of 2026-12-06 a partition's line and a hold named the
  // case as sent: a notice of " x" behind a refusal of "x" ran out of the
  // case's order (before its registration, NOT_FOUND) and past the refusal.
  it('holds the case however the white space at its id’s ends is spelled', async () => {
    const id = uniqueName('held');
    await heldUntilSentAgain(id, ` ${id}\u3000`)();
  });

  it('holds the case on the instance that reads the partition next, from the ledger', async () => {
    const group = uniqueName('holds');
    const first = await start({ env: { KAFKA_CLIENT_ID: group } });
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const bearer = String(md.get('authorization')[0]);
    const a = steps(uniqueName('handed'));
    const { topics, db } = first;
    await publish(topics.intakeSubmissions, bearer, 1, [a.register, a.dispatch, a.evidence(7)]);
    expect((await receipts(topics.intakeReceipts, 1, 3)).map(outcome)).toEqual([
      [1, true, 0],
      [2, true, 0],
      [3, false, status.ABORTED],
    ]);
    await first.stop();

    // Another instance of the group reads the partition from its committed
    // offset, past the refusal (keeping released holds its 10 minutes).
    const next = await start({ db, topics, env: { KAFKA_CLIENT_ID: group } });
    await publish(topics.intakeSubmissions, bearer, 4, [a.notice]);
    const [held] = await receipts(topics.intakeReceipts, 4, 4);
    expect(outcome(held)).toEqual([4, false, status.ABORTED]);
    expect(held?.reason).toContain(a.x.evidence.meta?.commandId);
    await publish(topics.intakeSubmissions, bearer, 5, [a.evidence(2), a.notice]);
    expect((await receipts(topics.intakeReceipts, 5, 6)).map(outcome)).toEqual([
      [5, true, 0],
      [6, true, 0],
    ]);
    expect(await historyOf(next, a.x.register.meta?.caseId ?? '', md)).toEqual([
      'caseRegistered',
      'caseDispatched',
      'evidenceRecorded',
      'partyNotified',
    ]);

    // Released and committed past: the instance that joins next, keeping
    // released holds no time, deletes it from the ledger, which would
    // otherwise keep every hold ever made.
    const heldIn = () =>
      withMongo((c) =>
        c.db(db).collection('ingress_holds').countDocuments({ caseId: a.x.register.meta?.caseId }),
      );
    expect(await heldIn()).toBe(1);
    await next.stop();
    await start({
      db,
      topics,
      env: { KAFKA_CLIENT_ID: group, INGRESS_RELEASED_HOLDS_KEPT_MS: '0' },
    });
    await eventually(async () => ((await heldIn()) === 0 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the released hold gone from the ledger',
    });
  });

  // A batch is read again when its instance dies after answering it and
  // before its offsets are committed. Until the night of 2026-12-06 each
  // refusal in it was decided again on what the rest of the batch had made
  // of its case: a hearing refused for want of a notice, published before
  // the notice, was stored after it when read again, though its receipt had
  // said refused (found by `submission-lines.int.test.ts`).
  it('answers a submission read again as it was refused the first time, though what came after it would let it run now', async () => {
    const env = { KAFKA_CLIENT_ID: uniqueName('refusals') };
    const first = await start({ env });
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const bearer = String(md.get('authorization')[0]);
    const a = steps(uniqueName('reread'));
    const hearing: Kind = { $case: 'recordProgress', value: a.x.hearing };
    const { topics, db } = first;
    await publish(topics.intakeSubmissions, bearer, 1, [a.register, a.dispatch, hearing, a.notice]);
    const answered = [
      [1, true, 0],
      [2, true, 0],
      [3, false, status.FAILED_PRECONDITION],
      [4, true, 0],
    ];
    expect((await receipts(topics.intakeReceipts, 1, 4)).map(outcome)).toEqual(answered);
    await first.stop();
    // As if it had died before its offsets were committed: the group reads the batch again.
    const admin = new Kafka({
      clientId: 'test-admin',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.resetOffsets({
        groupId: `${env.KAFKA_CLIENT_ID}.intake-ingress`,
        topic: topics.intakeSubmissions,
        earliest: true,
      });
    } finally {
      await admin.disconnect();
    }
    const next = await start({ db, topics, env });
    const all = await consumeTopic(
      topics.intakeReceipts,
      (m) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(m.value))),
      (seen) => seen.length >= 8,
      120_000,
    );
    // Answered again as the first time: the refusal too.
    expect(all.map(outcome)).toEqual([...answered, ...answered]);
    expect(await historyOf(next, a.x.register.meta?.caseId ?? '', md)).toEqual([
      'caseRegistered',
      'caseDispatched',
      'partyNotified',
    ]);
  });

  // A submissions topic deleted and made again under its name starts its
  // offsets again: a refusal recorded for the old topic names another
  // submission than the one now at its offset.
  it('answers a refusal recorded at an offset only to the submission it was recorded for', async () => {
    const env = { KAFKA_CLIENT_ID: uniqueName('refusals') };
    const first = await start({ env });
    const { topics, db } = first;
    await first.stop();
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const a = steps(uniqueName('new-topic'));
    await publish(topics.intakeSubmissions, String(md.get('authorization')[0]), 1, [a.register]);
    const p = (n: number) =>
      `${env.KAFKA_CLIENT_ID}.intake-ingress|${topics.intakeSubmissions}|${n}`;
    await withMongo((m) =>
      m
        .db(db)
        .collection<{ _id: string }>('ingress_refusals')
        .insertMany(
          Array.from({ length: 12 }, (_, n) => ({
            _id: `${p(n)}|o0`,
            p: p(n),
            offset: 0,
            key: 'another|command',
            receipt: JSON.stringify(
              intake.SubmitEventsResponse.toJSON({
                sequence: 1,
                accepted: false,
                caseId: 'another',
                version: 0,
                duplicate: false,
                index: 0,
                statusCode: status.FAILED_PRECONDITION,
                reason: 'refused on the old topic',
                errorCode: 'CASE.INVALID_TRANSITION',
              }),
            ),
          })),
        ),
    );
    await start({ db, topics, env });
    expect((await receipts(topics.intakeReceipts, 1, 1)).map(outcome)).toEqual([[1, true, 0]]);
  });

  // A refusal is recorded before it is answered and before anything later
  // of its case runs. Here the server refuses the record's write (a unique
  // index on the record's case and command, and a document already there
  // under another offset): the partition must stop at the refusal with no
  // receipt out for it or for what its case sent after it, say so in
  // health, and once the write goes through answer both as refused,
  // with the record kept.
  it('answers no refusal it could not record, stops there and says so, and answers it once recorded', async () => {
    const s = await start({
      env: {
        KAFKA_CLIENT_ID: uniqueName('unrecorded'),
        INGRESS_STALL_MS: '2000',
        HEALTH_CHECK_MS: '250',
      },
    });
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const bearer = String(md.get('authorization')[0]);
    const a = steps(uniqueName('unrecorded'));
    const b = steps(uniqueName('beside'));
    const caseId = a.x.register.meta?.caseId ?? '';
    const key = `${caseId}|${a.x.evidence.meta?.commandId ?? ''}`;
    // The ledger keeps a refusal's key as JSON (`k`).
    const refusals = (m: Parameters<Parameters<typeof withMongo>[0]>[0]) =>
      m.db(s.db).collection<{ _id: string; k: string }>('ingress_refusals');
    await withMongo(async (m) => {
      await refusals(m).createIndex({ k: 1 }, { unique: true, name: 'test_blocks_the_key' });
      await refusals(m).insertOne({ _id: 'blocker', k: JSON.stringify(key) });
    });
    await publish(s.topics.intakeSubmissions, bearer, 1, [
      a.register,
      a.dispatch,
      a.evidence(7),
      a.notice,
      b.register,
    ]);
    const failing = async () => {
      await s.service.readiness.check();
      return s.service.readiness.failing.get('ingress') ?? '';
    };
    const stuck = new RegExp(
      `has not got past offset 2 of ${s.topics.intakeSubmissions} partition \\d+ for \\d+ s: .*the ingress ledger's record of a refusal at .* offset 2 was not written: .*dup`,
    );
    const said = await eventually(async () => (stuck.test(await failing()) ? true : undefined), {
      what: 'the ingress to say it cannot record the refusal',
      timeoutMs: 60_000,
    }).catch(failing);
    expect(said).toBe(true);
    // What could be answered is; the refusal and what its case sent after it are not.
    const before = await consumeTopic(
      s.topics.intakeReceipts,
      (m) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(m.value))),
      (seen) => [1, 2, 5].every((n) => seen.some((r) => r.sequence === n)),
    );
    expect([...new Set(before.map((r) => r.sequence))].sort()).toEqual([1, 2, 5]);
    // The instance as a whole says so; its gRPC service, which stores and
    // answers commands all the same, stays in the load balancer, and does.
    expect(await checkHealth(s.service.address)).toBe('NOT_SERVING');
    expect(await checkHealth(s.service.address, 'enforcement.intake.v1.CaseIntakeService')).toBe(
      'SERVING',
    );
    const c = steps(uniqueName('meanwhile'));
    const registered = await unary<intake.CommandResult>((cb) =>
      s.client.registerCase(c.x.register, md, cb),
    );
    expect([registered.duplicate, registered.version]).toEqual([false, 1]);

    await withMongo((m) => refusals(m).deleteOne({ _id: 'blocker' }));
    const answered = await receipts(s.topics.intakeReceipts, 1, 5);
    expect(answered.map(outcome)).toEqual([
      [1, true, 0],
      [2, true, 0],
      [3, false, status.ABORTED],
      [4, false, status.ABORTED],
      [5, true, 0],
    ]);
    expect(answered[3]?.reason).toContain(a.x.evidence.meta?.commandId);
    const all = await consumeTopic(
      s.topics.intakeReceipts,
      (m) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(m.value))),
      (seen) => seen.some((r) => r.sequence === 4),
    );
    for (const r of all.filter((x) => x.sequence === 3 || x.sequence === 4))
      expect(outcome(r), 'every receipt of the refusal and of what it holds').toEqual([
        r.sequence,
        false,
        status.ABORTED,
      ]);
    expect(await withMongo((m) => refusals(m).countDocuments({ k: JSON.stringify(key) }))).toBe(1);
    await eventually(async () => ((await failing()) === '' ? true : undefined), {
      what: 'the ingress serving again',
      timeoutMs: 60_000,
    });
    expect(await checkHealth(s.service.address)).toBe('SERVING');
    expect(await historyOf(s, caseId, md)).toEqual(['caseRegistered', 'caseDispatched']);
  });

  // Until the night of 2026-12-06 released holds were deleted only when an
  // instance joined: one that kept its partitions kept every hold they made.
  it('forgets a released hold while it reads on, with no join, once unwritten for the time kept; never an open one', async () => {
    const env = { KAFKA_CLIENT_ID: uniqueName('holds'), INGRESS_RELEASED_HOLDS_KEPT_MS: '2000' };
    const s = await start({ env });
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const bearer = String(md.get('authorization')[0]);
    const released = steps(uniqueName('released'));
    const open = steps(uniqueName('open'));
    await publish(s.topics.intakeSubmissions, bearer, 1, [
      released.register,
      released.dispatch,
      released.evidence(7),
      open.register,
      open.evidence(7),
    ]);
    await publish(s.topics.intakeSubmissions, bearer, 6, [released.evidence(2)]);
    expect((await receipts(s.topics.intakeReceipts, 1, 6)).map(outcome)).toEqual([
      [1, true, 0],
      [2, true, 0],
      [3, false, status.ABORTED],
      [4, true, 0],
      [5, false, status.ABORTED],
      [6, true, 0],
    ]);
    const heldIn = (c: ReturnType<typeof steps>) =>
      withMongo((m) =>
        m
          .db(s.db)
          .collection('ingress_holds')
          .countDocuments({ caseId: c.x.register.meta?.caseId }),
      );
    expect(await heldIn(open)).toBe(1);
    await eventually(async () => ((await heldIn(released)) === 0 ? true : undefined), {
      timeoutMs: 60_000,
      what: 'the released hold gone from the ledger',
    });
    expect(await heldIn(open)).toBe(1);
    // And the open one still holds its case.
    await publish(s.topics.intakeSubmissions, bearer, 7, [open.notice]);
    expect((await receipts(s.topics.intakeReceipts, 7, 7)).map(outcome)).toEqual([
      [7, false, status.ABORTED],
    ]);
  });
});
