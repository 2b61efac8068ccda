import type { Consumer, Kafka } from 'kafkajs';
import { events } from '@enforcement/contracts';
import {
  groupLag,
  KafkaDeadLetters,
  processTraced,
  projectionMetrics,
} from '@enforcement/messaging';
import type { Projector } from '../../application/projector.js';

export { KafkaDeadLetters };

export interface ConsumerStats {
  applied: number;
  duplicates: number;
  poison: number;
  /** Offsets of the last message handled, per partition. */
  positions: Map<number, number>;
}

/** Messages applied and written together; bounds a batch's memory and its replay after a crash. */
const CHUNK = 500;

/**
 * Feeds the case-events topic to the projector. kafkajs hands one partition's
 * messages in order, in batches; a chunk's offsets are committed after it is
 * written, so a restart resumes where it left off (at least once; the
 * projector makes that exactly once).
 */
export class ProjectionConsumer {
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, poison: 0, positions: new Map() };
  private readonly consumer: Consumer;
  /** Latest occurrence time applied, per partition (ms). */
  private readonly eventTimes = new Map<number, number>();
  private readonly metrics: ReturnType<typeof projectionMetrics>;

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
    this.metrics = projectionMetrics('supervision-scoring', () => this.lag(kafka));
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.eventTimes.clear());
    // Partitions may have moved to or from this process: drop what it knew about them.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.projector.forget());
    await this.consumer.subscribe({
      topic: this.opts.topic,
      fromBeginning: this.opts.fromBeginning,
    });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: async ({
        batch,
        resolveOffset,
        heartbeat,
        isRunning,
        isStale,
        commitOffsetsIfNecessary,
      }) => {
        for (let i = 0; i < batch.messages.length; i += CHUNK) {
          if (!isRunning() || isStale()) return;
          const chunk = batch.messages.slice(i, i + CHUNK);
          // A slow chunk (a busy store) must not cost the group membership: keep heartbeating.
          const beating = setInterval(() => void heartbeat().catch(() => undefined), 3_000);
          const outcomes = await processTraced('scoring', chunk, () =>
            this.projector.handleBatch(
              batch.partition,
              chunk.map((m) => ({
                partition: batch.partition,
                offset: Number(m.offset),
                key: m.key ? m.key.toString('utf8') : null,
                value: m.value,
              })),
            ),
          ).finally(() => clearInterval(beating));
          for (const outcome of outcomes) {
            this.metrics.outcome(outcome);
            if (outcome === 'duplicate') this.stats.duplicates++;
            else if (outcome === 'poison') this.stats.poison++;
            else this.stats.applied++;
          }
          this.noteEventTime(batch.partition, chunk);
          const last = chunk.at(-1);
          if (last) {
            resolveOffset(last.offset);
            this.stats.positions.set(batch.partition, Number(last.offset));
          }
          await commitOffsetsIfNecessary();
          await heartbeat();
        }
      },
    });
  }

  private noteEventTime(partition: number, chunk: readonly { value: Buffer | null }[]): void {
    let latest = this.eventTimes.get(partition) ?? 0;
    for (const m of chunk) {
      if (!m.value) continue;
      try {
        const e = events.CaseEvent.decode(m.value);
        const occurred = e.occurredAt?.getTime() ?? 0;
        latest = Math.max(latest, occurred);
        this.metrics.recorded(e.recordedAt?.getTime() ?? 0);
      } catch {
        // A poison message has no time; the projector dead-letters it.
      }
    }
    this.eventTimes.set(partition, latest);
  }

  /**
   * Event time up to which every partition this consumer has seen is applied:
   * the lowest of their latest occurrence times; undefined before any message.
   */
  eventTime(): number | undefined {
    return this.eventTimes.size > 0 ? Math.min(...this.eventTimes.values()) : undefined;
  }

  /** Consumer lag: messages on the topic not handled yet, per the broker's high watermarks. */
  lag(kafka: Kafka): Promise<number> {
    return groupLag(kafka, this.opts.groupId, this.opts.topic);
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
