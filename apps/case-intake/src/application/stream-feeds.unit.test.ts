import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ANY_FEED, StreamFeeds, type StreamFloor } from './stream-feeds.js';

const day = (n: number) => new Date(Date.UTC(2021, 0, 1 + n));
const ms = (n: number) => day(n).getTime();
const A = 'lz-eeb|1';
const B = 'lz-psb|1';

/**
 * What a property's run said of feed A (floors and marks) and stored, step
 * by step, and the two things it must show: safe, nothing stored after a
 * time was said happened before it (but an item stored `late`, which the
 * streams' rules let be); live, the latest said is the latest stored once
 * every stream has ended.
 */
function ledger() {
  const said: { step: number; v: number }[] = [];
  const storedAt: { step: number; t: number; late: boolean }[] = [];
  let step = 0;
  const say = (v: number) => said.push({ step, v });
  return {
    say,
    /** Item `nth` of a stream, which happened at `t`, stored: its floor said; `answered` before it settles; then the marks. */
    store(floor: StreamFloor, nth: number, t: number, answered?: () => void, late = false) {
      say(floor.of(nth, new Date(t), A).getTime());
      step++;
      storedAt.push({ step, t, late });
      answered?.();
      floor.settled(nth, A);
      for (const m of floor.marks()) say(m.before);
    },
    /** The latest time stored so far. */
    latest: () => Math.max(-Infinity, ...storedAt.map((x) => x.t)),
    expectSafeAndLive() {
      for (const { step: at, v } of said)
        for (const { step: later, t, late } of storedAt)
          if (later > at && !late) expect(t, `said ${v} at step ${at}`).toBeGreaterThanOrEqual(v);
      expect(Math.max(...said.map((x) => x.v))).toBe(Math.max(...storedAt.map((x) => x.t)));
    },
  };
}

