import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { DeliveryCheck, partitionOfKey, UndeliveredError } from '@enforcement/messaging';
import { PrivateStack } from '../support/private-stack.js';

const PARTITIONS = 12;
const TOPIC = 'lost-send';
const FROZEN_MS = 20_000;

/**
 * kafkajs 2.2.4 on a real 3-broker cluster (replication factor 3,
 * min.insync.replicas 2): one send of messages for every partition while
 * the leader of some of them is frozen (SIGSTOP, its connections open).
 * Its request times out and is sent to it again (kafkajs keeps its
 * metadata) until, unfrozen, it answers that it leads no more; kafkajs then
 * reads the new leaders, which already answered for their own partitions,
 * sends nothing more, and resolves. `DeliveryCheck` must name the frozen
 * broker's partitions as not delivered; the others' messages are on the
 * topic. This is what intake's relay, its marks and scoring's live updates
 * rely on (`DeliveryCheck` in packages/messaging).
 */
describe("a send kafkajs answers while a broker's partitions change leader", () => {
  let stack: PrivateStack;
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'enforcement-lost-send-'));
    stack = new PrivateStack(home, {
      kafka: 30592,
      kafkaController: 30593,
      ferretdb: 27557,
      ferretdbDebug: 18618,
      brokers: 3,
    });
    await stack.up();
  }, 300_000);

  afterAll(async () => {
    for (let node = 1; node <= 3; node++) stack?.freezeBroker(node, false);
    await stack?.down();
    if (home) await rm(home, { recursive: true, force: true });
  }, 120_000);

  it('is found short by the partitions it never wrote; what it did write is on the topic', async () => {
    const kafka = new Kafka({
      clientId: 'lost-send',
      brokers: stack.brokers,
      logLevel: logLevel.NOTHING,
      requestTimeout: 5_000,
      retry: { retries: 10, initialRetryTime: 300, maxRetryTime: 2_000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }],
    });
    const [meta] = (await admin.fetchTopicMetadata({ topics: [TOPIC] })).topics;
    const leaderOf = new Map(meta?.partitions.map((p) => [p.partitionId, p.leader]) ?? []);
    await admin.disconnect();

    // A key for every partition, so the send goes to all three brokers.
    const keys = new Map<number, string>();
    for (let i = 0; keys.size < PARTITIONS; i++) {
      const key = `LZ2021-${String(i).padStart(6, '0')}`;
      if (!keys.has(partitionOfKey(key, PARTITIONS)))
        keys.set(partitionOfKey(key, PARTITIONS), key);
    }
    const check = new DeliveryCheck();
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: check.createPartitioner,
    });
    await producer.connect();
    const messagesOf = (round: string): Message[] =>
      [...keys.values()].map((key) => ({ key, value: `${round}:${key}` }));
    // Connections to every broker open, metadata read.
    const warm = messagesOf('warm');
    check.verify(
      [{ topic: TOPIC, messages: warm }],
      await producer.send({ topic: TOPIC, acks: -1, messages: warm }),
    );

    // Node n of the stack is broker id n.
    const node = leaderOf.get(0) ?? 1;
    const frozenPartitions = [...leaderOf].filter(([, l]) => l === node).map(([p]) => p);
    stack.freezeBroker(node, true);
    const thaw = setTimeout(() => stack.freezeBroker(node, false), FROZEN_MS);
    const messages = messagesOf('frozen');
    let outcome: unknown = 'delivered';
    try {
      check.verify(
        [{ topic: TOPIC, messages }],
        await producer.send({ topic: TOPIC, acks: -1, messages }),
      );
    } catch (e) {
      outcome = e;
    } finally {
      clearTimeout(thaw);
      stack.freezeBroker(node, false);
    }
    await producer.disconnect();

    // What the topic holds of the send, by partition.
    const consumer = kafka.consumer({ groupId: `lost-send-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
    const written = new Set<number>();
    let seen = 0;
    let lastSeenAt = Date.now();
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen++;
        lastSeenAt = Date.now();
        if (String(message.value).startsWith('frozen:')) written.add(partition);
      },
    });
    // Read until the warm-up is in and nothing more has come for 5 s.
    const deadline = Date.now() + 60_000;
    while ((seen < PARTITIONS || Date.now() - lastSeenAt < 5_000) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 500));
    await consumer.disconnect();

    const lost = [...keys.keys()].filter((p) => !written.has(p)).sort((a, b) => a - b);
    // kafkajs resolved the send with the frozen leader's partitions unwritten,
    // and the check said so, naming exactly those.
    expect(lost.length, 'partitions of the send not on the topic').toBeGreaterThan(0);
    expect(frozenPartitions).toEqual(expect.arrayContaining(lost));
    expect(outcome).toBeInstanceOf(UndeliveredError);
    expect(outcome).toMatchObject({ topic: TOPIC, partitions: lost });
  }, 240_000);
});
