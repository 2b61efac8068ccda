import { describe, expect, it } from 'vitest';
import type { Message, RecordMetadata } from 'kafkajs';
import { DeliveryCheck, UndeliveredError } from './delivery.js';
import { partitionMetadata, partitionOfKey } from './partitioner.js';

/** A check whose partitioner kafkajs has called for `topic` with `count` partitions. */
function checkOf(topic: string, count: number): DeliveryCheck {
  const check = new DeliveryCheck();
  check.createPartitioner()({
    topic,
    partitionMetadata: partitionMetadata(count, 1),
    message: { key: 'any', value: null },
  });
  return check;
}

const answer = (topic: string, partitions: number[]): RecordMetadata[] =>
  partitions.map((partition) => ({ topicName: topic, partition, errorCode: 0, baseOffset: '0' }));

describe("a send's answer checked against the partitions it was for", () => {
  const keys = ['LZ2021-000001', 'LZ2021-000002', 'LZ2021-000003', 'LZ2021-000004'];
  const messages: Message[] = keys.map((key) => ({ key, value: 'e' }));
  const partitions = [...new Set(keys.map((k) => partitionOfKey(k, 12)))].sort((a, b) => a - b);

  it('passes when every partition the keyed messages went to answered', () => {
    expect(partitions.length).toBeGreaterThan(1);
    const check = checkOf('events', 12);
    expect(() =>
      check.verify([{ topic: 'events', messages }], answer('events', partitions)),
    ).not.toThrow();
  });

  it('fails naming the partitions missing from the answer, as when kafkajs sent them nowhere', () => {
    const check = checkOf('events', 12);
    const [lost, ...kept] = partitions;
    const err = (() => {
      try {
        check.verify([{ topic: 'events', messages }], answer('events', kept));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UndeliveredError);
    expect(err).toMatchObject({ topic: 'events', partitions: [lost], retriable: true });
    expect((err as Error).message).toBe(
      `events: kafkajs reported the send done, but partition(s) ${lost} gave no answer`,
    );
  });

  it('checks each topic of a batch, and a message placed on a partition by hand', () => {
    const check = checkOf('events', 12);
    const heads: Message[] = [{ key: 'LZ2021-000001', value: 'h', partition: 5 }];
    const sent = [
      { topic: 'events', messages },
      { topic: 'heads', messages: heads },
    ];
    expect(() => check.verify(sent, answer('events', partitions))).toThrow(
      'heads: kafkajs reported the send done, but partition(s) 5 gave no answer',
    );
    expect(() =>
      check.verify(sent, [...answer('events', partitions), ...answer('heads', [5])]),
    ).not.toThrow();
  });

  it('fails a topic none of whose messages was answered, keyed or not; an empty one needs none', () => {
    const check = new DeliveryCheck();
    expect(() =>
      check.verify([{ topic: 'marks', messages: [{ value: 'm' }] }], answer('events', [0])),
    ).toThrow('marks: kafkajs reported the send done, but no partition answered');
    expect(() => check.verify([{ topic: 'marks', messages: [] }], [])).not.toThrow();
  });
});
