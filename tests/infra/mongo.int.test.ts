import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, MongoServerError, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';

describe('MongoDB-wire server (real, via the official driver)', () => {
  let client: MongoClient;
  let db: Db;

  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    db = client.db(uniqueName('infra'));
  });

  afterAll(async () => {
    await db.dropDatabase();
    await client.close();
  });

  it('reports a unique-index violation as a duplicate-key error and keeps the first document', async () => {
    const commits = db.collection<{ streamId: string; version: number; payload: string }>(
      'commits',
    );
    await commits.createIndex({ streamId: 1, version: 1 }, { unique: true });
    await commits.insertOne({ streamId: 'case-1', version: 1, payload: 'first' });

    const second = commits.insertOne({ streamId: 'case-1', version: 1, payload: 'second' });

    await expect(second).rejects.toBeInstanceOf(MongoServerError);
    await expect(second).rejects.toMatchObject({ code: 11000 });
    const stored = await commits.find({ streamId: 'case-1' }).toArray();
    expect(stored.map((d) => d.payload)).toEqual(['first']);
  });

  it('applies an update only when the expected version matches', async () => {
    const heads = db.collection<{ _id: string; version: number; status: string }>('heads');
    await heads.insertOne({ _id: 'case-2', version: 3, status: 'DISPATCHED' });

    const won = await heads.findOneAndUpdate(
      { _id: 'case-2', version: 3 },
      { $set: { status: 'IN_PROGRESS' }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    );
    const stale = await heads.updateOne(
      { _id: 'case-2', version: 3 },
      { $set: { status: 'CONCLUDED' }, $inc: { version: 1 } },
    );

    expect(won).toMatchObject({ version: 4, status: 'IN_PROGRESS' });
    expect(stale.matchedCount).toBe(0);
    expect(await heads.findOne({ _id: 'case-2' })).toMatchObject({
      version: 4,
      status: 'IN_PROGRESS',
    });
  });
});
