import type { Consumer, Kafka, Producer } from 'kafkajs';
import { Header } from '@enforcement/messaging';
import type { DeadLetters } from '../../application/ports.js';
import type { Projector } from '../../application/projector.js';

export class KafkaDeadLetters implements DeadLetters {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async send(key: string | null, value: Buffer | null, reason: string): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value, headers: { [Header.error]: reason } }],
    });
  }
}

export interface ConsumerStats {
  applied: number;
  duplicates: number;
  poison: number;
  /** Offsets of the last message handled, per partition. */
  positions: Map<number, number>;
}

/**
 * Feeds the case-events topic to the projector. kafkajs hands one partition's
 * messages in order; offsets are committed after a message is handled, so a
 * restart resumes where it left off (at least once; the projector makes that
 * exactly once).
 */
export class ProjectionConsumer {
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, poison: 0, positions: new Map() };
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly projector: Projector,
    private readonly opts: {
      groupId: string;
      topic: string;
      fromBeginning: boolean;
      partitionsConsumedConcurrently: number;
    },
  ) {
    this.consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 100 });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topic: this.opts.topic,
      fromBeginning: this.opts.fromBeginning,
    });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachMessage: async ({ partition, message }) => {
        const outcome = await this.projector.handle({
          partition,
          offset: Number(message.offset),
          key: message.key ? message.key.toString('utf8') : null,
          value: message.value,
        });
        if (outcome === 'duplicate') this.stats.duplicates++;
        else if (outcome === 'poison') this.stats.poison++;
        else this.stats.applied++;
        this.stats.positions.set(partition, Number(message.offset));
      },
    });
  }

  /** Consumer lag: messages on the topic not handled yet, per the broker's high watermarks. */
  async lag(kafka: Kafka): Promise<number> {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const [offsets, committed] = await Promise.all([
        admin.fetchTopicOffsets(this.opts.topic),
        admin.fetchOffsets({ groupId: this.opts.groupId, topics: [this.opts.topic] }),
      ]);
      const done = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      return offsets.reduce(
        (sum, o) => sum + Math.max(0, Number(o.high) - Math.max(0, done.get(o.partition) ?? 0)),
        0,
      );
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
