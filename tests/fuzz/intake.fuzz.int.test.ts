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
          {
            meta: { commandId: `${caseId}:1`, caseId },
            agencyId: 'lz-eeb',
            district: '柳南区',
            domain: events.Domain.DOMAIN_ENVIRONMENT,
            violationCode: 'ENV-AIR-001',
            legalBasis: '第九十九条',
            source: events.CaseSource.CASE_SOURCE_INSPECTION,
            parties: [
              { kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: '某公司', identifier: '' },
            ],
            title: '见证',
            major: false,
          },
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
