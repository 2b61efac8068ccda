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
 * time was said happened before it; live, the latest said is the latest
 * stored once every stream has ended.
 */
function ledger() {
  const said: { step: number; v: number }[] = [];
  const storedAt: { step: number; t: number }[] = [];
  let step = 0;
  const say = (v: number) => said.push({ step, v });
  return {
    say,
    /** Item `nth` of a stream, which happened at `t`, stored: its floor said; `answered` before it settles; then the marks. */
    store(floor: StreamFloor, nth: number, t: number, answered?: () => void) {
      say(floor.of(nth, new Date(t), A).getTime());
      step++;
      storedAt.push({ step, t });
      answered?.();
      floor.settled(nth, A);
      for (const m of floor.marks()) say(m.before);
    },
    expectSafeAndLive() {
      for (const { step: at, v } of said)
        for (const { step: later, t } of storedAt)
          if (later > at) expect(t, `said ${v} at step ${at}`).toBeGreaterThanOrEqual(v);
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

  it('never says a time before which an item of the feed is still to be stored, however the streams are spread over the instances and however late each reads the others', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            on: fc.integer({ min: 0, max: 1 }),
            times: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 8 }),
          }),
          { minLength: 2, maxLength: 4 },
        ),
        fc.array(fc.nat(), { minLength: 40, maxLength: 200 }),
        (specs, choices) => {
          const instances = [new StreamFeeds(), new StreamFeeds()];
          const streams = specs.map(({ on, times }) => ({
            on,
            floor: (instances[on] ?? new StreamFeeds()).open(),
            items: [...times].sort((a, b) => a - b),
            next: 0,
            at: new Map<number, number>(),
            open: [] as number[],
            closed: false,
          }));
          type S = (typeof streams)[number];
          const { say, store: stored, expectSafeAndLive } = ledger();
          const sendNext = (s: S) => {
            const nth = s.next + 1;
            const t = ms(s.items[s.next++] ?? 0);
            s.at.set(nth, t);
            s.floor.received(nth, new Date(t));
            s.open.push(nth);
          };
          const store = (s: S, nth: number) => stored(s.floor, nth, s.at.get(nth) ?? 0);
          // Instance `to` reads what `from` shared: as of now, to be read
          // again only at its next exchange.
          const exchange = (to: number) => {
            const other = instances[1 - to];
            const me = instances[to];
            if (!other || !me) return;
            for (const m of me.shared(other.holds())) say(m.before);
          };
          // The streams start together: each has its first item under way,
          // and the instances have read each other, before any is stored.
          for (const s of streams) sendNext(s);
          exchange(0);
          exchange(1);
          for (const c of choices) {
            const action = Math.floor(c / 7) % 4;
            if (action === 3) {
              exchange(c % 2);
              continue;
            }
            const live = streams.filter((x) => !x.closed);
            const s = live[c % Math.max(1, live.length)];
            if (!s) break;
            if (action === 0 && s.next < s.items.length) sendNext(s);
            else if (action === 1 && s.open.length > 0) {
              const nth = s.open.splice(Math.floor(c / 28) % s.open.length, 1)[0];
              if (nth !== undefined) store(s, nth);
            } else if (action === 2 && s.next === s.items.length && s.open.length === 0) {
              s.closed = true;
              for (const m of s.floor.close()) say(m.before);
            }
          }
          for (const s of streams) {
            while (s.next < s.items.length) sendNext(s);
            for (const nth of s.open.splice(0)) store(s, nth);
            if (!s.closed) for (const m of s.floor.close()) say(m.before);
          }
          exchange(0);
          exchange(1);
          // Every stream has ended, and the instances have read each other.
          expectSafeAndLive();
        },
      ),
      { numRuns: 500 },
    );
  });
});
