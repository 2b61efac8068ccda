import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
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

  it('passes a near-1 MB malformed submission and one the dead letters refuse, and answers every one behind them', async () => {
    const producer = kafka().producer();
    await producer.connect();
    const json = (command: intake.Command, sequence: number) =>
      JSON.stringify(intake.SubmitEventsRequest.toJSON({ sequence, command }));
    const huge = Buffer.alloc(1_048_000, 0x7b); // '{{{{…': not JSON
    await producer.send({
      topic: topics.intakeSubmissions,
      messages: [
        { key: 'p0', partition: 0, value: huge, headers: { authorization: token } },
        {
          key: 'p1',
          partition: 1,
          value: Buffer.alloc(20_000, 0x7b),
          headers: { authorization: token },
        },
      ],
    });
    const loops = Array.from({ length: 7 }, () => fullLoop(uniqueName('after')));
    await producer.send({
      topic: topics.intakeSubmissions,
      messages: loops.map((l, i) => ({
        key: `k${i}`,
        partition: i % 3,
        value: json({ kind: { $case: 'registerCase', value: l.register } }, i + 1),
        headers: { authorization: token },
      })),
    });
    await producer.disconnect();

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
});
