import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cityMoment, statutoryDueAt } from './city.js';

const HOUR = 3_600_000;
/** The city's calendar date (UTC+8) of an instant, as YYYY-MM-DD. */
const cityDateOf = (t: number) => new Date(t + 8 * HOUR).toISOString().slice(0, 10);
/** The date `n` days after a YYYY-MM-DD date. */
const plusDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + n * 24 * HOUR).toISOString().slice(0, 10);

describe('the statutory deadline (Art. 60)', () => {
  it('is due by 24:00 city time of the 90th day after the day of registration', () => {
    // 1 March 2021, 09:00 and 23:59 city time: due by the end of 30 May.
    expect(statutoryDueAt(Date.parse('2021-03-01T01:00:00Z')).toISOString()).toBe(
      '2021-05-30T15:59:59.999Z',
    );
    expect(statutoryDueAt(Date.parse('2021-03-01T15:59:00Z')).toISOString()).toBe(
      '2021-05-30T15:59:59.999Z',
    );
    // 2 March 00:00 city time is still 1 March in UTC.
    expect(statutoryDueAt(Date.parse('2021-03-01T16:00:00Z')).toISOString()).toBe(
      '2021-05-31T15:59:59.999Z',
    );
    // Across a year's end, and a leap day: 2 October 2023 is due by 31 December; 1 December 2023 by 29 February 2024.
    expect(cityDateOf(statutoryDueAt(Date.parse('2023-10-02T04:00:00Z')).getTime())).toBe(
      '2023-12-31',
    );
    expect(cityDateOf(statutoryDueAt(Date.parse('2023-12-01T04:00:00Z')).getTime())).toBe(
      '2024-02-29',
    );
  });

  it('falls on the last millisecond of that city day, for any moment of registration', () => {
    fc.assert(
      fc.property(
        fc.integer({
          min: Date.parse('1990-01-01T00:00:00Z'),
          max: Date.parse('2099-06-01T00:00:00Z'),
        }),
        (registered) => {
          const due = statutoryDueAt(registered).getTime();
          const last = plusDays(cityDateOf(registered), 90);
          expect(cityDateOf(due)).toBe(last);
          expect(cityDateOf(due + 1)).toBe(plusDays(last, 1));
          // Never earlier than 90 whole days after the registration, never a day more.
          expect(due - registered).toBeGreaterThanOrEqual(90 * 24 * HOUR);
          expect(due - registered).toBeLessThan(91 * 24 * HOUR);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('a moment as the city reads it (rule notes)', () => {
  it('reads a statutory deadline as 24:00 of its last day, city time', () => {
    expect(cityMoment(Date.parse('2021-05-30T15:59:59.999Z'))).toBe('2021-05-30 24:00 UTC+8');
    expect(cityMoment(statutoryDueAt(Date.parse('2021-12-31T15:00:00Z')))).toBe(
      '2022-03-31 24:00 UTC+8',
    );
  });

  it('reads any other moment in city time, to the minute, with seconds when it has any', () => {
    expect(cityMoment(new Date('2021-06-05T06:32:00Z'))).toBe('2021-06-05 14:32 UTC+8');
    expect(cityMoment(Date.parse('2021-06-05T16:00:00Z'))).toBe('2021-06-06 00:00 UTC+8');
    expect(cityMoment(Date.parse('2021-06-05T06:32:45.500Z'))).toBe('2021-06-05 14:32:45 UTC+8');
  });

  it('reads back as the moment itself, to the second (the end of a day as the next day begins)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2100-01-01') }),
        fc.boolean(),
        (at, endOfDay) => {
          // Ends of days are one in 86,400,000 at random: half the runs take
          // one, the others none (no moment at .999 of a second).
          const t = endOfDay ? statutoryDueAt(at).getTime() : at - (at % 1_000 === 999 ? 1 : 0);
          const read = cityMoment(t);
          const parts = /^(\d{4}-\d{2}-\d{2}) (\d{2}):(\d{2})(?::(\d{2}))? UTC\+8$/.exec(read);
          expect(parts, read).not.toBeNull();
          const [, date, hh, mm, ss] = parts ?? [];
          const back =
            Date.parse(`${date}T00:00:00Z`) -
            8 * HOUR +
            (Number(hh) * 60 + Number(mm)) * 60_000 +
            Number(ss ?? 0) * 1_000;
          expect(t - back, read).toBe(endOfDay ? -1 : t % 1_000);
          expect(read.endsWith(' 24:00 UTC+8')).toBe(endOfDay);
        },
      ),
    );
  });
});
