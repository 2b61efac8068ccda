import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { encodeFeedMark, ensureTopics } from '@enforcement/messaging';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { KafkaFeedMarks } from './feed-marks.js';

describe("scoring's reader of intake's feed marks", () => {
  const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const topic = uniqueName('feed-marks');
  const groupBase = uniqueName('marks-reader');
  let admin: Admin;
  let producer: Producer;

  beforeAll(async () => {
    await ensureTopics(kafka, [
      { topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
    ]);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer();
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  it('keeps each feed’s highest mark, skips what is not a mark without stopping, follows the topic, and leaves no group behind (its own, or one of a reader killed before)', async () => {
    const mark = (feed: string, before: number) => encodeFeedMark({ feed, before });
    await producer.send({
      topic,
      messages: [
        mark('lz-eeb|1', 100),
        { key: 'lz-eeb|1', value: 'not a mark' },
        { key: 'x', value: JSON.stringify({ feed: 'no-case-type', before: 5 }) },
        mark('lz-eeb|1', 50),
        mark('lz-psb|2', 7),
      ],
    });
    // What a reader killed with kill -9 leaves: a group with no member.
    const orphan = `${groupBase}.feed-marks.killed`;
    await admin.setOffsets({ groupId: orphan, topic, partitions: [{ partition: 0, offset: '0' }] });
    const mine = async () =>
      (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(groupBase));
    expect((await mine()).map((g) => g.groupId)).toEqual([orphan]);
    const logged: string[] = [];
    const reader = new KafkaFeedMarks(kafka, topic, groupBase, (m) => logged.push(m));
    await reader.start();
    expect((await mine()).map((g) => g.groupId)).not.toContain(orphan);
    try {
      const read = () => JSON.stringify([...reader.snapshot()].sort());
      const want = JSON.stringify([
        ['lz-eeb|1', 100],
        ['lz-psb|2', 7],
      ]);
      expect(
        await eventually(async () => (read() === want ? true : undefined), {
          what: 'the marks read',
        }).catch(() => read()),
      ).toBe(true);
      expect(reader.skippedRecords).toBe(2);
      expect(logged.join('\n')).toMatch(/not JSON/);
      expect(logged.join('\n')).toMatch(/feed: not/);
      await expect(reader.health()).resolves.toBe(true);

      await producer.send({ topic, messages: [mark('lz-eeb|1', 200)] });
      await eventually(async () => (reader.snapshot().get('lz-eeb|1') === 200 ? true : undefined), {
        what: 'a mark published after the start',
      });
    } finally {
      await reader.stop();
    }
    await eventually(async () => ((await mine()).length === 0 ? true : undefined), {
      what: "the reader's group gone",
      timeoutMs: 30_000,
    });
  });
});
