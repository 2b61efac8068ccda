import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata, ServiceError } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import {
  startIntake,
  submitAll,
  tokenFor,
  unary,
  type TestIntake,
} from './test-support/harness.js';

type Kind = NonNullable<intake.Command['kind']>;

/** How many sequences a run tries (`SUBMISSION_LINES_RUNS`; 10 in `npm test`). */
const RUNS = Number(process.env.SUBMISSION_LINES_RUNS ?? 10);

/**
 * What a client may send of one case, each step under one command id, so
 * that a step sent twice is a retry. The evidence goes under one id in four
 * forms: as it is, written for version 2 (right after the dispatch), written
 * for version 7 (a version the case never is at here: refused ABORTED, and
 * the case held), and another item under the same id (`COMMAND.ID_REUSED`
 * once the first is stored).
 */
const STEPS = [
  'register',
  'dispatch',
  'evidence',
  'evidenceAt2',
  'evidenceAt7',
  'evidenceOther',
  'notice',
  'hearing',
  'review',
  'penalty',
  'conclude',
  'reconsider',
] as const;
type Step = (typeof STEPS)[number];

/** A case's loop in turn, which a client's sequence mostly follows. */
const LOOP: readonly Step[] = [
  'register',
  'dispatch',
  'evidence',
  'notice',
  'hearing',
  'review',
  'penalty',
  'conclude',
];
const CASES = 3;

/**
 * One case's script: its loop, each step left out one time in ten, with up
 * to four steps put in anywhere (the refused evidence and its retries, a
 * reused id, a reconsideration, a step sent twice).
 */
const script = fc
  .tuple(
    fc.array(fc.integer({ min: 0, max: 9 }), { minLength: LOOP.length, maxLength: LOOP.length }),
    fc.array(fc.tuple(fc.nat(), fc.constantFrom(...STEPS)), { maxLength: 4 }),
  )
  .map(([keep, extras]) => {
    const out = LOOP.filter((_, i) => (keep[i] ?? 1) > 0);
    for (const [at, s] of extras) out.splice(at % (out.length + 1), 0, s);
    return out;
  });

/** The cases' scripts interleaved at random, and a few neighbours swapped: steps out of turn. */
const sequences = fc
  .tuple(
    fc.array(script, { minLength: CASES, maxLength: CASES }),
    fc.array(fc.nat({ max: CASES - 1 }), { minLength: 1, maxLength: 40 }),
    fc.array(fc.nat(), { maxLength: 3 }),
  )
  .map(([scripts, choose, swaps]) => {
    const next = scripts.map(() => 0);
    const total = scripts.reduce((n, s) => n + s.length, 0);
    const out: { k: number; step: Step }[] = [];
    for (let c = 0; out.length < total; c++) {
      let k = choose[c % choose.length] ?? 0;
      while ((next[k] ?? 0) >= (scripts[k]?.length ?? 0)) k = (k + 1) % CASES;
      const s = scripts[k]?.[next[k] ?? 0];
      next[k] = (next[k] ?? 0) + 1;
      if (s) out.push({ k, step: s });
    }
    for (const w of swaps) {
      const i = w % Math.max(1, out.length - 1);
      const [a, b] = [out[i], out[i + 1]];
      if (a && b) [out[i], out[i + 1]] = [b, a];
    }
    return out;
  });

function commandOf(caseId: string, s: Step): Kind {
  const x = fullLoop(caseId, 'lz-eeb', new Date(Date.UTC(2026, 5, 1)));
  const meta = (m: intake.CommandMeta, id: string, expectedVersion?: number) => ({
    ...m,
    commandId: `${caseId}-${id}`,
    expectedVersion,
  });
  const evidence = (expectedVersion?: number, evidenceId = 'ev-1'): Kind => ({
    $case: 'recordProgress',
    value: {
      meta: meta(x.evidence.meta, 'evidence', expectedVersion),
      step: { $case: 'evidence', value: { ...x.evidence.step.value, evidenceId } },
    },
  });
  const progress = (r: intake.RecordProgressRequest, id: string): Kind => ({
    $case: 'recordProgress',
    value: { ...r, meta: meta(r.meta ?? { caseId, commandId: '' }, id) },
  });
  switch (s) {
    case 'register':
      return { $case: 'registerCase', value: { ...x.register, meta: meta(x.register.meta, s) } };
    case 'dispatch':
      return { $case: 'dispatchCase', value: { ...x.dispatch, meta: meta(x.dispatch.meta, s) } };
    case 'evidence':
      return evidence();
    case 'evidenceAt2':
      return evidence(2);
    case 'evidenceAt7':
      return evidence(7);
    case 'evidenceOther':
      return evidence(undefined, 'ev-2');
    case 'notice':
      return progress(x.notice, s);
    case 'hearing':
      return progress(x.hearing, s);
    case 'review':
      return progress(x.review, s);
    case 'penalty':
      return { $case: 'decidePenalty', value: { ...x.penalty, meta: meta(x.penalty.meta, s) } };
    case 'conclude':
      return { $case: 'concludeCase', value: { ...x.conclude, meta: meta(x.conclude.meta, s) } };
    case 'reconsider':
      return {
        $case: 'fileReconsideration',
        value: {
          meta: { caseId: `${caseId}-rv`, commandId: `${caseId}-rv-file` },
          kind: 1,
          enforcementCaseId: caseId,
          respondentAgencyId: 'lz-eeb',
          applicant: '某化工有限公司',
          district: x.register.district,
          domain: x.register.domain,
          claims: '处罚过重',
        },
      };
  }
}

