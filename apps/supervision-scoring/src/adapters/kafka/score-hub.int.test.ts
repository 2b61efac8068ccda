import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { ensureTopics } from '@enforcement/messaging';
import { stack, uniqueName } from '@enforcement/testing';
import { KafkaScoreHub, WATCH_GROUP_PREFIX } from './score-hub.js';

describe('the live score hub leaves no consumer group behind', () => {
  const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const topic = uniqueName('scores');
  let admin: Admin;
  let producer: Producer;
  const errors: unknown[] = [];
  const groups = async () =>
    (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(WATCH_GROUP_PREFIX));

  beforeAll(async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  it('deletes its own group when it stops, and those of hubs killed before they could', async () => {
    // What a hub killed with kill -9 leaves: a group with offsets and no member.
    const orphan = `${WATCH_GROUP_PREFIX}${uniqueName('killed')}`;
    await admin.setOffsets({ groupId: orphan, topic, partitions: [{ partition: 0, offset: '0' }] });
    expect(await groups()).toContain(orphan);

    const hub = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
    await hub.start();
    const during = await groups();
    expect(during).not.toContain(orphan);
    expect(during).toContain(hub.groupId);

    // A second hub running beside it keeps its group: it has a member.
    const other = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
    await other.start();
    expect(await groups()).toEqual(expect.arrayContaining([hub.groupId, other.groupId]));

    await hub.stop();
    await other.stop();
    const after = await groups();
    expect(after).not.toContain(hub.groupId);
    expect(after).not.toContain(other.groupId);
    expect(errors).toEqual([]);
  });
});
