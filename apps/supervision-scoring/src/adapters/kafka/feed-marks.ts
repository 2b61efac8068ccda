import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import {
  ConsumerHealth,
  decodeFeedMark,
  deleteGroups,
  memberlessGroups,
} from '@enforcement/messaging';

/**
 * The feed marks intake publishes (see FeedMark): each instance reads the
 * whole compacted topic, under a group of its own that commits nothing, and
 * keeps the highest mark of each feed. The group is deleted when the reader
 * stops; groups of readers killed before they could are deleted by the next
 * reader to start, once they have no member left. The rules' clock takes a feed's mark
 * as its latest floor (application/watermark.ts). A record that is not a mark
 * is logged and skipped: it never stops the reader.
 */
export class KafkaFeedMarks {
  private readonly marks = new Map<string, number>();
  private readonly consumer: Consumer;
  private readonly reading: ConsumerHealth;
  private readonly prefix: string;
  private readonly groupId: string;
  private skipped = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    groupBase: string,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {
    this.prefix = `${groupBase}.feed-marks.`;
    this.groupId = `${this.prefix}${randomUUID()}`;
    this.consumer = kafka.consumer({ groupId: this.groupId });
    this.reading = new ConsumerHealth((msg, e) => log(`feed marks: ${msg}`, e));
    this.reading.watch(this.consumer);
  }

  /** For readiness: rejects while the reader does not read the topic. */
  readonly health = (): Promise<true> => this.reading.check();

  /** Each feed's highest mark read so far (ms). */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.marks);
  }

  /** Records read that were not marks. */
  get skippedRecords(): number {
    return this.skipped;
  }

  async start(): Promise<void> {
    await deleteGroups(this.kafka, (admin) => memberlessGroups(admin, this.prefix), this.forget);
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ message, partition }) => {
        const m = decodeFeedMark(message.value);
        if (typeof m === 'string') {
          this.skipped++;
          this.log(`feed marks: skipped offset ${message.offset} of partition ${partition}: ${m}`);
          return;
        }
        if (m.before > (this.marks.get(m.feed) ?? -Infinity)) this.marks.set(m.feed, m.before);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await deleteGroups(this.kafka, async () => [this.groupId], this.forget);
  }

  private readonly forget = (e: unknown) =>
    this.log("feed marks: could not delete a reader's consumer group", e);
}
