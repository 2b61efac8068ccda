import { describe, expect, it } from 'vitest';
import type { Db } from 'mongodb';
import { PartitionedCollection } from './partitioned.js';

/** Enough of a database for naming the buckets; grouping never touches it. */
const db = { collection: (name: string) => ({ name }) } as unknown as Db;

describe('grouping by bucket', () => {
  it('puts each item in the bucket its key hashes to, keeping the items in their order', () => {
    const c = new PartitionedCollection(db, 'commits', 8);
    const keys = Array.from({ length: 200 }, (_, i) => `case-${i}`);
    const groups = c.group(keys, (k) => k);
    expect([...groups.values()].flat().sort()).toEqual([...keys].sort());
    for (const [bucket, list] of groups) {
      for (const k of list) expect(c.bucketOf(k)).toBe(bucket);
      expect(list).toEqual(keys.filter((k) => c.bucketOf(k) === bucket));
    }
  });
});
