import type { FeedMark } from '@enforcement/messaging';

/** One partition of the submissions topic, as the broker has it: its end, and where the ingress's group is on it. */
export interface SubmissionsPartition {
  readonly partition: number;
  /** The offset the next message appended will take. */
  readonly high: number;
  /** The first offset still on the topic. */
  readonly low: number;
  /** The group's committed offset (the next message to read), or -1 when none. */
  readonly committed: number;
}

/**
 * How far each feed is stored by the Kafka ingress, in event time: the floor
 * an event it stores carries (`feed_floor`) and the marks it publishes.
 *
 * The ingress reads each partition of the submissions topic in order, one
 * submission at a time, but the partitions apart: a producer that keys by
 * case spreads an agency's feed over all of them, and the ingress may store
 * one partition's May before another's April. So a feed is stored before
 * time T only when every partition with submissions still to read has read
 * that feed up to T: a feed is submitted in the order things happened
 * (docs/scoring.md), so a partition's unread submissions of a feed happened
 * no earlier than the latest of that feed it has read. A partition that may
 * hold the feed but has never shown it holds it back entirely; one read to
 * its end holds nothing back. Partitions another intake instance reads
 * count by the group's committed offsets, and hold back every feed while
 * they have anything to read (this instance does not know what they have
 * read).
 */
export class IngressFloor {
  /** Partition → feed → the latest time of a submission of it stored from there. */
  private readonly read = new Map<number, Map<string, number>>();
  /** Partition → the next offset this instance has to read there. */
  private readonly next = new Map<number, number>();
  /** Feed → the latest time of a submission of it stored here. */
  private readonly stored = new Map<string, number>();
  /** Feed → how far this instance has said it is stored. */
  private readonly said = new Map<string, number>();

  /** A submission at `offset` of `partition` is done with: stored as `feed` at `at` (ms), or refused. */
  settled(partition: number, offset: number, stored?: { feed: string; at: number }): void {
    if (offset + 1 > (this.next.get(partition) ?? -1)) this.next.set(partition, offset + 1);
    if (!stored) return;
    const on = this.read.get(partition) ?? new Map<string, number>();
    if (stored.at > (on.get(stored.feed) ?? -Infinity)) on.set(stored.feed, stored.at);
    this.read.set(partition, on);
    if (stored.at > (this.stored.get(stored.feed) ?? -Infinity))
      this.stored.set(stored.feed, stored.at);
  }

  /**
   * Partitions with submissions not read yet, by this instance or by the
   * group (`ends` read from the broker after the submissions being stored
   * were fetched).
   */
  pending(ends: readonly SubmissionsPartition[]): Set<number> {
    const out = new Set<number>();
    for (const p of ends) {
      const at = Math.max(p.committed, p.low, this.next.get(p.partition) ?? -1);
      if (at < p.high) out.add(p.partition);
    }
    return out;
  }

  /**
   * The floor of a submission of `feed` that happened at `occurredAt` (ms),
   * read from `partition`: the earliest time of the feed another partition
   * still reading may hold, and no later than the submission itself. -Infinity
   * when one may hold the feed and has never shown it.
   */
  floorOf(partition: number, occurredAt: number, feed: string, pending: Set<number>): number {
    let floor = occurredAt;
    for (const q of pending) {
      if (q === partition) continue;
      floor = Math.min(floor, this.read.get(q)?.get(feed) ?? -Infinity);
    }
    this.say(feed, floor);
    return floor;
  }

  /** Each feed stored here whose floor rose past what was said: how far it is stored now. */
  marks(pending: Set<number>): FeedMark[] {
    const out: FeedMark[] = [];
    for (const [feed, latest] of this.stored) {
      let before = latest;
      for (const q of pending) before = Math.min(before, this.read.get(q)?.get(feed) ?? -Infinity);
      if (this.say(feed, before)) out.push({ feed, before });
    }
    return out;
  }

  /** Whether a feed stored here may still be marked further. */
  get unsaid(): boolean {
    for (const [feed, latest] of this.stored)
      if (latest > (this.said.get(feed) ?? -Infinity)) return true;
    return false;
  }

  private say(feed: string, t: number): boolean {
    if (t <= (this.said.get(feed) ?? -Infinity)) return false;
    this.said.set(feed, t);
    return true;
  }
}
