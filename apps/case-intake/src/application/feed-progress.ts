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

/** A submission read and not yet done with: when it happened, and its feed once known. */
interface Open {
  readonly at: number;
  feed?: string;
}

/** Whether an open submission may be of `feed` (its feed is not known until it is decided). */
const mayBe = (o: Open, feed: string) => o.feed === undefined || o.feed === feed;

/**
 * How far each feed is stored, in event time, by the Kafka ingress, which
 * takes a feed's commands in order on each partition of the submissions
 * topic and stores several at once: the floor each event carries
 * (`feed_floor`) and the marks published (FeedMark). SubmitEvents streams
 * have StreamFeeds.
 *
 * The ingress reads each partition of the submissions topic in order and
 * stores the submissions of different cases at once, and it reads the
 * partitions apart: a producer that keys by case spreads an agency's feed
 * over all of them, and the ingress may store one partition's May before
 * another's April. A feed is submitted in the order things happened
 * (docs/scoring.md), so a submission of it not read yet happened no earlier
 * than any of it read before on its partition. So a feed is stored before
 * time T when, on every partition:
 * - every submission read and still being stored that may be of the feed
 *   happened at T or later, and
 * - if the partition has submissions not read yet, one of the feed read
 *   there happened at T or later (one that has never shown the feed holds it
 *   back entirely). A partition read to its end holds nothing back.
 * Partitions another intake instance reads count by the group's committed
 * offsets, and hold back every feed while they have anything to read (this
 * instance does not know what they have read).
 */
export class FeedProgress {
  /** Partition → feed → the latest time of a submission of it stored from there. */
  private readonly read = new Map<number, Map<string, number>>();
  /** Partition → offset → a submission read and not yet done with. */
  private readonly open = new Map<number, Map<number, Open>>();
  /** Partition → the next offset this instance has to read there. */
  private readonly next = new Map<number, number>();
  /** Feed → the latest time of a submission of it stored here. */
  private readonly stored = new Map<string, number>();
  /** Feed → how far this instance has said it is stored. */
  private readonly said = new Map<string, number>();

  /** The submission at `offset` of `partition`, which happened at `at` (ms), is read. */
  received(partition: number, offset: number, at: number): void {
    const on = this.open.get(partition) ?? new Map<number, Open>();
    on.set(offset, { at });
    this.open.set(partition, on);
    if (offset + 1 > (this.next.get(partition) ?? -1)) this.next.set(partition, offset + 1);
  }

  /** The submission at `offset` of `partition` is done with: stored as `feed` at `at` (ms), or refused. */
  settled(partition: number, offset: number, stored?: { feed: string; at: number }): void {
    this.open.get(partition)?.delete(offset);
    if (offset + 1 > (this.next.get(partition) ?? -1)) this.next.set(partition, offset + 1);
    if (stored) this.note(partition, stored.feed, stored.at);
  }

  /** `feed` is stored from `partition` up to `at`. */
  private note(partition: number, feed: string, at: number): void {
    const on = this.read.get(partition) ?? new Map<string, number>();
    if (at > (on.get(feed) ?? -Infinity)) on.set(feed, at);
    this.read.set(partition, on);
    if (at > (this.stored.get(feed) ?? -Infinity)) this.stored.set(feed, at);
  }

  /**
   * What another instance settled on `partition` before this one took it
   * (the ledger's record, see IngressLedger): each feed's latest time stored
   * there. Every submission of a feed the partition still holds comes after
   * those in its order, so it happened no earlier; and the feeds are this
   * instance's to mark from now on, as if it had stored them.
   */
  resume(partition: number, feeds: ReadonlyMap<string, number>): void {
    for (const [feed, at] of feeds) this.note(partition, feed, at);
  }

  /**
   * Forgets the submissions left open (not stored, to be read again) and
   * what was read on their partitions, when the instance joins its group
   * again: a partition that went to another instance is read again there,
   * and one kept is read again from its committed offset. Those partitions
   * then hold every feed back until read to their end or read again here.
   */
  forgetOpen(): void {
    for (const [p, on] of this.open) {
      if (on.size === 0) continue;
      this.open.delete(p);
      this.read.delete(p);
      this.next.delete(p);
    }
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
   * The floor of the submission at `offset` of `partition`, of `feed`, which
   * happened at `occurredAt` (ms): the earliest time of the feed a submission
   * not yet stored may hold, and no later than the submission itself.
   * -Infinity when a partition still to read has never shown the feed.
   */
  floorOf(
    partition: number,
    offset: number,
    occurredAt: number,
    feed: string,
    pending: Set<number>,
  ): number {
    const self = this.open.get(partition)?.get(offset);
    if (self) self.feed = feed;
    const floor = this.bound(feed, pending, occurredAt, { partition, offset });
    this.say(feed, floor);
    return floor;
  }

  /** Each feed stored here whose floor rose past what was said: how far it is stored now. */
  marks(pending: Set<number>): FeedMark[] {
    const out: FeedMark[] = [];
    for (const [feed, latest] of this.stored) {
      const before = this.bound(feed, pending, latest);
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

  /**
   * `from`, lowered to the earliest time of `feed` a submission not yet
   * stored may hold: the open ones (before `self` on its own partition; the
   * ones after it there happened no earlier), and the unread ones.
   */
  private bound(
    feed: string,
    pending: Set<number>,
    from: number,
    self?: { partition: number; offset: number },
  ): number {
    let t = from;
    for (const [p, on] of this.open)
      for (const [offset, o] of on) {
        if (p === self?.partition && offset >= self.offset) continue;
        if (o.at < t && mayBe(o, feed)) t = o.at;
      }
    for (const q of pending) {
      if (q === self?.partition) continue;
      t = Math.min(t, this.read.get(q)?.get(feed) ?? -Infinity);
    }
    return t;
  }

  private say(feed: string, t: number): boolean {
    if (t <= (this.said.get(feed) ?? -Infinity)) return false;
    this.said.set(feed, t);
    return true;
  }
}
