import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { day, fact } from '../domain/given.test-support.js';
import { fold, initialState } from '../domain/state.js';
import type { EventPayload } from '../domain/types.js';
import { HeadCache, headBytes, stateChars, type CaseHead } from './stream-cache.js';

const head = (version: number, commands = 1): CaseHead => ({
  state: initialState(),
  version,
  headHash: 'h'.repeat(64),
  commandIds: new Map(Array.from({ length: commands }, (_, i) => [`cmd-${i}`, 'f'.repeat(64)])),
});

describe('the head cache', () => {
  it('keeps the most recently used heads within its count', () => {
    const cache = new HeadCache(2);
    cache.set('a', head(1));
    cache.set('b', head(1));
    cache.get('a'); // a is now the most recent
    cache.set('c', head(1));
    expect([cache.get('a')?.version, cache.get('b'), cache.get('c')?.version]).toEqual([
      1,
      undefined,
      1,
    ]);
  });

  it('keeps within its byte budget: a case with a long history takes the room of several', () => {
    const small = headBytes('a', head(1));
    const large = headBytes('z', head(40, 40));
    expect(large).toBeGreaterThan(10 * small);
    const cache = new HeadCache(1_000, large + 2 * small);
    for (const id of ['a', 'b', 'c']) cache.set(id, head(1));
    expect(cache.size).toBe(3);
    cache.set('z', head(40, 40));
    // The oldest went until the long one fit.
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('z')?.version).toBe(40);
    expect(cache.bytes).toBeLessThanOrEqual(large + 2 * small);
    // Replacing and deleting give their bytes back.
    cache.set('z', head(41, 1));
    cache.delete('b');
    cache.delete('c');
    expect(cache.bytes).toBe(headBytes('z', head(41, 1)));
  });

  it('holds nothing with a count of zero', () => {
    const cache = new HeadCache(0);
    cache.set('a', head(1));
    expect([cache.size, cache.bytes, cache.get('a')]).toEqual([0, 0, undefined]);
  });
});

describe("a head's estimated size", () => {
  it('stays near the JSON of the state, as a case registers, gathers evidence and orders, and concludes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 12 }),
        fc.boolean(),
        (steps, evidence, orders, answered, review) => {
          const life: EventPayload[] = review
            ? [fact.reviewFiled(), fact.reviewAccepted()]
            : [
                fact.registered(),
                fact.dispatched(),
                ...Array.from({ length: evidence }, (_, i) => fact.evidence(`evidence-${i}`)),
                ...Array.from({ length: orders }, (_, i) => fact.orderOpened(`SUP-${i}-overdue`)),
                ...Array.from({ length: Math.min(answered, orders) }, (_, i) =>
                  fact.orderAnswered(`SUP-${i}-overdue`),
                ),
                fact.notified(),
                fact.hearing(),
                fact.legalReview(),
                fact.decided(),
                fact.concluded(),
                fact.evaluated(),
              ];
          const state = fold(
            life
              .slice(0, review ? life.length : life.length - 6 + steps)
              .map((payload, i) => ({ payload, occurredAt: day(i) })),
          );
          const json = JSON.stringify(state).length;
          const estimate = stateChars(state);
          expect(estimate).toBeGreaterThan(0.8 * json);
          expect(estimate).toBeLessThan(1.25 * json);
        },
      ),
      // Every shape, the smallest included (a case just dispatched was missed
      // by most runs of 100 once the bounds' counts were added to the state).
      { numRuns: 2_000 },
    );
  });
});
