import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import { PositionAllocator } from './positions.js';

describe('global positions across instances', () => {
  let client: MongoClient;
  let db: Db;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, { maxPoolSize: 10 });
    db = client.db(uniqueName('positions').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('never hands one position to two instances taking blocks at the same time', async () => {
    const instances = Array.from(
      { length: 4 },
      () => new PositionAllocator(db.collection('position_blocks'), 10),
    );
    const taken = await Promise.all(
      instances.map(async (a) => {
        const mine: number[] = [];
        for (let i = 0; i < 40; i++) mine.push(await a.take(1 + (i % 3)));
        return mine;
      }),
    );
    for (const mine of taken) expect([...mine].sort((x, y) => x - y)).toEqual(mine);
    const ranges = taken.flatMap((mine, k) => mine.map((p, i) => [p, p + (i % 3), k] as const));
    const seen = new Map<number, number>();
    for (const [from, to, k] of ranges)
      for (let p = from; p <= to; p++) {
        expect(seen.get(p), `position ${p} twice`).toBeUndefined();
        seen.set(p, k);
      }
    expect(Math.min(...seen.keys())).toBeGreaterThanOrEqual(1);
  });
});
