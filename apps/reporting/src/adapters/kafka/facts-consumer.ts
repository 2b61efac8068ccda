import type { Consumer, Kafka } from 'kafkajs';
import { events } from '@enforcement/contracts';
import {
  groupLag,
  KafkaDeadLetters,
  processTraced,
  projectionMetrics,
} from '@enforcement/messaging';
import type { FactsProjector } from '../../application/projector.js';

export { KafkaDeadLetters };

export interface ConsumerStats {
  applied: number;
  duplicates: number;
  poison: number;
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
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, poison: 0 };
  private readonly consumer: Consumer;
  private readonly metrics: ReturnType<typeof projectionMetrics>;

  constructor(
    kafka: Kafka,
    private readonly projector: FactsProjector,
    private readonly opts: {
      groupId: string;
      topic: string;
      partitionsConsumedConcurrently: number;
    },
  ) {
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.metrics = projectionMetrics('reporting', () => groupLag(kafka, opts.groupId, opts.topic));
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.projector.forget());
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
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
          const outcomes = await processTraced('reporting', chunk, () =>
            this.projector.handleChunk(
              batch.partition,
              chunk.map((m) => ({
                offset: Number(m.offset),
                key: m.key ? m.key.toString('utf8') : null,
                value: m.value,
              })),
            ),
          ).finally(() => clearInterval(beating));
          for (const o of outcomes) {
            this.metrics.outcome(o);
            if (o === 'duplicate') this.stats.duplicates++;
            else if (o === 'poison') this.stats.poison++;
            else this.stats.applied++;
          }
          const last = chunk.at(-1);
          if (last) resolveOffset(last.offset);
          if (last?.value) {
            try {
              this.metrics.recorded(events.CaseEvent.decode(last.value).recordedAt?.getTime() ?? 0);
            } catch {
              // a poison message: dead-lettered by the projector
            }
          }
          await commitOffsetsIfNecessary();
          await heartbeat();
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
  }
}