describe('one feed over several SubmitEvents streams of an instance', () => {
  it('holds the feed back to where the slower stream is, and lets it rise when that stream ends', () => {
    const feeds = new StreamFeeds();
    const slow = feeds.open();
    const fast = feeds.open();
    slow.received(1, day(2));
    expect(slow.of(1, day(2), A)).toEqual(day(2));
    slow.settled(1, A);
    // The other stream runs ahead: its items are judged no further than day 2,
    // since the slow one may still send anything of A from day 2 on.
    for (let n = 1; n <= 5; n++) {
      fast.received(n, day(2 + 2 * n));
      expect(fast.of(n, day(2 + 2 * n), A)).toEqual(day(2));
      fast.settled(n, A);
    }
    expect(fast.marks()).toEqual([]);
    slow.received(2, day(6));
    expect(slow.of(2, day(6), A)).toEqual(day(6));
    slow.settled(2, A);
    // Its own floor said day 6: nothing more to mark.
    expect(fast.marks()).toEqual([]);
    // The slow stream ends: nothing holds A short of what is stored.
    expect(slow.close()).toEqual([{ feed: A, before: ms(12) }]);
    fast.received(6, day(13));
    expect(fast.of(6, day(13), A)).toEqual(day(13));
  });

  it("a stream's first items, not decided yet, hold every feed back: streams that start together count from their first items", () => {
    const feeds = new StreamFeeds();
    const s = feeds.open();
    const t = feeds.open();
    s.received(1, day(5));
    t.received(1, day(1));
    expect(s.of(1, day(5), A)).toEqual(day(1));
    s.settled(1, A);
    expect(t.of(1, day(1), A)).toEqual(day(1));
    t.settled(1, A);
    // t may still send A from day 1 on.
    expect(feeds.marks()).toEqual([]);
    expect(t.close()).toEqual([{ feed: A, before: ms(5) }]);
  });

  it('a stream whose sender sends nothing for a while stops holding by what it may send next, and holds again once it sends', () => {
    const feeds = new StreamFeeds();
    const quiet = feeds.open();
    const busy = feeds.open();
    quiet.received(1, day(2));
    quiet.of(1, day(2), A);
    quiet.settled(1, A);
    busy.received(1, day(9));
    expect(busy.of(1, day(9), A)).toEqual(day(2));
    busy.settled(1, A);
    // Left open, sending nothing: the feed rises to what is stored.
    expect(quiet.idle()).toEqual([{ feed: A, before: ms(9) }]);
    busy.received(2, day(11));
    expect(busy.of(2, day(11), A)).toEqual(day(11));
    busy.settled(2, A);
    // It sends again: it holds from its latest again (an item of it earlier
    // than what was said meanwhile is late).
    quiet.received(2, day(3));
    busy.received(3, day(12));
    expect(busy.of(3, day(12), A)).toEqual(day(2));
    // An item still being stored holds, idle or not.
    expect(quiet.idle()).toEqual([]);
    quiet.of(2, day(3), A);
    quiet.settled(2, A);
    busy.settled(3, A);
    expect(feeds.marks()).toEqual([{ feed: A, before: ms(12) }]);
  });

  it("holds back nothing of a feed it has not shown: another agency's stream leaves this one's feed alone", () => {
    const feeds = new StreamFeeds();
    const other = feeds.open();
    const mine = feeds.open();
    other.received(1, day(1));
    other.of(1, day(1), B);
    other.settled(1, B);
    other.received(2, day(2)); // under way, not decided: it may be of any feed, but B's stream has not shown A
    mine.received(1, day(9));
    expect(mine.of(1, day(9), A)).toEqual(day(9));
    mine.settled(1, A);
    expect(mine.marks()).toEqual([]);
  });

  it('an item still being stored when its stream ends holds until it is done with', () => {
    const feeds = new StreamFeeds();
    const s = feeds.open();
    const t = feeds.open();
    s.received(1, day(1));
    s.of(1, day(1), A);
    s.settled(1, A);
    s.received(2, day(3));
    expect(s.of(2, day(3), A)).toEqual(day(3)); // decided, being stored
    expect(s.close()).toEqual([]);
    t.received(1, day(8));
    expect(t.of(1, day(8), A)).toEqual(day(3));
    t.settled(1, A);
    expect(feeds.size).toBe(2);
    s.settled(2, A);
    expect(t.marks()).toEqual([{ feed: A, before: ms(8) }]);
    expect(t.close()).toEqual([]);
    expect(feeds.size).toBe(0);
  });

  it('an item answered UNAVAILABLE holds while its stream is open, and no more once it ends (its sender sends it in another)', () => {
    const feeds = new StreamFeeds();
    const s = feeds.open();
    s.received(1, day(2));
    s.of(1, day(2), A);
    s.parked(1);
    s.received(2, day(5));
    s.of(2, day(5), A);
    s.settled(2, A);
    expect(s.marks()).toEqual([]);
    expect(s.close()).toEqual([{ feed: A, before: ms(5) }]);
    expect(feeds.size).toBe(0);
  });

  it('never says a time before which an item of the feed is still to be stored (any interleaving of streams each in time order, items answered UNAVAILABLE and sent again, in their stream or another)', () => {
    // Each stream's items in time order; they are received, decided,
    // settled, answered UNAVAILABLE (and sent again later, in the same
    // stream, whose earlier items of the command then hold no more once it
    // is stored, or in a new stream before the first ends) and the streams
    // closed in any order one stream may do them.
    const streamTimes = fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 });
    fc.assert(
      fc.property(
        fc.array(streamTimes, { minLength: 2, maxLength: 3 }),
        fc.array(fc.nat(), { minLength: 40, maxLength: 200 }),
        (times, choices) => {
          const feeds = new StreamFeeds();
          const stream = (ts: readonly number[]) => ({
            floor: feeds.open(),
            items: [...ts].sort((a, b) => a - b),
            next: 0,
            /** Items received: number in the stream → when it happened (ms). */
            at: new Map<number, number>(),
            received: 0,
            open: [] as number[],
            /** Items answered UNAVAILABLE, to be sent again: when they happened, and their command. */
            resend: [] as { t: number; command: number }[],
            /** Each item's command, by its number here. */
            command: new Map<number, number>(),
            /** A command's items here answered UNAVAILABLE, while it is not answered otherwise. */
            parked: new Map<number, number[]>(),
            closed: false,
          });
          const streams = times.map(stream);
          type S = ReturnType<typeof stream>;
          const { say, store: stored, expectSafeAndLive } = ledger();
          let commands = 0;
          const receive = (s: S, t: number, command = ++commands) => {
            const nth = ++s.received;
            s.at.set(nth, t);
            s.command.set(nth, command);
            s.floor.received(nth, new Date(t));
            s.open.push(nth);
          };
          const sendNext = (s: S) => receive(s, ms(s.items[s.next++] ?? 0));
          // Stored (or refused), a command's items answered UNAVAILABLE in
          // this stream hold no more, as intake does.
          const answered = (s: S, nth: number) => {
            const command = s.command.get(nth) ?? 0;
            for (const earlier of s.parked.get(command) ?? []) s.floor.settled(earlier);
            s.parked.delete(command);
          };
          const store = (s: S, nth: number) =>
            stored(s.floor, nth, s.at.get(nth) ?? 0, () => answered(s, nth));
          const unavailable = (s: S, nth: number) => {
            const t = s.at.get(nth) ?? 0;
            say(s.floor.of(nth, new Date(t), A).getTime());
            s.floor.parked(nth);
            const command = s.command.get(nth) ?? 0;
            s.parked.set(command, [...(s.parked.get(command) ?? []), nth]);
            s.resend.push({ t, command });
          };
          const sendAgain = (s: S, same: boolean) => {
            const r = s.resend.shift();
            if (r === undefined) return;
            if (same && !s.closed) return receive(s, r.t, r.command);
            const again = stream([]);
            streams.push(again);
            receive(again, r.t, r.command);
          };
          // The streams start together: each has its first item under way before any is stored.
          for (const s of [...streams]) sendNext(s);
          for (const c of choices) {
            const live = streams.filter((x) => !x.closed);
            const s = live[c % Math.max(1, live.length)];
            if (!s) break;
            const action = Math.floor(c / 7) % 5;
            const pick = () => s.open.splice(Math.floor(c / 35) % s.open.length, 1)[0];
            if (action === 0 && s.next < s.items.length) sendNext(s);
            else if (action === 1 && s.open.length > 0) {
              const nth = pick();
              if (nth !== undefined) store(s, nth);
            } else if (action === 2 && s.open.length > 0) {
              const nth = pick();
              if (nth !== undefined) unavailable(s, nth);
            } else if (action === 3) sendAgain(s, Math.floor(c / 35) % 2 === 0);
            else if (
              action === 4 &&
              s.next === s.items.length &&
              s.open.length === 0 &&
              s.resend.length === 0
            ) {
              s.closed = true;
              for (const m of s.floor.close()) say(m.before);
            }
          }
          for (const s of streams) {
            while (s.next < s.items.length) sendNext(s);
            while (s.resend.length > 0) sendAgain(s, false);
            for (const nth of s.open.splice(0)) store(s, nth);
            if (!s.closed) for (const m of s.floor.close()) say(m.before);
          }
          expectSafeAndLive();
          expect(feeds.size).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('one feed over streams of several intake instances, which share their holds', () => {
  it("holds the feed back by another instance's shared hold, and marks it once that hold rises", () => {
    const here = new StreamFeeds();
    const s = here.open();
    s.received(1, day(5));
    expect(here.shared(new Map([[A, ms(2)]]))).toEqual([]);
    expect(s.of(1, day(5), A)).toEqual(day(2));
    s.settled(1, A);
    expect(here.marks()).toEqual([]);
    // Another agency's hold leaves A alone; a hold on any feed (a stream
    // elsewhere that has shown none yet) holds it.
    expect(here.shared(new Map([[B, ms(1)]]))).toEqual([{ feed: A, before: ms(5) }]);
    s.received(2, day(7));
    expect(here.shared(new Map([[ANY_FEED, ms(6)]]))).toEqual([]);
    expect(s.of(2, day(7), A)).toEqual(day(6));
  });

  it('shares what its own streams may still store, never what the others shared', () => {
    const here = new StreamFeeds();
    const a = here.open();
    a.received(1, day(3));
    a.of(1, day(3), A);
    a.settled(1, A);
    const fresh = here.open();
    fresh.received(1, day(4));
    here.shared(
      new Map([
        [A, ms(1)],
        [B, ms(1)],
      ]),
    );
    // A: the open stream stored day 3, and sends on from there; the fresh
    // stream's first item, of a feed not decided yet, holds any feed.
    expect(here.holds()).toEqual(
      new Map([
        [A, ms(3)],
        [ANY_FEED, ms(4)],
      ]),
    );
    a.close();
    fresh.of(1, day(4), B);
    fresh.settled(1, B);
    fresh.close();
    expect(here.holds()).toEqual(new Map());
  });

  it("a stream's items wait until its holds are written, when it opens and when it sends again after idling, and are refused when the write fails", async () => {
    const here = new StreamFeeds();
    let wakes = 0;
    here.shareWith(() => wakes++, 5_000);
    const s = here.open();
    const quiet = here.open();
    s.received(1, day(3));
    const heard = s.heard();
    expect(heard).toBeInstanceOf(Promise);
    expect(s.heardWithinMs).toBe(5_000);
    expect(wakes).toBe(1);
    expect(here.holds()).toEqual(new Map([[ANY_FEED, ms(3)]]));
    // Its first item came after the holds were taken: this write does not make it heard.
    quiet.received(1, day(4));
    here.written();
    await heard;
    expect(s.heard()).toBeUndefined();
    expect(quiet.heard()).toBeInstanceOf(Promise);
    s.of(1, day(3), A);
    s.settled(1, A);
    // Idle, it held nothing by what it sends next: sending again, it waits again.
    s.idle();
    s.received(2, day(5));
    expect(s.heard()).toBeInstanceOf(Promise);
    here.holds();
    // It idled and sent again while its holds were being written: not heard by that write.
    s.idle();
    s.received(3, day(6));
    here.written();
    expect(s.heard()).toBeInstanceOf(Promise);
    here.holds();
    here.written();
    expect(s.heard()).toBeUndefined();
    // A write the store did not take: the items waiting are answered with its error; the next write hears the stream.
    s.idle();
    s.received(4, day(7));
    const refused = s.heard();
    here.holds();
    here.unwritten(new Error('store away'));
    await expect(refused).rejects.toThrow('store away');
    const again = s.heard();
    expect(again).toBeInstanceOf(Promise);
    here.holds();
    here.written();
    await again;
    expect(s.heard()).toBeUndefined();
  });

  it("says of a feed no more than it had stored before it last read the others' holds: a stream elsewhere written after that read began after it", () => {
    const here = new StreamFeeds();
    here.shareWith(() => undefined, 5_000);
    const round = () => {
      here.holds();
      here.written();
      return here.shared(new Map());
    };
    const s = here.open();
    s.received(1, day(1));
    round();
    // Nothing of A was stored here before the read: 1970-01-01.
    expect(s.of(1, day(1), A)).toEqual(new Date(0));
    s.settled(1, A);
    expect(s.marks()).toEqual([]);
    expect(round()).toEqual([{ feed: A, before: ms(1) }]);
    s.received(2, day(5));
    expect(s.of(2, day(5), A)).toEqual(day(1));
    s.settled(2, A);
    expect(s.close()).toEqual([]);
    // Stored by the next read: said then.
    expect(round()).toEqual([{ feed: A, before: ms(5) }]);
  });

  it('never says a time before which an item of the feed is still to be stored, however the streams are spread over the instances, whenever each starts, and however late each writes and reads the holds', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            on: fc.integer({ min: 0, max: 2 }),
            times: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 }),
          }),
          { minLength: 2, maxLength: 5 },
        ),
        fc.array(fc.nat(), { minLength: 40, maxLength: 300 }),
        (specs, choices) => {
          const instances = [0, 1, 2].map(() => {
            const f = new StreamFeeds();
            f.shareWith(() => undefined, 5_000);
            return f;
          });
          /** The store's stream_holds: each instance's holds as it last wrote them. */
          const records = instances.map(() => new Map<string, number>());
          const { say, store: stored, latest, expectSafeAndLive } = ledger();
          type S = {
            on: number;
            floor: StreamFloor;
            items: number[];
            next: number;
            at: Map<number, number>;
            open: number[];
            closed: boolean;
            /** Items earlier than this, the latest stored anywhere when its holds were written, are late by the rules. */
            lateBelow?: number;
          };
          const streams: S[] = [];
          const waiting = [...specs];
          const sendNext = (s: S) => {
            const nth = s.next + 1;
            const t = s.items[s.next++] ?? 0;
            s.at.set(nth, t);
            s.floor.received(nth, new Date(t));
            s.open.push(nth);
          };
          // A stream starts when it likes, its times from the latest stored
          // anywhere then on (one that starts with earlier times is late by
          // the rules), its first item under way.
          const start = () => {
            const spec = waiting.shift();
            if (!spec) return;
            const from = Math.max(0, latest());
            const s: S = {
              on: spec.on,
              floor: (instances[spec.on] ?? new StreamFeeds()).open(),
              items: [...spec.times].sort((a, b) => a - b).map((d) => from + d * 86_400_000),
              next: 0,
              at: new Map(),
              open: [],
              closed: false,
            };
            streams.push(s);
            sendNext(s);
          };
          const write = (i: number) => {
            const me = instances[i];
            if (!me) return;
            records[i] = me.holds();
            me.written();
            for (const s of streams)
              if (s.on === i && s.lateBelow === undefined && s.floor.heard() === undefined)
                s.lateBelow = latest();
          };
          const read = (i: number) => {
            const me = instances[i];
            if (!me) return;
            const remote = new Map<string, number>();
            records.forEach((r, j) => {
              if (j !== i)
                for (const [feed, t] of r)
                  remote.set(feed, Math.min(remote.get(feed) ?? Infinity, t));
            });
            for (const m of me.shared(remote)) say(m.before);
          };
          const store = (s: S, nth: number) => {
            const t = s.at.get(nth) ?? 0;
            stored(s.floor, nth, t, undefined, t < (s.lateBelow ?? -Infinity));
          };
          start();
          for (const c of choices) {
            const action = Math.floor(c / 7) % 6;
            if (action === 3) write(c % 3);
            else if (action === 4) read(c % 3);
            else if (action === 5) start();
            else {
              const live = streams.filter((x) => !x.closed);
              const s = live[c % Math.max(1, live.length)];
              if (!s) continue;
              if (action === 0 && s.next < s.items.length) sendNext(s);
              else if (action === 1 && s.open.length > 0 && s.floor.heard() === undefined) {
                const nth = s.open.splice(Math.floor(c / 42) % s.open.length, 1)[0];
                if (nth !== undefined) store(s, nth);
              } else if (action === 2 && s.next === s.items.length && s.open.length === 0) {
                s.closed = true;
                for (const m of s.floor.close()) say(m.before);
              }
            }
          }
          while (waiting.length > 0) start();
          for (const s of streams) {
            while (s.next < s.items.length) sendNext(s);
            if (s.floor.heard() !== undefined) write(s.on);
            for (const nth of s.open.splice(0)) store(s, nth);
            if (!s.closed) for (const m of s.floor.close()) say(m.before);
          }
          // Every stream has ended, and the instances have written and read each other.
          for (const i of [0, 1, 2]) write(i);
          for (const i of [0, 1, 2]) read(i);
          expectSafeAndLive();
        },
      ),
      { numRuns: 1000 },
    );
  });
});
