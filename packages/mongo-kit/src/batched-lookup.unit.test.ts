import { describe, expect, it } from 'vitest';
import { BatchedLookup } from './batched-lookup.js';

describe('BatchedLookup', () => {
  it('answers concurrent lookups with one fetch of every distinct key', async () => {
    const fetched: string[][] = [];
    const lookup = new BatchedLookup<number>(async (keys) => {
      fetched.push(keys);
      return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, k.length]));
    });
    const answers = await Promise.all(['a', 'bb', 'a', 'missing'].map((k) => lookup.get(k)));
    expect(answers).toEqual([1, 2, 1, undefined]);
    expect(fetched).toEqual([['a', 'bb', 'missing']]);
  });

  it('splits a burst larger than its limit and fetches again for later keys', async () => {
    const fetched: string[][] = [];
    const lookup = new BatchedLookup<string>(async (keys) => {
      fetched.push(keys);
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    }, 2);
    expect(await Promise.all(['a', 'b', 'c'].map((k) => lookup.get(k)))).toEqual(['A', 'B', 'C']);
    expect(await lookup.get('d')).toBe('D');
    expect(fetched).toEqual([['a', 'b'], ['c'], ['d']]);
  });

  it('rejects every caller of a failed fetch and serves the next ones', async () => {
    let fail = true;
    const lookup = new BatchedLookup<number>(async (keys) => {
      if (fail) throw new Error('server gone');
      return new Map(keys.map((k) => [k, 1]));
    });
    const failed = await Promise.allSettled([lookup.get('x'), lookup.get('y')]);
    expect(failed.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    expect(await lookup.get('x')).toBe(1);
  });
});
