import {
  Partitioners,
  type ICustomPartitioner,
  type PartitionerArgs,
  type RecordMetadata,
  type TopicMessages,
} from 'kafkajs';
import { partitionOfKey } from './partitioner.js';

/**
 * Part of a send that Kafka never took, though kafkajs answered it: the
 * caller sends it again (consumers drop a duplicate by its version).
 */
export class UndeliveredError extends Error {
  readonly retriable = true;
  constructor(
    readonly topic: string,
    readonly partitions: readonly number[],
  ) {
    super(
      `${topic}: kafkajs reported the send done, but ${partitions.length > 0 ? `partition(s) ${partitions.join(', ')} gave no answer` : 'no partition answered'}`,
    );
    this.name = 'UndeliveredError';
  }
}

/**
 * Checks that a send reached every partition it was for.
 *
 * kafkajs 2.2.4 (`producer/sendMessages.js`) keeps a send's answers by
 * broker and, retrying, sends only to brokers with no answer yet. When a
 * request to one broker times out (the broker frozen, a network that stopped
 * delivering) and its partitions' leadership moves to a broker that has
 * already answered for its own partitions, the retry sends those partitions
 * nowhere and the send resolves as if they were written: the messages are
 * lost without an error (seen in the fault suite with one of three brokers
 * frozen: 17 stored versions never reached the topic). A send's answer has
 * one entry per partition written, so the partitions missing from it are the
 * ones lost.
 *
 * Use `createPartitioner` for the producer (kafkajs's default partitioner,
 * noting each topic's partition count), then `verify` each answer.
 */
export class DeliveryCheck {
  private readonly counts = new Map<string, number>();

  readonly createPartitioner: ICustomPartitioner = () => {
    const inner = Partitioners.DefaultPartitioner();
    return (args: PartitionerArgs) => {
      this.counts.set(args.topic, args.partitionMetadata.length);
      return inner(args);
    };
  };

  /**
   * Throws an UndeliveredError naming the partitions a keyed (or placed)
   * message went to that the answer lacks. A message with neither key nor
   * partition goes where kafkajs's round robin put it: the topic must only
   * appear in the answer.
   */
  verify(sent: readonly TopicMessages[], answer: readonly RecordMetadata[]): void {
    for (const { topic, messages } of sent) {
      if (messages.length === 0) continue;
      const answered = new Set(answer.filter((r) => r.topicName === topic).map((r) => r.partition));
      const count = this.counts.get(topic);
      const missing = new Set<number>();
      for (const { partition: placed, key } of messages) {
        const partition =
          placed ??
          (key !== null && key !== undefined && count !== undefined
            ? partitionOfKey(key, count)
            : undefined);
        if (partition !== undefined && !answered.has(partition)) missing.add(partition);
      }
      // Every message goes somewhere: a topic with none answered lost them all.
      if (missing.size > 0 || answered.size === 0)
        throw new UndeliveredError(
          topic,
          [...missing].sort((a, b) => a - b),
        );
    }
  }
}
