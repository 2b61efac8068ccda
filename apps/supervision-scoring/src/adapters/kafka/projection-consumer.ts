import type { Consumer, Kafka } from 'kafkajs';
import { events } from '@enforcement/contracts';
import {
  chunkedProjection,
  ConsumerHealth,
  GroupLag,
  KafkaDeadLetters,
  partitionOfKey,
  projectionFetch,
  projectionMetrics,
  type ProjectionMetrics,
  type ProjectionStats,
  SHARED_GROUP_MEMBERSHIP,
} from '@enforcement/messaging';
import type { Projector } from '../../application/projector.js';
import type { FeedClock } from '../../application/watermark.js';
import { GroupAssignment } from './group-assignment.js';

export { KafkaDeadLetters };

export interface ConsumerStats extends ProjectionStats {
  /** Offsets of the last message handled, per partition. */
  positions: Map<number, number>;
}

/**
 * Messages applied and written together; bounds a batch's memory and its
 * replay after a crash. A chunk writes each page its events fall on once,
 * so a replay's larger chunks write fewer documents per event. Live chunks
 * hold what arrived while the fetch lingered (`PROJECTION_LINGER_MS`), far
 * fewer.
 */
const CHUNK = 4_000;
/** How often a partition of this process is handed an empty batch, to apply corrections left for it. */
const IDLE_MS = 2_000;
/**
 * How long a rebalance may go without a join before the broker is asked
 * which partitions this process holds: a rebalance takes a few seconds.
 */
const DOUBT_MS = 10_000;
/**
 * Bytes one fetch asks the broker for, in all and per partition. kafkajs
 * holds a fetch's batches until every one is applied, so this bounds the
 * messages in memory: at the 10 MiB default a replay held about 50,000 (a
 * third of the heap and 29 MB of buffers beside it). A stored event takes
 * about 690 bytes on the topic, so a partition's batch holds up to about
 * 3,000 (1,500 at kafkajs's 1 MiB per partition), and a fetch four
 * partitions' batches, one for each partition applied at once. The broker
 * still returns a partition's first record batch whatever its size, so no
 * event is too large to be fetched.
 */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
const FETCH_MAX_BYTES_PER_PARTITION = 2 * 1024 * 1024;

/**
 * Feeds the case-events topic to the projector. kafkajs hands one partition's
 * messages in order, in batches; a chunk's offsets are committed after it is
 * written, so a restart resumes where it left off (at least once; the
 * projector makes that exactly once).
 */
export class ProjectionConsumer {
  /** When the latest event this consumer applied was recorded (ms; 0: none yet). */
  lastRecordedAt = 0;
  readonly stats: ConsumerStats = {
    chunks: 0,
    applied: 0,
    duplicates: 0,
    poison: 0,
    positions: new Map(),
  };
  private readonly consumer: Consumer;
  private readonly metrics: ProjectionMetrics;
  /** The group's lag, through one admin connection for the process. */
  private readonly lagOf: GroupLag;
  /** Whether batches are being applied, for readiness. */
  readonly health: ConsumerHealth;
  private partitionCount = 0;
  /** The topic's partitions this process consumes now (none while the group rebalances). */
  private readonly assignment: GroupAssignment;
  private idleTimer: NodeJS.Timeout | undefined;
  private idleRunning = false;
  /** Stops the waiting gauges' reads. */
  private readonly unobserve: () => void;

