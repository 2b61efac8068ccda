import { asFieldName, fromFieldName } from '@enforcement/mongo-kit';

/**
 * The rules' event clock: for each feed (an agency's enforcement cases, or the
 * reviews of its decisions), its watermark: the time before which every event
 * of that feed is applied to the read models. One dated at the watermark
 * itself may still come (the feed's next event can share its latest one's
 * instant), so the rules act only on what is dated strictly before it. See
 * docs/scoring.md, "The rules' clock".
 *
 * Assumption, stated: a feed is submitted in the order things happened
 * (within `lateness`). Intake publishes in commit order, and each partition
 * is applied in order, so on one partition the events of a feed not applied
 * yet happened no earlier than the latest of that feed applied there.
 *
 * - A partition whose applied position had reached the topic's end (read
 *   after the snapshot) holds nothing more of any feed: it does not hold the
 *   clock back.
 * - A partition with messages still to apply holds each feed back to the
 *   latest time of that feed it applied; a feed it never carried, it holds
 *   back entirely (the pending messages may be that feed's first there).
 * - When no partition holds a feed back, it is complete before its latest
 *   floor (event clock) or before the moment the offsets were read (wall
 *   clock). Its latest floor is the highest `feed_floor` applied, or intake's
 *   mark for the feed (FeedMark) when that is higher: once a stream's items
 *   settle, its mark says how far the feed is stored, which the floors its
 *   events carried may not reach (the feed's last event was stored while
 *   earlier ones were under way). What a mark covers was on the topic before
 *   the mark, so a partition still holding it has not reached its end.
 *
 * So a lagging agency is judged by its own time, never by a leading one's;
 * an idle or empty partition does not stall anyone; and no case is judged at
 * a time before its own applied events reach.
 */

/** A partition's end and the consumer group's committed position, read from the broker. */
export interface PartitionEnd {
  readonly high: number;
  readonly committed: number;
}

export interface ClockSnapshot {
  readonly times: ReadonlyMap<number, ReadonlyMap<string, number>>;
  readonly applied: ReadonlyMap<number, number>;
}

export class FeedClock {
  /** Partition → feed → latest occurrence time applied (ms). */
  private readonly times = new Map<number, Map<string, number>>();
  /** Partition → offset of the last message applied. */
  private readonly applied = new Map<number, number>();

  /** A written batch of `partition` applied these feeds up to these times. */
  note(partition: number, feeds: ReadonlyMap<string, number>): void {
    const on = this.times.get(partition) ?? new Map<string, number>();
    for (const [feed, t] of feeds) if (t > (on.get(feed) ?? -Infinity)) on.set(feed, t);
    this.times.set(partition, on);
  }

  position(partition: number, offset: number): void {
    if (offset > (this.applied.get(partition) ?? -1)) this.applied.set(partition, offset);
  }

  snapshot(): ClockSnapshot {
    return {
      times: new Map([...this.times].map(([p, m]) => [p, new Map(m)])),
      applied: new Map(this.applied),
    };
  }

  /**
   * The `$max` update that stores a batch's feed times in its partition's own
   * record, `times.<feed>`. One record per partition, because the store does
   * not isolate concurrent updates of one document (infra/README.md): with
   * every partition raising one shared record, a concurrent write could put
   * back what another had just raised, and instances that read the clock
   * from the store would judge the feed by the time it lost.
   */
  static raiseOwn(feeds: ReadonlyMap<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [feed, t] of feeds) out[`times.${asFieldName(feed)}`] = t;
    return out;
  }

  /** Adds stored times (from this or any other instance): each only ever raises what is known. */
  restore(saved: Record<string, Record<string, number>> | undefined): void {
    for (const [p, feeds] of Object.entries(saved ?? {}))
      this.note(
        Number(p),
        new Map(Object.entries(feeds).map(([feed, t]) => [fromFieldName(feed), t])),
      );
  }
}

/**
 * Each feed's watermark, from a snapshot, intake's marks read with it, and
 * the partition ends read after both. `whenDrained(latest)` is a feed's time
 * when no partition holds it back.
 */
export function feedWatermarks(
  snap: ClockSnapshot,
  ends: ReadonlyMap<number, PartitionEnd>,
  marks: ReadonlyMap<string, number>,
  whenDrained: (latest: number) => number,
): Map<string, number> {
  const feeds = new Set<string>();
  for (const m of snap.times.values()) for (const f of m.keys()) feeds.add(f);
  const out = new Map<string, number>();
  for (const feed of feeds) {
    let latest = -Infinity;
    let bound = Infinity;
    for (const [p, end] of ends) {
      const t = snap.times.get(p)?.get(feed);
      if (t !== undefined) latest = Math.max(latest, t);
      const applied = Math.max(snap.applied.get(p) ?? -1, end.committed - 1);
      if (applied >= end.high - 1) continue; // drained: nothing of any feed waits here
      bound = Math.min(bound, t ?? -Infinity);
    }
    // Partitions no longer on the topic's list still say how far a feed got.
    for (const m of snap.times.values()) latest = Math.max(latest, m.get(feed) ?? -Infinity);
    latest = Math.max(latest, marks.get(feed) ?? -Infinity);
    const t = Math.min(bound, whenDrained(latest));
    if (Number.isFinite(t)) out.set(feed, t);
  }
  return out;
}
