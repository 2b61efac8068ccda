import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import { commitOf } from './commits.test-support.js';
import { MongoEventStore } from './event-store.js';

/**
 * A case's commits live in the bucket a hash of its id names: a store read
 * with another bucket count would find no case, and the next command on one
 * would start a second history. So intake refuses to start with a count
 * other than the store's.
 */
describe('the event store’s bucket layout', () => {
  let client: MongoClient;
  const dbs: Db[] = [];
  const fresh = () => {
    const db = client.db(uniqueName('layout').replace(/-/g, '_'));
    dbs.push(db);
    return db;
  };
  const open = async (db: Db, buckets: number) => {
    const store = new MongoEventStore(db, { buckets, positionBlock: 50 });
    await store.init();
    return store;
  };
  const layout = (db: Db) =>
    db.collection<{ _id: string; buckets?: number }>('store_meta').findOne({ _id: 'layout' });
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, { maxPoolSize: 5 });
  });
  afterAll(async () => {
    for (const db of dbs) await db.dropDatabase().catch(() => undefined);
    await client?.close();
  });

  it('is recorded when a store is first used, and a start with another count is refused by name', async () => {
    const db = fresh();
    const store = await open(db, 8);
    await store.append(commitOf('case-a', 1, 2));
    expect((await layout(db))?.buckets).toBe(8);

    const refused = await open(db, 4).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(refused?.name).toBe('ConfigError');
    expect(refused?.message).toContain('EVENT_STORE_BUCKETS is 4');
    expect(refused?.message).toContain('in 8 buckets');
    expect(refused?.message).toContain('EVENT_STORE_BUCKETS=8');

    // With its own count, the history is there.
    const again = await open(db, 8);
    expect((await again.load('case-a', 0)).version).toBe(2);
  });

  it('is inferred for a store older than the record, from its commit collections', async () => {
    const many = fresh();
    await (await open(many, 8)).append(commitOf('case-b', 1, 1));
    await many.collection<{ _id: string }>('store_meta').deleteOne({ _id: 'layout' });
    await expect(open(many, 64)).rejects.toThrow(/keeps its commits in 8 buckets/);
    expect((await layout(many))?.buckets).toBe(8);
    expect((await (await open(many, 8)).load('case-b', 0)).version).toBe(1);

    // One bucket is the collection `commits` itself.
    const one = fresh();
    await (await open(one, 1)).append(commitOf('case-c', 1, 1));
    await one.collection<{ _id: string }>('store_meta').deleteOne({ _id: 'layout' });
    await expect(open(one, 64)).rejects.toThrow(/keeps its commits in 1 bucket;/);
    expect((await (await open(one, 1)).load('case-c', 0)).version).toBe(1);
  });
});
