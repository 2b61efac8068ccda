import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';

/**
 * Many writers sending multi-statement updates at once (scoring's order
 * upserts, reporting's pages) all finish, and the server answers afterwards.
 * FerretDB 1.24 unpatched kept each statement's read connection until the
 * whole command ended while its write took another, so 60 such commands at
 * once took its whole PostgreSQL pool and waited on each other for good:
 * every command timed out and the server never answered again
 * (infra/ferretdb/patches/0004). Real MongoDB passes as is.
 */
describe('concurrent multi-statement updates', () => {
  let client: MongoClient;
  const db = uniqueName('updpool').replace(/-/g, '_');
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, {
      maxPoolSize: 80,
      retryWrites: false,
      // A wedged server shows as failed writes, not as a test that never ends.
      socketTimeoutMS: 45_000,
    });
  });
  afterAll(async () => {
    await client?.db(db).dropDatabase();
    await client?.close();
  });

  it('finish, whatever their number, and leave the server answering', async () => {
    const col = client.db(db).collection<{ _id: string; round: number }>('pages');
    const WRITERS = 60;
    const STATEMENTS = 60;
    const results = await Promise.allSettled(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let round = 0; round < 3; round++)
          await col.bulkWrite(
            Array.from({ length: STATEMENTS }, (_, i) => ({
              replaceOne: {
                filter: { _id: `w${w}-${i}` },
                replacement: { round },
                upsert: true,
              },
            })),
            { ordered: false },
          );
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect(await col.countDocuments({ round: 2 })).toBe(WRITERS * STATEMENTS);
    expect(await client.db(db).command({ ping: 1 })).toMatchObject({ ok: 1 });
  }, 120_000);
});
