import { describe, expect, it } from 'vitest';
import { Kafka, Partitioners, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { ensureTopics, partitionOfKey } from '@enforcement/messaging';
import { eventually, stack, uniqueName } from '@enforcement/testing';

const kafka = () =>
  new Kafka({ clientId: 'infra-test', brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });

const createTopic = (topic: string, partitions: number) =>
  ensureTopics(kafka(), [{ topic, numPartitions: partitions }]);

interface Seen {
  partition: number;
  key: string;
  value: string;
  headers: Record<string, string>;
}

async function consumeInto(consumer: Consumer, topic: string, seen: Seen[]): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({ partition, key: String(message.key), value: String(message.value), headers });
    },
  });
}

describe('Kafka broker (real, via kafkajs)', () => {
  it('puts a keyed message on the partition partitionOfKey names (scoring leaves corrections there)', async () => {
    const topic = uniqueName('infra-partitioner');
    await createTopic(topic, 7);
    // As intake's relay produces.
    const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      const keys = Array.from(
        { length: 60 },
        (_, i) => `LZ2021-${String(i * 7919).padStart(6, '0')}`,
      );
      for (const key of keys) {
        const [meta] = await producer.send({ topic, messages: [{ key, value: 'x' }] });
        expect({ key, partition: meta?.partition }).toEqual({
          key,
          partition: partitionOfKey(key, 7),
        });
      }
    } finally {
      await producer.disconnect();
    }
  });

  it('carries keys and headers, and keeps per-key order through partitions', async () => {
    const topic = uniqueName('infra-order');
    await createTopic(topic, 6);
    const producer = kafka().producer({
      idempotent: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const keys = ['case-a', 'case-b', 'case-c', 'case-d'];
    for (let i = 1; i <= 50; i++) {
      await producer.send({
        topic,
        messages: keys.map((key) => ({
          key,
          value: `${key}:${i}`,
          headers: { 'event-type': 'CaseRegistered', seq: String(i) },
        })),
      });
    }
    await producer.disconnect();

    const seen: Seen[] = [];
    const consumer = kafka().consumer({ groupId: uniqueName('g') });
    await consumeInto(consumer, topic, seen);
    await eventually(() => (seen.length >= 200 ? true : undefined), { what: '200 messages' });
    await consumer.disconnect();

    expect(seen).toHaveLength(200);
    for (const key of keys) {
      const mine = seen.filter((s) => s.key === key);
      expect(mine.map((s) => Number(s.headers.seq))).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(new Set(mine.map((s) => s.partition)).size).toBe(1);
      expect(
        mine.every(
          (s) => s.value.startsWith(`${key}:`) && s.headers['event-type'] === 'CaseRegistered',
        ),
      ).toBe(true);
    }
  });

  it('resumes a consumer group from its committed offset after a restart', async () => {
    const topic = uniqueName('infra-resume');
    const groupId = uniqueName('group');
    await createTopic(topic, 2);
    const producer = kafka().producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: to - from + 1 }, (_, i) => ({
          key: `k${(from + i) % 3}`,
          value: String(from + i),
        })),
      });

    await send(1, 30);
    const first: Seen[] = [];
    const c1 = kafka().consumer({ groupId });
    await consumeInto(c1, topic, first);
    await eventually(() => (first.length >= 30 ? true : undefined), { what: 'first 30' });
    await c1.disconnect(); // commits what it processed

    await send(31, 45);
    const second: Seen[] = [];
    const c2 = kafka().consumer({ groupId });
    await consumeInto(c2, topic, second);
    await eventually(() => (second.length >= 15 ? true : undefined), { what: 'next 15' });
    // Give a redelivery of old messages the chance to show up before judging.
    await new Promise((r) => setTimeout(r, 1_000));
    await c2.disconnect();
    await producer.disconnect();

    expect(first.map((s) => Number(s.value)).sort((a, b) => a - b)).toEqual(range(1, 30));
    expect(second.map((s) => Number(s.value)).sort((a, b) => a - b)).toEqual(range(31, 45));
  });
});

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
