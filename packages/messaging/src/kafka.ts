import { Kafka, logLevel, type Admin, type ITopicConfig, type logCreator } from 'kafkajs';

/**
 * Broker answers and lost connections that kafkajs logs as errors although it
 * retries them by itself; what it gives up on still gets logged (a crash).
 */
const TRANSIENT =
  /coordinator is loading|coordinator is not available|not the correct coordinator|leader not available|There is no leader|rebalance in progress|group is rebalancing|not coordinator|ECONNREFUSED|Connection error|Failed to connect to seed broker|Closed connection|does not host this topic-partition|not the leader for that topic-partition/i;

/** One kafkajs log entry, for a service's own logger. */
export interface KafkaLogEntry {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly namespace: string;
  readonly message: string;
  readonly error?: string;
  readonly broker?: unknown;
}

const LEVELS: Record<number, KafkaLogEntry['level']> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs's logs, without the transient ones it retries by itself, written
 * through `sink` (the service's logger, so they come out in its shape and
 * reach OpenTelemetry with its other logs), or as JSON lines on stderr.
 */
const quietLogs =
  (sink?: (e: KafkaLogEntry) => void): logCreator =>
  () =>
  ({ namespace, level, log }) => {
    const { message, error, ...rest } = log as { message: string; error?: string } & Record<
      string,
      unknown
    >;
    if (TRANSIENT.test(String(error ?? '')) || TRANSIENT.test(message)) return;
    const entry: KafkaLogEntry = {
      level: LEVELS[level] ?? 'error',
      namespace,
      message,
      error,
      broker: rest.broker,
    };
    if (sink) sink(entry);
    else console.error(JSON.stringify({ ...entry, logger: 'kafkajs' }));
  };

export function createKafka(
  brokers: string[],
  clientId: string,
  log?: (e: KafkaLogEntry) => void,
): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.ERROR,
    logCreator: quietLogs(log),
    retry: { initialRetryTime: 200, retries: 10 },
  });
}

/**
 * Creates missing topics and waits until every partition has a leader.
 * Existing topics are left as they are; a topic another instance creates at
 * the same moment counts as created. A broker that has just started may
 * answer metadata requests for a new topic with "does not host this
 * topic-partition" for a moment: that is waited out, not reported.
 */
export async function ensureTopics(
  kafka: Kafka,
  topics: ITopicConfig[],
  timeoutMs = 60_000,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: false }).catch((e: unknown) => {
        if (!/already exists/i.test(String((e as Error).message))) throw e;
      });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        if (
          meta.topics.every(
            (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
          )
        )
          return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
      if (Date.now() > deadline)
        throw new Error(
          `topics without leaders after ${timeoutMs} ms: ${topics.map((t) => t.topic).join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Messages on `topic` the consumer group has not committed yet, per the broker's high watermarks. */
export async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const lag = new GroupLag(kafka, groupId, topic, 0);
  try {
    return (await lag.read()).total;
  } finally {
    await lag.close();
  }
}

/** A group's lag on a topic: per partition, and in all. */
export interface Lag {
  readonly total: number;
  readonly partitions: ReadonlyMap<number, number>;
}

/**
 * A consumer group's lag, read through one admin connection kept for the
 * process (not one per read), and remembered for `ttlMs` so that metric
 * collection, health checks and queries asking at once make one round trip.
 */
export class GroupLag {
  private admin: Admin | undefined;
  private connecting: Promise<Admin> | undefined;
  private last: { at: number; lag: Promise<Lag> } | undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly groupId: string,
    readonly topic: string,
    private readonly ttlMs = 5_000,
  ) {}

  read(): Promise<Lag> {
    const now = Date.now();
    if (this.last && now - this.last.at < this.ttlMs) return this.last.lag;
    const lag = this.fetch();
    this.last = { at: now, lag };
    // A failed read is not remembered: the next one tries again.
    lag.catch(() => {
      if (this.last?.lag === lag) this.last = undefined;
    });
    return lag;
  }

  private async connected(): Promise<Admin> {
    if (this.admin) return this.admin;
    this.connecting ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      this.admin = admin;
      return admin;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async fetch(): Promise<Lag> {
    const admin = await this.connected();
    const [offsets, committed] = await Promise.all([
      admin.fetchTopicOffsets(this.topic),
      admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
    ]);
    const done = new Map(
      (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
    );
    const partitions = new Map<number, number>();
    for (const o of offsets)
      partitions.set(
        o.partition,
        Math.max(0, Number(o.high) - Math.max(0, done.get(o.partition) ?? 0)),
      );
    return { total: [...partitions.values()].reduce((a, b) => a + b, 0), partitions };
  }

  async close(): Promise<void> {
    const admin = this.admin ?? (await this.connecting?.catch(() => undefined));
    this.admin = undefined;
    await admin?.disconnect();
  }
}