const caseOf = (k: Kind) => k.value.meta?.caseId ?? '';
/** The case a command's order is kept with: a reconsideration's is the case it challenges. */
const lineOf = (k: Kind) =>
  k.$case === 'fileReconsideration' ? k.value.enforcementCaseId : caseOf(k);

/** What a client sees of one answer. */
interface Answer {
  accepted: boolean;
  code: number;
  duplicate: boolean;
  version: number;
}
const ofAck = (a: intake.SubmitEventsResponse | undefined): Answer | undefined =>
  a && {
    accepted: a.accepted,
    code: a.statusCode,
    duplicate: a.accepted && a.duplicate,
    version: a.accepted ? a.version : 0,
  };

/**
 * A stream and the Kafka ingress run different cases' items at once, and
 * keep each case's in order, a reconsideration after what came before it
 * on the case it challenges; an item refused ABORTED holds its case until
 * it comes again (docs/intake.md). So whatever the sequence, every answer
 * and every history must be what the same commands give sent one at a
 * time, in order, by unary calls, with that hold applied by the client:
 * that is the oracle here, over random sequences of three cases' steps
 * (retries, expected versions right and wrong, a command id reused for
 * another item, steps out of turn, reconsiderations before and after the
 * case they challenge exists). In half the runs the ingress's instance is
 * stopped or killed at a random point, and another reads on.
 */
