import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { events } from '@enforcement/contracts';
import { stack, uniqueName } from '@enforcement/testing';
import { commitOf } from './commits.test-support.js';
import { startIntake } from '../../test-support/harness.js';
import { eventsOf, MongoEventStore, NEW_STORE_BUCKETS, storeBuckets } from './event-store.js';

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
    db
      .collection<{ _id: string; buckets?: number; commitFormat?: number }>('store_meta')
      .findOne({ _id: 'layout' });
  /** The error a start was refused with (undefined when it was not). */
  const refusal = (e: unknown) => e as Error;
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

    const refused = await open(db, 4).then(() => undefined, refusal);
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

  it('reads commits stored as JSON before commit format 2 beside new ones, and refuses a later format', async () => {
    const db = fresh();
    const before = await open(db, 4);
    const old = [];
    for (const c of [commitOf('case-d', 1, 2), commitOf('case-e', 1, 1), commitOf('case-d', 3, 1)])
      old.push(await before.append(c));
    // What a version before format 2 stored: the events as JSON documents.
    for (const bucket of before.commits.all())
      for (const d of await bucket.find({}).toArray())
        await bucket.updateOne(
          { _id: d._id },
          {
            $set: { events: eventsOf(d).map((e) => events.CaseEvent.toJSON(e)) },
            $unset: { body: '' },
          },
        );
    await db
      .collection<{ _id: string }>('store_meta')
      .updateOne({ _id: 'layout' }, { $unset: { commitFormat: '' } });

    const store = await open(db, 4);
    expect((await layout(db))?.commitFormat).toBe(2);
    const added = await store.append(commitOf('case-d', 4, 2));
    const newDoc = await store.commits.for('case-d').findOne({ _id: 'case-d:4' });
    expect(newDoc?.body).toBeDefined();
    expect(newDoc?.events).toBeUndefined();

    // A case with commits of both formats loads whole and equal, in order,
    // and ReadAll returns both formats' events in position order.
    const stored = [...old, added].flatMap((c) => c.events);
    const d = await store.load('case-d', 0);
    expect(d.version).toBe(5);
    expect(d.events).toEqual(stored.filter((e) => e.caseId === 'case-d'));
    const all = [];
    for await (const e of store.readAll(0, 100)) all.push(e);
    expect(all).toEqual([...stored].sort((a, b) => a.position - b.position));

    // A store a later version wrote to is refused, by name, before any write.
    await db
      .collection<{ _id: string; commitFormat?: number }>('store_meta')
      .updateOne({ _id: 'layout' }, { $set: { commitFormat: 3 } });
    const refused = await open(db, 4).then(() => undefined, refusal);
    expect(refused?.name).toBe('ConfigError');
    expect(refused?.message).toContain('commits in format 3');
    expect(refused?.message).toContain('reads formats up to 2');
    expect((await layout(db))?.commitFormat).toBe(3);
  });

  it('is the store’s own when EVENT_STORE_BUCKETS is unset, and 1 for a new store', async () => {
    expect(await storeBuckets(fresh())).toBe(NEW_STORE_BUCKETS);
    expect(NEW_STORE_BUCKETS).toBe(1);

    // Recorded: intake started without the variable keeps the store's count.
    const four = fresh();
    await (await open(four, 4)).append(commitOf('case-f', 1, 3));
    expect(await storeBuckets(four)).toBe(4);
    const intake = await startIntake({ db: four.databaseName });
    try {
      expect(intake.service.store.commits.buckets).toBe(4);
      expect((await intake.service.store.load('case-f', 0)).version).toBe(3);
    } finally {
      await intake.stop();
    }

    // Older than the record: inferred from its collections.
    const sixteen = fresh();
    await (await open(sixteen, 16)).append(commitOf('case-g', 1, 1));
    await sixteen.collection<{ _id: string }>('store_meta').deleteOne({ _id: 'layout' });
    expect(await storeBuckets(sixteen)).toBe(16);
  });
});
