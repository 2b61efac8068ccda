import { metrics, type Histogram } from '@opentelemetry/api';
import { MongoClient, type CommandStartedEvent, type Db } from 'mongodb';

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
  /**
   * For readiness: true while the store answers, else why not. It fails when
   * a command sent earlier has waited `stallMs` for its answer (a write
   * behind a lock another session holds: the store still answers `ping`
   * and reads, and nothing this service writes moves), and when the server
   * does not answer a `ping`.
   */
  ready(): Promise<true | string>;
  close(force?: boolean): Promise<void>;
}

/** The socket's deadline: no command waits longer for its answer (ms). */
export const SOCKET_TIMEOUT_MS = 60_000;

/**
 * The commands a client sent and has had no answer to yet, oldest first
 * (the driver's command monitoring: started, then succeeded or failed, by
 * request id).
 */
export class UnansweredCommands {
  private readonly sent = new Map<number, { what: string; at: number }>();

  started(
    e: Pick<CommandStartedEvent, 'requestId' | 'commandName' | 'databaseName' | 'command'>,
    at = Date.now(),
  ): void {
    // A getMore names its collection apart from the cursor.
    const target = [e.command[e.commandName], e.command.collection].find(
      (x): x is string => typeof x === 'string',
    );
    const on = target === undefined ? e.databaseName : `${e.databaseName}.${target}`;
    this.sent.set(e.requestId, { what: `${e.commandName} on ${on}`, at });
  }

  answered(requestId: number): void {
    this.sent.delete(requestId);
  }

  /** The command that has waited longest, and for how long (ms); undefined when none waits. */
  oldest(now = Date.now()): { what: string; waitedMs: number } | undefined {
    for (const [id, c] of this.sent) {
      // The socket gives up before this; an entry this old missed its end event.
      if (now - c.at > 2 * SOCKET_TIMEOUT_MS) {
        this.sent.delete(id);
        continue;
      }
      return { what: c.what, waitedMs: now - c.at };
    }
    return undefined;
  }
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
export async function connectMongo(
  uri: string,
  dbName: string,
  o: { stallMs?: number } = {},
): Promise<MongoHandle> {
  // Unless told: a quarter of the socket's deadline, as STORE_STALL_MS's default.
  const stallMs = o.stallMs ?? SOCKET_TIMEOUT_MS / 4;
  const client = new MongoClient(uri, {
    // FerretDB 1.x has no sessions for retryable writes; commands are
    // idempotent at the application level instead.
    retryWrites: false,
    serverSelectionTimeoutMS: 15_000,
    // No call waits forever on a server that stopped answering (FerretDB
    // stalled on its pool): the socket gives up after a minute.
    socketTimeoutMS: SOCKET_TIMEOUT_MS,
    // Polled monitoring, every 2 s: after the server is killed and started
    // again, the streaming monitor was seen stuck on its dead connection for
    // minutes (every selection failing with it), so the service never recovered.
    serverMonitoringMode: 'poll',
    heartbeatFrequencyMS: 2_000,
    maxPoolSize: 20,
    // Every command's duration and outcome, for db.client.operation.duration,
    // and the ones still waiting, for readiness.
    monitorCommands: true,
  });
  const unanswered = new UnansweredCommands();
  client.on('commandStarted', (e) => unanswered.started(e));
  client.on('commandSucceeded', (e) => {
    unanswered.answered(e.requestId);
    calls().record(e.duration / 1000, {
      'db.system.name': 'mongodb',
      'db.operation.name': e.commandName,
      'db.namespace': e.databaseName,
    });
  });
  client.on('commandFailed', (e) => {
    unanswered.answered(e.requestId);
    calls().record(e.duration / 1000, {
      'db.system.name': 'mongodb',
      'db.operation.name': e.commandName,
      'db.namespace': e.databaseName,
      'error.type': (e.failure as { codeName?: string }).codeName ?? e.failure.name,
    });
  });
  await client.connect();
  const db = client.db(dbName);
  await db.command({ ping: 1 });
  return {
    client,
    db,
    ready: async () => {
      const waiting = unanswered.oldest();
      if (waiting && waiting.waitedMs >= stallMs)
        return `database: ${waiting.what} has had no answer for ${Math.floor(waiting.waitedMs / 1000)} s`;
      return ping(db);
    },
    close: (force = false) => client.close(force),
  };
}
