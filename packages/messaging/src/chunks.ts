import type { ConsumerConfig, EachBatchHandler, KafkaMessage } from 'kafkajs';
import type { ConsumerHealth } from './consumer-health.js';
import { heartbeating } from './groups.js';
import { processTraced, type ProjectionMetrics } from './trace.js';

export interface ProjectionStats {
  /** Chunks applied and written: each writes the pages its messages fall on once. */
  chunks: number;
  applied: number;
  duplicates: number;
  poison: number;
}

/**
 * A projection consumer's fetch. Lingering, the broker answers when a
 * partition's full batch (`maxBytesPerPartition`) is there or `lingerMs` is
 * up: live events gather into fewer, larger chunks, while a replay's fetches
 * are full at once. Not lingering, it answers with the first event there
 * (waiting at most 100 ms when none is).
 */
export function projectionFetch(
  lingerMs: number,
  maxBytesPerPartition: number,
): Pick<ConsumerConfig, 'maxWaitTimeInMs' | 'minBytes' | 'maxBytesPerPartition'> {
  return lingerMs > 0
    ? { maxWaitTimeInMs: lingerMs, minBytes: maxBytesPerPartition, maxBytesPerPartition }
    : { maxWaitTimeInMs: 100, minBytes: 1, maxBytesPerPartition };
}

/** A chunk's messages as a projection takes them. */
export interface Delivery {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

/**
 * The eachBatch handler every projection uses: a partition's batch is applied
 * a chunk at a time (traced, heartbeating while a slow store works), counted
 * by outcome, and its offsets committed only after the chunk is written, so
 * a restart resumes where it left off and the projection drops what comes twice.
 */
export function chunkedProjection(o: {
  readonly name: string;
  /** The consumer group, for the spans' attributes. */
  readonly group: string;
  readonly chunkSize: number;
  readonly stats: ProjectionStats;
  readonly metrics: ProjectionMetrics;
  readonly apply: (partition: number, chunk: Delivery[]) => Promise<readonly string[]>;
  /** After a chunk is applied, with its last message (before its offset is committed). */
  readonly applied?: (partition: number, last: KafkaMessage) => void;
  /** Told of every chunk applied or failed, for readiness. */
  readonly health?: ConsumerHealth;
}): EachBatchHandler {
  return async ({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
    commitOffsetsIfNecessary,
  }) => {
    for (let i = 0; i < batch.messages.length; i += o.chunkSize) {
      if (!isRunning() || isStale()) return;
      const chunk = batch.messages.slice(i, i + o.chunkSize);
      const started = performance.now();
      const from = { topic: batch.topic, partition: batch.partition, group: o.group };
      o.health?.begins(from);
      // A slow chunk (a busy store) must not cost the group membership.
      const outcomes = await heartbeating(heartbeat, () =>
        processTraced(o.name, from, chunk, () =>
          o.apply(
            batch.partition,
            chunk.map((m) => ({
              partition: batch.partition,
              offset: Number(m.offset),
              key: m.key ? m.key.toString('utf8') : null,
              value: m.value,
            })),
          ),
        ).catch((e: unknown) => {
          o.health?.failed(e, from);
          throw e;
        }),
      );
      o.health?.applied(from);
      o.stats.chunks++;
      o.metrics.chunk((performance.now() - started) / 1000, chunk.length);
      for (const outcome of outcomes) {
        o.metrics.outcome(outcome);
        if (outcome === 'duplicate') o.stats.duplicates++;
        else if (outcome === 'poison') o.stats.poison++;
        else o.stats.applied++;
      }
      const last = chunk.at(-1);
      if (last) {
        o.applied?.(batch.partition, last);
        resolveOffset(last.offset);
      }
      await commitOffsetsIfNecessary();
      await heartbeat();
    }
  };
}
