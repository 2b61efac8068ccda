import { MongoClient, type Db } from 'mongodb';

export interface MongoHandle {
  readonly client: MongoClient;
  readonly db: Db;
  close(force?: boolean): Promise<void>;
}

/** True when the server answers a ping (FerretDB asks its backend too), else the reason. */
export async function ping(db: Db): Promise<true | string> {
  try {
    await db.command({ ping: 1 });
    return true;
  } catch (e) {
    return `database: ${(e as Error).message.split('\n')[0] ?? 'no answer'}`;
  }
}

/** Connects, checks the server answers, and returns the named database. */
export async function connectMongo(uri: string, dbName: string): Promise<MongoHandle> {
  const client = new MongoClient(uri, {
    // FerretDB 1.x has no sessions for retryable writes; commands are
    // idempotent at the application level instead.
    retryWrites: false,
    serverSelectionTimeoutMS: 15_000,
    // No call waits forever on a server that stopped answering (FerretDB
    // stalled on its pool): the socket gives up after a minute.
    socketTimeoutMS: 60_000,
    // Polled monitoring, every 2 s: after the server is killed and started
    // again, the streaming monitor was seen stuck on its dead connection for
    // minutes (every selection failing with it), so the service never recovered.
    serverMonitoringMode: 'poll',
    heartbeatFrequencyMS: 2_000,
    maxPoolSize: 20,
  });
  await client.connect();
  const db = client.db(dbName);
  await db.command({ ping: 1 });
  return { client, db, close: (force = false) => client.close(force) };
}
