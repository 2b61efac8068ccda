import { metrics, type Histogram } from '@opentelemetry/api';
import { MongoClient, type Db } from 'mongodb';

let callDuration: Histogram | undefined;
/** Store call latency and errors, by the database conventions' name and attributes. */
const calls = () =>
  (callDuration ??= metrics.getMeter('mongo-kit').createHistogram('db.client.operation.duration', {
    description: 'Duration of database calls, by operation; failed ones carry error.type',
    unit: 's',
    advice: {
      explicitBucketBoundaries: [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60,
      ],
    },
  }));

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
    // Every command's duration and outcome, for db.client.operation.duration.
    monitorCommands: true,
  });
  client.on('commandSucceeded', (e) =>
    calls().record(e.duration / 1000, {
      'db.system.name': 'mongodb',
      'db.operation.name': e.commandName,
      'db.namespace': e.databaseName,
    }),
  );
  client.on('commandFailed', (e) =>
    calls().record(e.duration / 1000, {
      'db.system.name': 'mongodb',
      'db.operation.name': e.commandName,
      'db.namespace': e.databaseName,
      'error.type': (e.failure as { codeName?: string }).codeName ?? e.failure.name,
    }),
  );
  await client.connect();
  const db = client.db(dbName);
  await db.command({ ping: 1 });
  return { client, db, close: (force = false) => client.close(force) };
}