describe('a SubmitEvents stream and the Kafka ingress, against the same commands sent one at a time', () => {
  /** Unary calls, streams and reads. */
  let svc: TestIntake;
  /** The ingress, on the same store: stopped or killed and started again in some runs. */
  let reader: TestIntake;
  const group = uniqueName('lines');
  const startReader = () =>
    startIntake({ db: svc.db, topics: svc.topics, env: { KAFKA_CLIENT_ID: group } });
  let md: Metadata;
  let producer: Producer;
  let receiptsReader: Consumer;
  const receipts: intake.SubmitEventsResponse[] = [];

  beforeAll(async () => {
    svc = await startIntake({ env: { INGRESS_ENABLED: 'false' } });
    reader = await startReader();
    md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const kafka = new Kafka({
      clientId: 'agency-feed',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    producer = kafka.producer();
    await producer.connect();
    receiptsReader = kafka.consumer({ groupId: uniqueName('receipts') });
    await receiptsReader.connect();
    await receiptsReader.subscribe({ topic: svc.topics.intakeReceipts, fromBeginning: true });
    await receiptsReader.run({
      eachMessage: async ({ message }) => {
        receipts.push(intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value))));
      },
    });
  }, 60_000);
  afterAll(async () => {
    await receiptsReader?.disconnect();
    await producer?.disconnect();
    await reader?.stop();
    await svc?.stop();
  });

  const call = (k: Kind): Promise<intake.CommandResult> => {
    const c = svc.client;
    return unary<intake.CommandResult>((cb) => {
      switch (k.$case) {
        case 'registerCase':
          return c.registerCase(k.value, md, cb);
        case 'dispatchCase':
          return c.dispatchCase(k.value, md, cb);
        case 'recordProgress':
          return c.recordProgress(k.value, md, cb);
        case 'decidePenalty':
          return c.decidePenalty(k.value, md, cb);
        case 'concludeCase':
          return c.concludeCase(k.value, md, cb);
        case 'fileReconsideration':
          return c.fileReconsideration(k.value, md, cb);
        default:
          throw new Error(`no unary call for ${k.$case} here`);
      }
    });
  };

  /** The oracle: one unary call at a time, in order, holding a case behind a refusal ABORTED. */
  const oneAtATime = async (kinds: readonly Kind[]): Promise<Answer[]> => {
    const held = new Map<string, string>();
    const out: Answer[] = [];
    for (const k of kinds) {
      const own = caseOf(k);
      const commandId = k.value.meta?.commandId ?? '';
      const holdsIt = (id: string) => held.has(id) && !(id === own && held.get(id) === commandId);
      if ([own, lineOf(k)].some(holdsIt)) {
        out.push({ accepted: false, code: status.ABORTED, duplicate: false, version: 0 });
        continue;
      }
      try {
        const r = await call(k);
        if (held.get(own) === commandId) held.delete(own);
        out.push({ accepted: true, code: status.OK, duplicate: r.duplicate, version: r.version });
      } catch (e) {
        const code = (e as ServiceError).code;
        if (code === status.ABORTED) held.set(own, commandId);
        else if (held.get(own) === commandId) held.delete(own);
        out.push({ accepted: false, code, duplicate: false, version: 0 });
      }
    }
    return out;
  };

  const throughStream = async (kinds: readonly Kind[]) => {
    const acks = await submitAll(
      svc.client,
      md,
      kinds.map((kind, i) => ({ sequence: i + 1, command: { kind } })),
    );
    const bySequence = new Map(acks.map((a) => [a.sequence, a]));
    return kinds.map((_, i) => ofAck(bySequence.get(i + 1)));
  };

  /**
   * Publishes `kinds` to the ingress; with `restart`, once that many are
   * answered, its instance stops (or is killed: `abrupt`) and another takes
   * the partitions. A submission read again is answered again: accepted
   * or refused as it was the first time (a command stored the first time is
   * then a duplicate, at the version it brought its case to).
   */
  const throughIngress = async (
    kinds: readonly Kind[],
    prefix: string,
    restart?: { after: number; abrupt: boolean },
  ) => {
    await producer.send({
      topic: svc.topics.intakeSubmissions,
      messages: kinds.map((kind, i) => ({
        key: lineOf(kind),
        value: JSON.stringify(
          intake.SubmitEventsRequest.toJSON({ sequence: i + 1, command: { kind } }),
        ),
        headers: { authorization: String(md.get('authorization')[0]) },
      })),
    });
    const mine = () => receipts.filter((r) => r.caseId.startsWith(prefix));
    const answered = (n: number) =>
      eventually(() => (new Set(mine().map((r) => r.sequence)).size >= n ? true : undefined), {
        timeoutMs: 90_000,
        what: `receipts of ${n} submissions`,
      });
    if (restart) {
      await answered(Math.min(restart.after, kinds.length));
      if (restart.abrupt) {
        reader.client.close();
        await reader.service.kill();
      } else await reader.stop();
      reader = await startReader();
    }
    await answered(kinds.length);
    const all = mine();
    return kinds.map((_, i) => {
      const [first, ...again] = all.filter((r) => r.sequence === i + 1).map(ofAck);
      const outcome = (a: Answer | undefined) => [a?.accepted, a?.code, a?.version];
      for (const a of again)
        expect(outcome(a), `submission ${i + 1} read again`).toEqual(outcome(first));
      return first;
    });
  };

  const historiesOf = async (ids: readonly string[], prefix: string) =>
    Promise.all(
      ids.map(async (id) => {
        try {
          const r = await unary<intake.GetCaseResponse>((cb) =>
            svc.client.getCase({ caseId: id }, md, cb),
          );
          // Named without the run's own prefix, so that the runs compare.
          return r.history.map((e) => [
            e.version,
            e.payload?.$case,
            e.commandId.slice(prefix.length),
          ]);
        } catch (e) {
          return (e as ServiceError).code;
        }
      }),
    );

  it(
    'answer every item and leave every history as one call at a time, in order, does',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          sequences,
          fc.option(fc.record({ after: fc.nat({ max: 30 }), abrupt: fc.boolean() }), {
            freq: 2,
          }),
          async (seq, restart) => {
            const run = uniqueName('lines');
            const as = (how: string) => {
              const prefix = `${run}-${how}-`;
              const ids = Array.from({ length: CASES }, (_, k) => `${prefix}c${k}`);
              const kinds = seq.map(({ k, step: s }) => commandOf(ids[k] ?? '', s));
              return { prefix, kinds, ids: ids.flatMap((id) => [id, `${id}-rv`]) };
            };
            const [u, s, i] = [as('u'), as('s'), as('i')];
            const expected = await oneAtATime(u.kinds);
            const [viaStream, viaIngress] = await Promise.all([
              throughStream(s.kinds),
              throughIngress(i.kinds, i.prefix, restart ?? undefined),
            ]);
            const steps = seq.map((x) => `${x.k}:${x.step}`);
            const named = (answers: readonly (Answer | undefined)[]) =>
              answers.map((a, n) => [steps[n], a]);
            expect(named(viaStream), 'the stream').toEqual(named(expected));
            // A command run before the restart whose receipt had not gone out
            // is answered by the next instance (receipts go at least once): a
            // duplicate, at the version it brought its case to. Only the
            // duplicate flag may differ from the oracle's answer.
            const fromIngress = viaIngress.map((got, n) =>
              restart && got?.duplicate
                ? { ...got, duplicate: expected[n]?.duplicate ?? false }
                : got,
            );
            expect(named(fromIngress), 'the ingress').toEqual(named(expected));
            const plain = await historiesOf(u.ids, u.prefix);
            expect(await historiesOf(s.ids, s.prefix), 'the stream').toEqual(plain);
            expect(await historiesOf(i.ids, i.prefix), 'the ingress').toEqual(plain);
          },
        ),
        // A run with a restart takes up to 10 s: shrinking would outlast the test.
        { numRuns: RUNS, endOnFailure: true },
      );
      // A restart takes up to about 10 s.
    },
    120_000 + RUNS * 20_000,
  );
});
