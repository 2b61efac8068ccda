import type { Consumer, Kafka } from 'kafkajs';
import { events } from '@enforcement/contracts';
import {
  chunkedProjection,
  ConsumerHealth,
  GroupLag,
  KafkaDeadLetters,
  projectionMetrics,
  type ProjectionMetrics,
  type ProjectionStats,
} from '@enforcement/messaging';
import type { Projector } from '../../application/projector.js';
import type { FeedClock } from '../../application/watermark.js';

export { KafkaDeadLetters };

export interface ConsumerStats extends ProjectionStats {
  /** Offsets of the last message handled, per partition. */
  positions: Map<number, number>;
}

/** Messages applied and written together; bounds a batch's memory and its replay after a crash. */
const CHUNK = 2_000;

/**
 * Feeds the case-events topic to the projector. kafkajs hands one partition's
 * messages in order, in batches; a chunk's offsets are committed after it is
 * written, so a restart resumes where it left off (at least once; the
 * projector makes that exactly once).
 */
export class ProjectionConsumer {
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, poison: 0, positions: new Map() };
  private readonly consumer: Consumer;
  private readonly metrics: ProjectionMetrics;
  /** The group's lag, through one admin connection for the process. */
  private readonly lagOf: GroupLag;
  /** Whether batches are being applied, for readiness. */
  readonly health: ConsumerHealth;

  constructor(
    kafka: Kafka,
    private readonly projector: Projector,
    private readonly opts: {
      groupId: string;
      topic: string;
      fromBeginning: boolean;
      partitionsConsumedConcurrently: number;
      /** Told how far each partition is applied, for the rules' watermark. */
      clock?: FeedClock;
      log?: (msg: string, err?: unknown) => void;
    },
  ) {
    this.consumer = kafka.consumer({ groupId: opts.groupId, maxWaitTimeInMs: 100 });
    this.health = new ConsumerHealth(opts.log);
    this.health.watch(this.consumer);
    this.lagOf = new GroupLag(kafka, opts.groupId, opts.topic);
    this.metrics = projectionMetrics('supervision-scoring', this.lagOf);
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    // Partitions may have moved to or from this process: drop what it knew about them.
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.projector.forget());
    await this.consumer.subscribe({
      topic: this.opts.topic,
      fromBeginning: this.opts.fromBeginning,
    });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: chunkedProjection({
        name: 'scoring',
        chunkSize: CHUNK,
        stats: this.stats,
        metrics: this.metrics,
        health: this.health,
        apply: (partition, chunk) => this.projector.handleBatch(partition, chunk),
        applied: (partition, last) => {
          this.stats.positions.set(partition, Number(last.offset));
          this.opts.clock?.position(partition, Number(last.offset));
          this.noteRecorded(last.value);
        },
      }),
    });
  }

  /** When the chunk's last event was recorded: the projection's lag behind intake. */
  private noteRecorded(value: Buffer | null): void {
    if (!value) return;
    try {
      this.metrics.recorded(events.CaseEvent.decode(value).recordedAt?.getTime() ?? 0);
    } catch {
      // A poison message has no time; the projector dead-letters it.
    }
  }

  get groupId(): string {
    return this.opts.groupId;
  }

  /** Consumer lag: messages on the topic not handled yet, per the broker's high watermarks. */
  async lag(): Promise<number> {
    return (await this.lagOf.read()).total;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.lagOf.close();
  }
}
