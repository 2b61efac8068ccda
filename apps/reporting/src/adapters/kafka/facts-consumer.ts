import type { Consumer, Kafka } from 'kafkajs';
import { events } from '@enforcement/contracts';
import {
  chunkedProjection,
  ConsumerHealth,
  GroupLag,
  KafkaDeadLetters,
  projectionFetch,
  projectionMetrics,
  type ProjectionMetrics,
  type ProjectionStats,
  SHARED_GROUP_MEMBERSHIP,
} from '@enforcement/messaging';
import type { FactsProjector } from '../../application/projector.js';

export { KafkaDeadLetters };

export type ConsumerStats = ProjectionStats;

/** When intake recorded the event in a message (ms); 0 for one that does not decode (the projector dead-letters it). */
function recordedMs(value: Buffer | null): number {
  try {
    return value ? (events.CaseEvent.decode(value).recordedAt?.getTime() ?? 0) : 0;
  } catch {
    return 0;
  }
}

/** Messages applied and written together: one write of the pages they touch. */
const CHUNK = 2_000;

/**
 * Feeds the case-events topic to the facts projector, a chunk of one
 * partition at a time; offsets are committed after the chunk's pages are
 * written, so a restart resumes where it left off and versions drop what is
 * delivered twice.
 */
export class FactsConsumer {
  readonly stats: ConsumerStats = { chunks: 0, applied: 0, duplicates: 0, poison: 0 };
  private readonly consumer: Consumer;
  private readonly metrics: ProjectionMetrics;
  /** Whether batches are being applied, for readiness. */
  readonly health: ConsumerHealth;
  /** The group's lag, through one admin connection for the process. */
  private readonly lagOf: GroupLag;
  /** Stops observing the cases waiting for a missing version. */
  private readonly unobserve: () => void;

  constructor(
    kafka: Kafka,
    private readonly projector: FactsProjector,
    private readonly opts: {
      groupId: string;
      topic: string;
      partitionsConsumedConcurrently: number;
      /** How long (ms) a fetch of live events may wait for more (0: it returns with the first). */
      lingerMs: number;
      /** How long (ms) it may apply nothing while messages wait on its partitions before readiness fails. */
      stallMs: number;
      log?: (msg: string, err?: unknown) => void;
    },
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      ...SHARED_GROUP_MEMBERSHIP,
      ...projectionFetch(opts.lingerMs, 4 * 1024 * 1024),
    });
    this.health = new ConsumerHealth(opts.log);
    this.health.watch(this.consumer);
    this.lagOf = new GroupLag(kafka, opts.groupId, opts.topic);
    this.health.watchProgress({
      topic: opts.topic,
      lag: async () => (await this.lagOf.read()).partitions,
      afterMs: opts.stallMs,
    });
    this.metrics = projectionMetrics('reporting', this.lagOf);
    this.unobserve = this.metrics.waitingFrom(() => projector.waiting());
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.projector.forget());
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: chunkedProjection({
        name: 'reporting',
        group: this.opts.groupId,
        chunkSize: CHUNK,
        stats: this.stats,
        metrics: this.metrics,
        health: this.health,
        apply: (partition, chunk) => this.projector.handleChunk(partition, chunk),
        applied: (_partition, last) => this.metrics.recorded(recordedMs(last.value)),
      }),
    });
  }

  async stop(): Promise<void> {
    this.unobserve();
    await this.consumer.disconnect();
    await this.lagOf.close();
  }
}
