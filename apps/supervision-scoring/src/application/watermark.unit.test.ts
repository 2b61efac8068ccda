import { describe, expect, it } from 'vitest';
import { feedWatermarks, FeedClock, type PartitionEnd } from './watermark.js';

const ends = (...list: [high: number, committed?: number][]) =>
  new Map<number, PartitionEnd>(list.map(([high, committed = -1], p) => [p, { high, committed }]));
const latest = (t: number) => t;
const none = new Map<string, number>();

describe("the rules' clock: per feed, the time up to which its events are applied", () => {
  it('judges a lagging agency by its own time, not by the leading one', () => {
    const c = new FeedClock();
    // Both partitions carry both agencies; the leading feed is in June, the lagging one in March.
    c.note(
      0,
      new Map([
        ['lead|1', 600],
        ['lag|1', 300],
      ]),
    );
    c.note(
      1,
      new Map([
        ['lead|1', 610],
        ['lag|1', 290],
      ]),
    );
    c.position(0, 9);
    c.position(1, 9);
    const w = feedWatermarks(c.snapshot(), ends([20], [20]), none, latest);
    expect(w.get('lead|1')).toBe(600);
    expect(w.get('lag|1')).toBe(290);
  });

  it('a drained partition holds nobody back: the feed is complete up to its latest event', () => {
    const c = new FeedClock();
    c.note(0, new Map([['a|1', 100]]));
    c.note(1, new Map([['a|1', 500]]));
    c.position(0, 4);
    c.position(1, 9);
    expect(feedWatermarks(c.snapshot(), ends([5], [10]), none, latest).get('a|1')).toBe(500);
    // Partition 0 has a message more: it holds the feed back to what it applied.
    expect(feedWatermarks(c.snapshot(), ends([6], [10]), none, latest).get('a|1')).toBe(100);
  });

  it("intake's mark raises a drained feed past the floors its events carried, never past a partition that holds it", () => {
    const c = new FeedClock();
    // The feed's last event was stored while an earlier one was under way: its floor says 400.
    c.note(0, new Map([['a|1', 400]]));
    c.note(1, new Map([['a|1', 300]]));
    c.position(0, 4);
    c.position(1, 9);
    const marks = new Map([['a|1', 700]]);
    expect(feedWatermarks(c.snapshot(), ends([5], [10]), none, latest).get('a|1')).toBe(400);
    expect(feedWatermarks(c.snapshot(), ends([5], [10]), marks, latest).get('a|1')).toBe(700);
    // A mark below what the floors say lowers nothing.
    expect(
      feedWatermarks(c.snapshot(), ends([5], [10]), new Map([['a|1', 200]]), latest).get('a|1'),
    ).toBe(400);
    // Partition 1 has a message more: the mark's events may be there; the feed waits for it.
    expect(feedWatermarks(c.snapshot(), ends([5], [11]), marks, latest).get('a|1')).toBe(300);
    // With the wall clock a drained feed is complete up to now, mark or not.
    expect(feedWatermarks(c.snapshot(), ends([5], [10]), marks, () => 900).get('a|1')).toBe(900);
  });

  it('a lagging partition that never carried the feed holds it back entirely', () => {
    const c = new FeedClock();
    c.note(0, new Map([['a|1', 100]]));
    c.position(0, 4);
    // Partition 1: nothing applied, three messages waiting (one may be the feed's first there).
    expect(feedWatermarks(c.snapshot(), ends([5], [3]), none, latest).has('a|1')).toBe(false);
    // An empty partition, or one whose committed position is at its end (applied before a restart), does not.
    expect(feedWatermarks(c.snapshot(), ends([5], [0]), none, latest).get('a|1')).toBe(100);
    expect(feedWatermarks(c.snapshot(), ends([5], [3, 3]), none, latest).get('a|1')).toBe(100);
  });

  it('with the wall clock, a feed with nothing waiting is complete up to now', () => {
    const c = new FeedClock();
    c.note(0, new Map([['a|1', 100]]));
    c.position(0, 4);
    expect(feedWatermarks(c.snapshot(), ends([5]), none, () => 9_000).get('a|1')).toBe(9_000);
  });

  it('never goes back for a redelivered batch, and a restart resumes from what was stored', () => {
    const c = new FeedClock();
    c.note(0, new Map([['a|1', 500]]));
    c.note(0, new Map([['a|1', 200]]));
    expect(feedWatermarks(c.snapshot(), ends([0]), none, latest).get('a|1')).toBe(500);
    expect(FeedClock.raiseOwn(new Map([['a|1', 500]]))).toEqual({ 'times.a|1': 500 });
    const restarted = new FeedClock();
    restarted.restore({ '0': { 'a|1': 500 } });
    expect(feedWatermarks(restarted.snapshot(), ends([8, 8]), none, latest).get('a|1')).toBe(500);
  });

  it('stores feed names that are not field names, and reads them back', () => {
    const [path] = Object.keys(FeedClock.raiseOwn(new Map([['agency.x$|1', 7]])));
    expect(path).toBe('times.agency%2Ex%24|1');
    const back = new FeedClock();
    back.restore({ '3': { [path?.slice('times.'.length) ?? '']: 7 } });
    expect(
      feedWatermarks(back.snapshot(), ends([0], [0], [0], [0]), none, latest).get('agency.x$|1'),
    ).toBe(7);
  });
});
