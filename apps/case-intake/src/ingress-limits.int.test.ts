import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type ConfigResourceTypes } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { ensureTopics, namespaced } from '@enforcement/messaging';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import { startIntake, tokenFor, type TestIntake } from './test-support/harness.js';

const kafka = () =>
  new Kafka({ clientId: 'agency-feed', brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });

async function read(topic: string, n: number) {
  const consumer = kafka().consumer({ groupId: uniqueName('r'), maxBytes: 8 << 20 });
  const got: { value: Buffer | null; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      got.push({ value: message.value, headers });
    },
  });
  await eventually(() => (got.length >= n ? true : undefined), {
    timeoutMs: 30_000,
    what: `${n} on ${topic}`,
  });
  await consumer.disconnect();
  return got;
}

/**
 * The ingress never dies for good: a submission as large as the topic
 * allows, and a dead-letter topic that refuses copies, are recorded and
 * passed; the submissions behind them on every partition get receipts.
 */
describe('the Kafka ingress at its limits', () => {
  let svc: TestIntake;
  let token = '';
  const topics = namespaced(uniqueName('ingress'));

  beforeAll(async () => {
    await ensureTopics(kafka(), [
      // A dead-letter topic stricter than the submissions topic.
      {
        topic: topics.intakeDeadLetter,
        numPartitions: 1,
        configEntries: [{ name: 'max.message.bytes', value: '8000' }],
      },
      { topic: topics.intakeSubmissions, numPartitions: 3 },
    ]);
    svc = await startIntake({ topics });
    token = (await tokenFor(['agency'], ['lz-eeb'])).get('authorization')[0] as string;
  });
  afterAll(() => svc?.stop());

  /** Sends these to the submissions topic, each with the agency's token. */
  const submit = async (messages: { key: string; partition: number; value: string | Buffer }[]) => {
    const producer = kafka().producer();
    await producer.connect();
    await producer.send({
      topic: topics.intakeSubmissions,
      messages: messages.map((m) => ({ ...m, headers: { authorization: token } })),
    });
    await producer.disconnect();
  };
  /** A registration as the ingress reads it: SubmitEvents item `sequence` as JSON. */
  const registration = (command: intake.RegisterCaseRequest, sequence: number) =>
    JSON.stringify(
      intake.SubmitEventsRequest.toJSON({
        sequence,
        command: { kind: { $case: 'registerCase', value: command } },
      }),
    );
  /** Three fresh cases' registrations on `partition`, keyed `<prefix><n>`, numbered from `from`: the ones behind another. */
  const behind = (prefix: string, partition: number, from: number) =>
    Array.from({ length: 3 }, (_, i) => ({
      key: `${prefix}${i}`,
      partition,
      value: registration(fullLoop(uniqueName('behind')).register, from + i),
    }));

  it('passes a near-1 MB malformed submission and one the dead letters refuse, and answers every one behind them', async () => {
    const huge = Buffer.alloc(1_048_000, 0x7b); // '{{{{…': not JSON
    await submit([
      { key: 'p0', partition: 0, value: huge },
      { key: 'p1', partition: 1, value: Buffer.alloc(20_000, 0x7b) },
    ]);
    const loops = Array.from({ length: 7 }, () => fullLoop(uniqueName('after')));
    await submit(
      loops.map((l, i) => ({
        key: `k${i}`,
        partition: i % 3,
        value: registration(l.register, i + 1),
      })),
    );

    const receipts = (await read(topics.intakeReceipts, 7)).map((r) =>
      intake.SubmitEventsResponse.fromJSON(JSON.parse(String(r.value))),
    );
    expect(receipts.filter((r) => r.accepted)).toHaveLength(7);
    const dead = await read(topics.intakeDeadLetter, 2);
    const bySize = new Map(dead.map((d) => [d.headers['original-size'], d]));
    const first = bySize.get('1048000');
    expect(first?.headers.truncated).toBe('true');
    expect(first?.headers['value-dropped']).toBe('true');
    expect(first?.value).toBeNull();
    expect(bySize.get('20000')?.headers['value-dropped']).toBe('true');
    for (const d of dead) expect(d.headers.authorization).toBeUndefined();
  });

  it('answers a valid submission whose key is near the topic limit, and the ones behind it on its partition', async () => {
    const big = fullLoop(uniqueName('big-key'));
    const hugeKey = 'k'.repeat(1_040_000);
    await submit([
      { key: hugeKey, partition: 2, value: registration(big.register, 100) },
      ...behind('b', 2, 101),
    ]);
    // Before, its receipt (keyed as submitted) was larger than the receipts
    // topic takes: the batch failed, and was read again, for good.
    const receipts = (await read(topics.intakeReceipts, 7 + 4))
      .map((r) => ({ ...intake.SubmitEventsResponse.fromJSON(JSON.parse(String(r.value))), r }))
      .filter((r) => r.sequence >= 100);
    expect(receipts.map((r) => [r.sequence, r.accepted]).sort()).toEqual([
      [100, true],
      [101, true],
      [102, true],
      [103, true],
    ]);
    const first = receipts.find((r) => r.sequence === 100);
    expect(first?.r.headers['key-truncated']).toBe('1040000');
  });

  // Until 2026-12-07 the record of its refusal took its ids as they came:
  // the store refused the write (PostgreSQL's jsonb takes no NUL), and the
  // ingress consumer crashed on it at every restart.
  it('answers a submission whose ids hold a NUL, refused naming the field, and the ones behind it on its partition', async () => {
    const bad = fullLoop(uniqueName('nul'));
    const nul = {
      ...bad.register,
      meta: { commandId: 'cmd\u0000', caseId: `${bad.register.meta.caseId}\u0000` },
    };
    await submit([
      { key: 'nul', partition: 0, value: registration(nul, 200) },
      ...behind('n', 0, 201),
    ]);
    const receipts = (await read(topics.intakeReceipts, 11 + 4))
      .map((r) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(r.value))))
      .filter((r) => r.sequence >= 200)
      .sort((a, b) => a.sequence - b.sequence);
    expect(receipts.map((r) => [r.sequence, r.accepted, r.statusCode])).toEqual([
      [200, false, 3],
      [201, true, 0],
      [202, true, 0],
      [203, true, 0],
    ]);
    expect(receipts[0]?.reason).toContain('meta.');
  });

  it('says NOT_SERVING, naming the partition, while no attempt gets past a submission, and SERVING once one does', async () => {
    // Receipts a topic refuses: every one is larger than it takes.
    const own = namespaced(uniqueName('stuck'));
    const admin = kafka().admin();
    await admin.connect();
    try {
      await ensureTopics(kafka(), [
        {
          topic: own.intakeReceipts,
          numPartitions: 1,
          configEntries: [{ name: 'max.message.bytes', value: '100' }],
        },
        { topic: own.intakeSubmissions, numPartitions: 2 },
      ]);
      const stuck = await startIntake({
        topics: own,
        env: { INGRESS_STALL_MS: '2000', HEALTH_CHECK_MS: '250' },
      });
      try {
        const producer = kafka().producer();
        await producer.connect();
        const l = fullLoop(uniqueName('stuck'));
        await producer.send({
          topic: own.intakeSubmissions,
          messages: [
            {
              key: 'k',
              partition: 1,
              value: JSON.stringify(
                intake.SubmitEventsRequest.toJSON({
                  sequence: 1,
                  command: { kind: { $case: 'registerCase', value: l.register } },
                }),
              ),
              headers: { authorization: token },
            },
          ],
        });
        await producer.disconnect();
        const failing = async () => {
          await stuck.service.readiness.check();
          return stuck.service.readiness.failing.get('ingress');
        };
        // Before, the ingress said it was running between the times kafkajs
        // gave its consumer up and the ingress replaced it, each reading the
        // batch again; nothing passed it.
        const stall = new RegExp(
          `has not got past offset 0 of ${own.intakeSubmissions} partition 1 for \\d+ s: .*larger than the max message size`,
        );
        const why = await eventually(
          async () => (stall.test((await failing()) ?? '') ? true : undefined),
          { what: 'the ingress to say it is stuck', timeoutMs: 60_000 },
        ).catch(failing);
        expect(why).toBe(true);
        // The topic takes receipts again: the submission is answered, and the ingress serves.
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: 2 as ConfigResourceTypes, // TOPIC (the enum is not an ESM export)
              name: own.intakeReceipts,
              configEntries: [{ name: 'max.message.bytes', value: '1048588' }],
            },
          ],
        });
        const [receipt] = await read(own.intakeReceipts, 1);
        expect(
          intake.SubmitEventsResponse.fromJSON(JSON.parse(String(receipt?.value))),
        ).toMatchObject({ sequence: 1, accepted: true });
        await eventually(async () => ((await failing()) === undefined ? true : undefined), {
          what: 'the ingress serving again',
          timeoutMs: 60_000,
        });
      } finally {
        await stuck.stop();
      }
    } finally {
      await admin.disconnect();
    }
  });
});