  constructor(
    private readonly kafka: Kafka,
    private readonly projector: Projector,
    private readonly opts: {
      groupId: string;
      topic: string;
      fromBeginning: boolean;
      partitionsConsumedConcurrently: number;
      /** How long (ms) a fetch of live events may wait for more (0: it returns with the first). */
      lingerMs: number;
      /** How long (ms) it may apply nothing while messages wait on its partitions before readiness fails. */
      stallMs: number;
      /** Told how far each partition is applied, for the rules' watermark. */
      clock?: FeedClock;
      /** The cases waiting for an earlier version, for the gauges (`waitingFrom`). */
      waiting?: () => Promise<{ cases: number; earliestMs: number | undefined }>;
      log?: (msg: string, err?: unknown) => void;
    },
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      ...SHARED_GROUP_MEMBERSHIP,
      maxBytes: FETCH_MAX_BYTES,
      ...projectionFetch(opts.lingerMs, FETCH_MAX_BYTES_PER_PARTITION),
    });
    this.health = new ConsumerHealth(opts.log);
    this.health.watch(this.consumer);
    this.assignment = new GroupAssignment(this.consumer, opts.topic, {
      doubtMs: DOUBT_MS,
      // Partitions may have moved to or from this process: drop what it knew about them.
      learned: (partitions, how) => {
        this.projector.forget();
        this.opts.log?.(`${how} ${opts.groupId}: partitions ${partitions.join(',')}`);
      },
    });
    this.lagOf = new GroupLag(kafka, opts.groupId, opts.topic);
    this.health.watchProgress({
      topic: opts.topic,
      lag: async () => (await this.lagOf.read()).partitions,
      afterMs: opts.stallMs,
    });
    this.metrics = projectionMetrics('supervision-scoring', this.lagOf);
    this.unobserve = opts.waiting ? this.metrics.waitingFrom(opts.waiting) : () => undefined;
  }

  /** How many partitions the topic has (read when the consumer starts). */
  get partitions(): number {
    return this.partitionCount;
  }

  /** The partition a case's events go to: corrections are left for it. */
  partitionOf(caseId: string): number {
    if (this.partitionCount === 0) throw new Error(`${this.opts.topic}: partitions not read yet`);
    return partitionOfKey(caseId, this.partitionCount);
  }

  /**
   * The partitions this process applies now: none while the group
   * rebalances, and what it knew of them forgotten when it joins again.
   */
  get ownedPartitions(): readonly number[] {
    return this.assignment.partitions;
  }

  /**
   * Whether this process holds the case's partition now: false while the
   * group rebalances, and on an instance the group gave no partition.
   */
  owns(caseId: string): boolean {
    return this.partitionCount > 0 && this.assignment.partitions.includes(this.partitionOf(caseId));
  }

  async start(): Promise<void> {
    this.partitionCount = await this.readPartitionCount();
    await this.consumer.connect();
    this.assignment.watch();
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      this.opts.log?.(`${this.opts.groupId} rebalancing: no partitions until it joins again`);
    });
    this.idleTimer = setInterval(() => void this.idle(), IDLE_MS);
    this.idleTimer.unref();
    await this.consumer.subscribe({
      topic: this.opts.topic,
      fromBeginning: this.opts.fromBeginning,
    });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently,
      eachBatchAutoResolve: false,
      eachBatch: chunkedProjection({
        name: 'scoring',
        group: this.opts.groupId,
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

  private async readPartitionCount(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const [topic] = (await admin.fetchTopicMetadata({ topics: [this.opts.topic] })).topics;
      const count = topic?.partitions.length ?? 0;
      if (count === 0) throw new Error(`${this.opts.topic}: the topic has no partitions`);
      return count;
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * The partitions this process holds checked with the broker when a
   * rebalance went without a join; then an empty batch for each of them: a
   * review on another partition may have left a correction for one that has
   * nothing to consume.
   */
  private async idle(): Promise<void> {
    if (this.idleRunning) return;
    this.idleRunning = true;
    try {
      await this.assignment
        .reconcile()
        .catch((e: unknown) => this.opts.log?.('the group not described; asked again shortly', e));
      for (const partition of this.assignment.partitions)
        await this.projector.handleBatch(partition, []);
    } catch (e) {
      this.opts.log?.('corrections not applied; tried again shortly', e);
    } finally {
      this.idleRunning = false;
    }
  }

  /** When the chunk's last event was recorded: the projection's lag behind intake. */
  private noteRecorded(value: Buffer | null): void {
    if (!value) return;
    try {
      const at = events.CaseEvent.decode(value).recordedAt?.getTime() ?? 0;
      this.metrics.recorded(at);
      this.lastRecordedAt = Math.max(this.lastRecordedAt, at);
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
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.unobserve();
    this.assignment.clear();
    await this.consumer.disconnect();
    await this.lagOf.close();
  }
}
