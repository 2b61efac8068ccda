import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Freshness } from './freshness.js';

/** Updates of a few cases, versions 0 (unknown) to 12, in any order and repeated. */
const updates = fc.array(
  fc.record({
    key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    version: fc.integer({ min: 0, max: 12 }),
  }),
  { maxLength: 200 },
);

describe('a live feed never goes back in time for a case it remembers', () => {
  it('lets an update through exactly when no greater version of its case went before it', () => {
    fc.assert(
      fc.property(updates, (xs) => {
        const f = new Freshness(5);
        const greatest = new Map<string, number>();
        for (const { key, version } of xs) {
          const expected = version === 0 || version >= (greatest.get(key) ?? 0);
          expect(f.admit(key, version)).toBe(expected);
          if (expected && version > 0) greatest.set(key, version);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('lets through every case’s latest version, however the updates were reordered', () => {
    fc.assert(
      fc.property(updates, (xs) => {
        const f = new Freshness(5);
        const through = xs.filter(({ key, version }) => f.admit(key, version));
        for (const key of new Set(xs.map((x) => x.key))) {
          const versions = xs.filter((x) => x.key === key).map((x) => x.version);
          const sent = through.filter((x) => x.key === key && x.version > 0).map((x) => x.version);
          // What a watcher sees of a case only rises, and ends at its latest.
          expect(sent).toEqual([...sent].sort((a, b) => a - b));
          if (Math.max(...versions) > 0) expect(sent.at(-1)).toBe(Math.max(...versions));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('remembers the cases updated last, no more than its capacity', () => {
    const f = new Freshness(2);
    expect(f.admit('a', 5)).toBe(true);
    expect(f.admit('b', 1)).toBe(true);
    expect(f.admit('a', 6)).toBe(true); // a is now the latest updated
    expect(f.admit('c', 1)).toBe(true); // b, updated longest ago, is forgotten
    expect(f.size).toBe(2);
    expect(f.admit('a', 4)).toBe(false);
    expect(f.admit('b', 0)).toBe(true);
    // Forgotten: b's version 1 goes out again, and pushes out a, while c
    // is still remembered.
    expect(f.admit('b', 1)).toBe(true);
    expect(f.admit('c', 0.5)).toBe(false);
    expect(f.admit('a', 4)).toBe(true);
    expect(f.size).toBe(2);
    fc.assert(
      fc.property(updates, fc.integer({ min: 1, max: 4 }), (xs, capacity) => {
        const g = new Freshness(capacity);
        for (const { key, version } of xs) {
          g.admit(key, version);
          expect(g.size).toBeLessThanOrEqual(capacity);
        }
      }),
    );
    expect(() => new Freshness(0)).toThrow(RangeError);
  });
});
