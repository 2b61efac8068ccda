import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Client, credentials, status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { create, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { events, intake } from '@enforcement/contracts';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { checkHealth, requestTypeOf } from '@enforcement/grpc-kit';
import { namespaced } from '@enforcement/messaging';
import { eventually, serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';

/** Runs per property: a fast subset in npm test, many more with `npm run fuzz` (FUZZ_RUNS). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 15);
/** Inputs tried per property, for the report `npm run fuzz` writes. */
const tried = new Map<string, { inputs: number; ms: number; result: string }>();
/** Runs a property and notes it for the report, failed as well as passed. */
const counted = async (name: string, work: () => Promise<void>) => {
  const t0 = Date.now();
  let result = 'FAILED';
  try {
    await work();
    result = 'passed';
  } finally {
    const t = tried.get(name) ?? { inputs: 0, ms: 0, result };
    tried.set(name, t);
    t.ms += Date.now() - t0;
    t.result = result;
  }
};
const tally = (name: string) => {
  const t = tried.get(name) ?? { inputs: 0, ms: 0, result: 'running' };
  t.inputs++;
  tried.set(name, t);
};
const SERVICE = '/enforcement.intake.v1.CaseIntakeService';
const desc = (m: string): DescMessage => {
  const d = requestTypeOf(`${SERVICE}/${m}`);
  if (!d) throw new Error(m);
  return d;
};

/** Statuses a bad request may get; INTERNAL, UNKNOWN or a dropped connection never. */
const ANSWERS = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.FAILED_PRECONDITION,
  status.ALREADY_EXISTS,
  status.ABORTED,
  status.NOT_FOUND,
  status.PERMISSION_DENIED,
  status.RESOURCE_EXHAUSTED,
]);

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', 'lz-eeb', '柳南区', 'ENV-AIR-001', '\u0000', 'a'.repeat(300)),
);
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(0n, 1n, -1n, 2n ** 53n, 2n ** 62n),
);
const timestamp = fc.record({
  seconds: fc.oneof(
    fc.bigInt({ min: -62_135_596_900n, max: 253_402_300_900n }),
    fc.bigInt({ min: 1_500_000_000n, max: 1_800_000_000n }),
  ),
  nanos: fc.oneof(fc.integer({ min: -2e9, max: 2e9 }), fc.integer({ min: 0, max: 999_999_999 })),
});
const meta = fc.record(
  {
    commandId: text,
    caseId: text,
    expectedVersion: fc.option(int64, { nil: undefined }),
    occurredAt: fc.option(timestamp, { nil: undefined }),
  },
  { requiredKeys: ['commandId', 'caseId'] },
);

/** RegisterCase shapes, from plausible to absurd, built from the descriptors. */
const registerCase = fc.record({
  meta,
  agencyId: fc.oneof(text, fc.constant('lz-eeb')),
  district: text,
  domain: fc.integer({ min: -5, max: 12 }),
  violationCode: fc.oneof(text, fc.constant('ENV-AIR-001')),
  legalBasis: text,
  source: fc.integer({ min: -1, max: 9 }),
  parties: fc.array(
    fc.record({ kind: fc.integer({ min: -1, max: 4 }), name: text, identifier: text }),
    { maxLength: 3 },
  ),
  title: text,
  major: fc.boolean(),
});
const decidePenalty = fc.record({
  meta,
  violationCode: text,
  grade: fc.integer({ min: -1, max: 6 }),
  fineFen: int64,
  grounds: text,
  otherMeasures: fc.array(text, { maxLength: 3 }),
});

/** A plain registration of `caseId` in lz-eeb. */
const registration = (caseId: string): intake.RegisterCaseRequest => ({
  meta: { commandId: '', caseId },
  agencyId: 'lz-eeb',
  district: '柳南区',
  domain: events.Domain.DOMAIN_ENVIRONMENT,
  violationCode: 'ENV-AIR-001',
  legalBasis: '第九十九条',
  source: events.CaseSource.CASE_SOURCE_INSPECTION,
  parties: [{ kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: '某公司', identifier: '' }],
  title: '',
  major: false,
});

/**
 * Inputs nobody chose: random bytes and random field values, into unary
 * calls, a SubmitEvents stream and the Kafka ingress. Whatever comes in:
 * every item is answered, no answer is INTERNAL, the service stays SERVING,
 * and what was accepted before is unchanged.
 */
