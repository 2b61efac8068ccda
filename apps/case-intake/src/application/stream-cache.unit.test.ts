import { describe, expect, it } from 'vitest';
import { initialState } from '../domain/state.js';
import { HeadCache, headBytes, type CaseHead } from './stream-cache.js';

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
