import { MongoClient, type Db } from 'mongodb';

export interface MongoHandle {
  readonly client: MongoClient;
  readonly db: Db;
  close(force?: boolean): Promise<void>;
}

/** Connects, checks the server answers, and returns the named database. */
export async function connectMongo(uri: string, dbName: string): Promise<MongoHandle> {
  const client = new MongoClient(uri, {
    // FerretDB 1.x has no sessions for retryable writes; commands are
    // idempotent at the application level instead.
    retryWrites: false,
    serverSelectionTimeoutMS: 15_000,
    maxPoolSize: 20,
  });
  await client.connect();
  const db = client.db(dbName);
  await db.command({ ping: 1 });
  return { client, db, close: (force = false) => client.close(force) };
}