describe('fuzzing intake', () => {
  let svc: CaseIntake;
  let client: Client;
  let typed: intake.CaseIntakeServiceClient;
  let agency: Metadata;
  const run = uniqueName('fuzz');
  const topics = namespaced(run);
  const witnesses: { caseId: string; head: string }[] = [];

  beforeAll(async () => {
    svc = await createCaseIntake(
      loadIntakeConfig({
        ...serviceEnv(run),
        MONGODB_DB: run.replace(/-/g, '_'),
        TOPIC_NAMESPACE: run,
        EVENT_STORE_BUCKETS: '8',
        CASE_EVENTS_PARTITIONS: '3',
      }),
      { log: () => undefined },
    );
    client = new Client(svc.address, credentials.createInsecure());
    typed = new intake.CaseIntakeServiceClient(svc.address, credentials.createInsecure());
    agency = await tokenFor(['agency'], ['*']);
    // Cases accepted before the fuzzing: their histories must not move.
    for (let i = 0; i < 3; i++) {
      const caseId = uniqueName('witness');
      const r = await unary<intake.CommandResult>((cb) =>
        typed.registerCase(
          { ...registration(caseId), meta: { commandId: `${caseId}:1`, caseId }, title: '见证' },
          agency,
          cb,
        ),
      );
      witnesses.push({ caseId, head: r.events.at(-1)?.hash ?? '' });
    }
  });
  afterAll(async () => {
    client?.close();
    typed?.close();
    await svc?.stop();
    const out = process.env.FUZZ_REPORT;
    if (out) {
      const rows = [...tried].map(
        ([name, t]) => `| ${name} | ${t.inputs} | ${(t.ms / 1000).toFixed(1)} s | ${t.result} |`,
      );
      writeFileSync(
        out,
        [
          `# Fuzz results`,
          '',
          `\`npm run fuzz\` (FUZZ_RUNS=${RUNS}) at ${process.env.GIT_COMMIT ?? 'unknown commit'}, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores.`,
          '',
          '| property | inputs | time | result |',
          '| --- | --- | --- | --- |',
          ...rows,
          '',
        ].join('\n'),
      );
    }
  });

  const rawUnary = (method: string, bytes: Uint8Array) =>
    new Promise<number>((resolve) =>
      client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        agency,
        { deadline: Date.now() + 10_000 },
        (err: ServiceError | null) => resolve(err ? err.code : status.OK),
      ),
    );

  it('answers random field values in unary calls with a status naming the problem, never INTERNAL', async () => {
    await counted('unary calls with random field values', () =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(
            registerCase.map((v) => ['RegisterCase', v] as const),
            decidePenalty.map((v) => ['DecidePenalty', v] as const),
          ),
          async ([method, value]) => {
            tally('unary calls with random field values');
            const bytes = toBinary(desc(method), create(desc(method), value as never));
            expect(ANSWERS).toContain(await rawUnary(method, bytes));
          },
        ),
        { numRuns: RUNS * 4 },
      ),
    );
  });

  it('answers random bytes in unary calls with INVALID_ARGUMENT or a domain refusal, never INTERNAL', async () => {
    await counted('unary calls with random bytes', () =>
      fc.assert(
        fc.asyncProperty(
          fc.constantFrom('RegisterCase', 'DecidePenalty', 'GetCase', 'VerifyCase'),
          fc.uint8Array({ maxLength: 600 }),
          async (method, bytes) => {
            tally('unary calls with random bytes');
            expect(ANSWERS).toContain(await rawUnary(method, bytes));
          },
        ),
        { numRuns: RUNS * 4 },
      ),
    );
  });

  it('answers every item of a SubmitEvents stream mixing random bytes and commands, in order', async () => {
    await counted('SubmitEvents streams of random bytes and commands', () =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)),
              registerCase.map((v) =>
                Buffer.from(
                  toBinary(
                    desc('SubmitEvents'),
                    create(desc('SubmitEvents'), {
                      sequence: 7n,
                      command: { kind: { case: 'registerCase', value: v } },
                    } as never),
                  ),
                ),
              ),
            ),
            { minLength: 1, maxLength: 30 },
          ),
          async (items) => {
            tally('SubmitEvents streams of random bytes and commands');
            const acks: intake.SubmitEventsResponse[] = [];
            await new Promise<void>((resolve, reject) => {
              const call = client.makeBidiStreamRequest(
                `${SERVICE}/SubmitEvents`,
                (b: Buffer) => b,
                (b: Buffer) => intake.SubmitEventsResponse.decode(b),
                agency,
                { deadline: Date.now() + 30_000 },
              );
              call.on('data', (a: intake.SubmitEventsResponse) => acks.push(a));
              call.on('error', reject);
              call.on('end', () => resolve());
              for (const b of items) call.write(b);
              call.end();
            });
            expect(acks.map((a) => a.index)).toEqual(items.map((_, i) => i + 1));
            for (const a of acks) {
              expect(ANSWERS).toContain(a.accepted ? status.OK : a.statusCode);
              expect(a.errorCode).not.toBe('INTERNAL');
            }
          },
        ),
        { numRuns: RUNS },
      ),
    );
  });

  it('answers every random message on the ingress topic with a receipt or a dead letter', async () => {
    const kafka = new Kafka({
      clientId: run,
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    const token = String(agency.get('authorization')[0]);
    const sent = await fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.jsonValue().map((j) => Buffer.from(JSON.stringify(j))),
        registerCase.map((v) =>
          Buffer.from(
            toBinary(
              desc('SubmitEvents'),
              create(desc('SubmitEvents'), {
                sequence: 1n,
                command: { kind: { case: 'registerCase', value: v } },
              } as never),
            ),
          ),
        ),
      ),
      { numRuns: RUNS * 4 },
    );
    // In requests of at most 500 messages, as a feed would send them.
    for (let i = 0; i < sent.length; i += 500)
      await producer.send({
        topic: topics.intakeSubmissions,
        messages: sent.slice(i, i + 500).map((value, j) => ({
          key: `k${(i + j) % 5}`,
          value,
          headers: {
            authorization: token,
            ...((i + j) % 3 === 0 ? { 'content-type': 'application/x-protobuf' } : {}),
          },
        })),
      });
    await producer.disconnect();
    const count = async (topic: string) => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        return (await admin.fetchTopicOffsets(topic)).reduce((a, p) => a + Number(p.high), 0);
      } finally {
        await admin.disconnect();
      }
    };
    const t0 = Date.now();
    await eventually(
      async () =>
        (await count(topics.intakeReceipts)) + (await count(topics.intakeDeadLetter)) >= sent.length
          ? true
          : undefined,
      { timeoutMs: 60_000, what: `${sent.length} receipts and dead letters` },
    );
    tried.set('ingress messages (bytes, JSON, commands)', {
      inputs: sent.length,
      ms: Date.now() - t0,
      result: 'passed',
    });
  });

  // The loop's steps, each dated at random within 40 minutes, and the steps
  // each must not precede (docs/intake.md): an oracle written from the docs,
  // not from intake's code. `other`: a step of another party, whose clock
  // may differ by 5 minutes.
  const SKEW = 5 * 60_000;
  const loop = (
    caseId: string,
  ): { name: string; follows: string[]; other: boolean; kind: intake.Command['kind'] }[] => {
    const m = { commandId: '', caseId };
    // A progress step follows the registration only.
    const progress = (name: string, step: intake.RecordProgressRequest['step']) => ({
      name,
      follows: ['register'],
      other: false,
      kind: { $case: 'recordProgress' as const, value: { meta: m, step } },
    });
    return [
      {
        name: 'register',
        follows: [],
        other: false,
        kind: {
          $case: 'registerCase',
          value: registration(caseId),
        },
      },
      {
        name: 'dispatch',
        follows: ['register'],
        other: false,
        kind: {
          $case: 'dispatchCase',
          value: {
            meta: m,
            unitId: 'lz-eeb-u1',
            officers: [
              { officerId: 'o1', name: '甲', credentialNo: '1' },
              { officerId: 'o2', name: '乙', credentialNo: '2' },
            ],
          },
        },
      },
      progress('notice', {
        $case: 'notice',
        value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 30_000_000 },
      }),
      progress('hearing', {
        $case: 'hearing',
        value: { presidedBy: '', summary: '', waived: true },
      }),
      {
        name: 'decide',
        follows: ['register', 'dispatch'],
        other: false,
        kind: {
          $case: 'decidePenalty',
          value: {
            meta: m,
            violationCode: 'ENV-AIR-001',
            grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
            fineFen: 30_000_000,
            grounds: '',
            otherMeasures: [],
          },
        },
      },
      {
        name: 'conclude',
        follows: ['register', 'dispatch', 'decide'],
        other: false,
        kind: {
          $case: 'concludeCase',
          value: { meta: m, conclusion: events.Conclusion.CONCLUSION_PENALIZED, summary: '' },
        },
      },
      {
        name: 'evaluate',
        follows: ['register', 'conclude'],
        other: true,
        kind: {
          $case: 'recordEvaluation',
          value: {
            meta: m,
            score: 90,
            modelVersion: 'fuzz',
            indicators: [
              {
                indicator: 'overall',
                points: 90,
                maxPoints: 100,
                reasons: [],
                eventIds: [],
                reasonDetails: [],
              },
            ],
          },
        },
      },
      {
        name: 'archive',
        follows: ['*'],
        other: true,
        kind: { $case: 'archiveCase', value: { meta: m } },
      },
    ];
  };

  it('takes a case’s steps dated at random exactly when none precedes a step it follows', async () => {
    const both = await tokenFor(['agency', 'supervisor'], ['*']);
    const base = Date.now() - 30 * 86_400_000;
    await counted('a case’s steps dated at random, through SubmitEvents', () =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 8, maxLength: 8 }),
          async (minutes) => {
            tally('a case’s steps dated at random, through SubmitEvents');
            const caseId = uniqueName('dated');
            const steps = loop(caseId);
            const at = (i: number) => new Date(base + (minutes[i] ?? 0) * 60_000);
            const items = steps.map((step, i) => {
              const kind = step.kind;
              if (!kind) throw new Error(step.name);
              const value = {
                ...kind.value,
                meta: { commandId: `${caseId}:${i}`, caseId, occurredAt: at(i) },
              };
              return { sequence: i + 1, command: { kind: { ...kind, value } as typeof kind } };
            });
            const acks = await new Promise<intake.SubmitEventsResponse[]>((resolve, reject) => {
              const got: intake.SubmitEventsResponse[] = [];
              const call = typed.submitEvents(both, { deadline: Date.now() + 30_000 });
              call.on('data', (a: intake.SubmitEventsResponse) => got.push(a));
              call.on('error', reject);
              call.on('end', () => resolve(got));
              for (const item of items) call.write(item);
              call.end();
            });
            expect(acks).toHaveLength(steps.length);
            const taken = new Map<string, number>();
            let lost = false;
            for (const [i, step] of steps.entries()) {
              const a = acks[i];
              const when = at(i).getTime();
              const bounds = step.follows.flatMap((f) =>
                f === '*' ? [...taken.values()] : (taken.get(f) ?? []),
              );
              const inTime =
                when >= (taken.get('register') ?? -Infinity) &&
                bounds.every((b) => when >= b - (step.other ? SKEW : 0));
              if (a?.accepted) taken.set(step.name, when);
              if (lost) {
                // A step the loop lost: every later one is refused.
                expect(a?.accepted, step.name).toBe(false);
              } else if (inTime) {
                expect([step.name, a?.accepted, a?.errorCode]).toEqual([step.name, true, '']);
              } else {
                expect([step.name, a?.statusCode, a?.errorCode]).toEqual([
                  step.name,
                  status.INVALID_ARGUMENT,
                  when < (taken.get('register') ?? -Infinity)
                    ? 'TIME.BEFORE_REGISTRATION'
                    : 'TIME.BEFORE_PREVIOUS_STEP',
                ]);
                lost = true;
              }
            }
          },
        ),
        { numRuns: RUNS },
      ),
    );
  });

  it('stays SERVING, and every history accepted before is unchanged', async () => {
    expect(await checkHealth(svc.address)).toBe('SERVING');
    for (const w of witnesses) {
      const v = await unary<intake.VerifyCaseResponse>((cb) =>
        typed.verifyCase({ caseId: w.caseId }, agency, cb),
      );
      expect(v).toMatchObject({ valid: true, eventCount: 1, headHash: w.head });
    }
  });
});
