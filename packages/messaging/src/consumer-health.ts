import type { Consumer } from 'kafkajs';
import { NeedsRestart } from '@enforcement/errors';

/** A partition of a topic the consumer reads. */
export interface PartitionOf {
  readonly topic: string;
  readonly partition: number;
}

/**
 * Whether a projection's consumer is moving, for readiness. A batch that
 * fails (the database gone) is retried by kafkajs for up to a couple of
 * minutes, then the consumer crashes and is restarted after a pause, or, on
 * an error kafkajs deems final, never again. In all of these nothing is
 * applied, so the service must not say SERVING: `check` fails from the first
 * failed batch until one is applied again (or the group is joined afresh
 * after a restart); a consumer stopped for good fails it until the process
 * is restarted.
 *
 * A failure is the partition's: while one partition's chunks fail (a
 * document its store refuses, whatever the retry), the others' applied
 * chunks say nothing of it, and `check` fails until that partition applies
 * one, or the group gives it to another member.
 *
 * So is a chunk that never ends (an await nothing answers): the other
 * partitions' chunks may still be applied (those fetched from other
 * brokers, with kafkajs's fetcher per broker), and the consumer keeps
 * heartbeating for it, so the group never gives the partition to another
 * member. Once a chunk has been applying for the time `watchProgress` gives,
 * `check` fails, naming its partition, until it ends.
 *
 * Two of these failures are the process's own, and `check` throws them as a
 * NeedsRestart (health's liveness fails): a consumer stopped for good, and a
 * fetch loop that applies nothing while the broker says messages wait. The
 * rest pass once the broker or the store is back. A chunk applying for long
 * is not among them: it waits on the store or the broker, and a restarted
 * process would wait on them too.
 */
export class ConsumerHealth {
  private crashed: string | undefined;
  private stoppedForGood = false;
  /** Partitions whose last chunk failed, and why, by `topic/partition` (`''`: a batch not named). */
  private readonly failing = new Map<string, { at: PartitionOf | undefined; why: string }>();
  /** When a chunk was last applied, or the group last joined (ms). */
  private movedAt: number;
  private stalled:
    { topic: string; lag: () => Promise<ReadonlyMap<number, number>>; afterMs: number } | undefined;
  /** When each partition's chunk under way began (ms), by `topic/partition`. */
  private readonly applying = new Map<string, { at: PartitionOf; since: number }>();
  /** The partitions the group gave this process when it last joined, by topic (none while it rebalances). */
  private assigned: Record<string, number[] | undefined> = {};

  constructor(
    private readonly log: (msg: string, err?: unknown) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.movedAt = now();
  }

  /**
   * A consumer that neither fails nor crashes, and applies nothing (a fetch
   * loop that stopped, a chunk that never ends) moves no more than one that
   * fails: once nothing was applied for `afterMs` while messages of `topic`
   * wait on the partitions the group gave this process (`lag`: the group's
   * lag by partition), `check` fails, naming how many.
   */
  watchProgress(o: {
    topic: string;
    lag: () => Promise<ReadonlyMap<number, number>>;
    afterMs: number;
  }): void {
    this.stalled = o;
  }

  watch(consumer: Consumer): void {
    // Rebalancing, the process holds no partition until it joins again.
    consumer.on(consumer.events.REBALANCING, () => (this.assigned = {}));
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        this.crashed = `consumer restarting after: ${payload.error.message}`;
        return;
      }
      this.stoppedForGood = true;
      this.crashed = `consumer stopped for good after: ${payload.error.message}`;
      this.log('the consumer stopped for good; restart the process', payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (this.stoppedForGood) return;
      this.crashed = undefined;
      this.movedAt = this.now();
      // A failing partition the group gave to another member is that member's to report.
      const assigned = payload.memberAssignment as Record<string, number[] | undefined>;
      this.assigned = assigned;
      for (const [key, f] of this.failing)
        if (f.at && !assigned[f.at.topic]?.includes(f.at.partition)) this.failing.delete(key);
    });
  }

  /** A chunk of the partition begins to be applied. */
  begins(at: PartitionOf): void {
    this.applying.set(keyOf(at), { at, since: this.now() });
  }

  /** A batch could not be applied (kafkajs will deliver it again). */
  failed(e: unknown, at?: PartitionOf): void {
    this.applying.delete(keyOf(at));
    if (this.stoppedForGood) return;
    const message = e instanceof Error ? e.message : String(e);
    this.failing.set(keyOf(at), {
      at,
      why: at
        ? `applying a batch of ${at.topic} partition ${at.partition} failed: ${message}`
        : `applying a batch failed: ${message}`,
    });
  }

  /** A batch was applied: its partition moves. */
  applied(at?: PartitionOf): void {
    this.applying.delete(keyOf(at));
    this.failing.delete(keyOf(at));
    this.movedAt = this.now();
  }

  /** For watchReadiness: resolves while the consumer moves, rejects with why it does not. */
  readonly check = async (): Promise<true> => {
    if (this.crashed)
      throw this.stoppedForGood ? new NeedsRestart(this.crashed) : new Error(this.crashed);
    const [first] = this.failing.values();
    if (first)
      throw new Error(
        this.failing.size === 1
          ? first.why
          : `${first.why} (and ${this.failing.size - 1} more partitions failing)`,
      );
    const stalled = this.stalled;
    if (stalled) {
      const now = this.now();
      const stuck = [...this.applying.values()].filter((c) => now - c.since >= stalled.afterMs);
      const [first, ...more] = stuck;
      if (first)
        throw new Error(
          `a chunk of ${first.at.topic} partition ${first.at.partition} has been applying for ${Math.floor((now - first.since) / 1000)} s` +
            (more.length > 0 ? ` (and ${more.length} more partitions' chunks)` : ''),
        );
    }
    // A chunk under way is the fetch loop moving: until it has been applying
    // for the time given (and is named above), it is not a stall.
    const idle = this.now() - this.lastMoved();
    if (this.stalled && idle >= this.stalled.afterMs) {
      const lag = await this.stalled.lag();
      let waiting = 0;
      for (const p of this.assigned[this.stalled.topic] ?? []) waiting += lag.get(p) ?? 0;
      // The broker answered, no chunk is under way and none failed: the fetch
      // loop stopped, which a restart (a new consumer) mends.
      if (waiting > 0 && this.now() - this.lastMoved() >= this.stalled.afterMs)
        throw new NeedsRestart(
          `${waiting} messages wait on this instance's partitions and none was applied for ${Math.floor(idle / 1000)} s`,
        );
    }
    return true;
  };

  /** When a chunk was last applied or begun, or the group last joined (ms). */
  private lastMoved(): number {
    let at = this.movedAt;
    for (const c of this.applying.values()) at = Math.max(at, c.since);
    return at;
  }
}

const keyOf = (at: PartitionOf | undefined): string => (at ? `${at.topic}/${at.partition}` : '');
