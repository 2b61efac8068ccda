import { describe, expect, it } from 'vitest';
import { StreamFloor } from './submit-events.js';

const day = (n: number) => new Date(Date.UTC(2021, 0, 1 + n));

describe('how far a SubmitEvents stream is stored, in event time', () => {
  it('holds a later item back to an earlier one still being stored', () => {
    const f = new StreamFloor();
    f.received(1, day(5));
    f.received(2, day(9));
    // Item 2 is stored first: everything before it that happened before day 5 is stored, not before day 9.
    expect(f.of(2, day(9))).toEqual(day(5));
    f.settled(1);
    f.received(3, day(12));
    expect(f.of(3, day(12))).toEqual(day(9));
    f.settled(2);
    expect(f.of(3, day(12))).toEqual(day(12));
  });

  it('never rises above the item itself, and ignores items after it', () => {
    const f = new StreamFloor();
    f.received(1, day(3));
    f.received(2, day(1));
    expect(f.of(1, day(3))).toEqual(day(3));
    expect(f.of(2, day(1))).toEqual(day(1));
  });

  it('an item not stored for an outage holds the floor until the stream ends (it is sent again)', () => {
    const f = new StreamFloor();
    f.received(1, day(2));
    // answered UNAVAILABLE: not settled
    f.received(2, day(4));
    f.settled(2);
    f.received(3, day(6));
    expect(f.of(3, day(6))).toEqual(day(2));
  });
});
