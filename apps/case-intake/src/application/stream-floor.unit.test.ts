import { describe, expect, it } from 'vitest';
import { StreamFloor } from './stream-feeds.js';

const day = (n: number) => new Date(Date.UTC(2021, 0, 1 + n));
const A = 'lz-eeb|1';
const B = 'lz-psb|1';

describe('how far a SubmitEvents stream is stored, in event time', () => {
  it('holds a later item back to an earlier one of its feed still being stored', () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    expect(f.of(1, day(5), A)).toEqual(day(5));
    // Item 2 is stored first: everything before it that happened before day 5 is stored, not before day 9.
    expect(f.of(2, day(9), A)).toEqual(day(5));
    f.settled(1, A);
    f.received(3, day(12));
    expect(f.of(3, day(12), A)).toEqual(day(9));
    f.settled(2, A);
    expect(f.of(3, day(12), A)).toEqual(day(12));
  });

  it('an item not decided yet may be of any feed: it holds every feed back', () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    expect(f.of(2, day(9), B)).toEqual(day(5));
  });

  it("another feed's item under way holds nothing back", () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    expect(f.of(1, day(5), A)).toEqual(day(5));
    expect(f.of(2, day(9), B)).toEqual(day(9));
  });

  it('never rises above the item itself, and ignores items after it', () => {
    const f = new StreamFloor();
    f.received(1, day(3));
    f.received(2, day(1));
    expect(f.of(1, day(3), A)).toEqual(day(3));
    expect(f.of(2, day(1), A)).toEqual(day(1));
  });

  it('an item not stored for an outage holds the floor until the stream ends (it is sent again)', () => {
    const f = new StreamFloor();
    f.received(1, day(2));
    expect(f.of(1, day(2), A)).toEqual(day(2));
    // answered UNAVAILABLE: not settled
    f.received(2, day(4));
    f.settled(2, A);
    f.received(3, day(6));
    expect(f.of(3, day(6), A)).toEqual(day(2));
  });
});

describe('feed marks: how far each feed is stored once its items settle', () => {
  it("marks a feed's latest item once the earlier ones that held its floor back are stored", () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    f.of(1, day(5), A);
    f.of(2, day(9), A); // stored first, with floor day 5
    f.settled(2, A);
    // Item 1 is still under way: the feed is stored only before day 5, as said.
    expect(f.marks()).toEqual([]);
    f.settled(1, A);
    expect(f.marks()).toEqual([{ feed: A, before: day(9).getTime() }]);
    // Said once: nothing new to mark.
    expect(f.marks()).toEqual([]);
  });

  it('marks nothing a floor already said, and each feed by its own items', () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(7));
    f.of(1, day(5), A);
    f.settled(1, A);
    f.of(2, day(7), B);
    f.settled(2, B);
    expect(f.marks()).toEqual([]);
  });

  it('an item still open, of the feed or not decided yet, holds its mark back; a refused or duplicate item marks nothing', () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    f.received(3, day(10));
    f.received(4, day(11));
    f.of(2, day(9), A); // floor day 5: item 1 was not decided yet
    f.of(1, day(5), A);
    f.settled(1, A);
    // Item 2 is open (UNAVAILABLE: it stays so): the feed is held at day 5.
    expect(f.marks()).toEqual([]);
    f.of(3, day(10), B);
    f.settled(3); // refused: no event of B was stored
    f.settled(4);
    expect(f.marks()).toEqual([]);
    f.settled(2, A);
    expect(f.marks()).toEqual([{ feed: A, before: day(9).getTime() }]);
  });

  it('a duplicate marks its feed: its events were stored before (a retry after a failover)', () => {
    const f = new StreamFloor();
    f.received(1, day(4));
    f.settled(1, A); // answered as a duplicate: never decided here
    expect(f.marks()).toEqual([{ feed: A, before: day(4).getTime() }]);
  });

  it('an undecided item holds every feed back until it settles', () => {
    const f = new StreamFloor();
    f.received(1, day(3));
    f.received(2, day(8));
    f.of(2, day(8), A);
    f.settled(2, A);
    expect(f.marks()).toEqual([]); // item 1 may be of A, dated day 3
    f.of(1, day(3), B);
    f.settled(1, B);
    expect(f.marks()).toEqual([{ feed: A, before: day(8).getTime() }]);
  });
});
