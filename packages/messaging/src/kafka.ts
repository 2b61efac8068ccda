import { Kafka, logLevel, type ITopicConfig, type logCreator } from 'kafkajs';

/**
 * Broker answers and lost connections that kafkajs logs as errors although it
 * retries them by itself; what it gives up on still gets logged (a crash).
 */
const TRANSIENT =
  /coordinator is loading|coordinator is not available|not the correct coordinator|leader not available|There is no leader|rebalance in progress|not coordinator|ECONNREFUSED|Connection error|Failed to connect to seed broker|Closed connection/i;

const quietLogs: logCreator =
  () =>
  ({ namespace, level, log }) => {
    const { message, error, ...rest } = log as { message: string; error?: string } & Record<
      string,
      unknown
    >;
    if (TRANSIENT.test(String(error ?? '')) || TRANSIENT.test(message)) return;
    const line = JSON.stringify({
      level: logLevel[level],
      logger: 'kafkajs',
      namespace,
      message,
      error,
      broker: rest.broker,
    });
    console.error(line);
  };

export function createKafka(brokers: string[], clientId: string): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.ERROR,
    logCreator: quietLogs,
    retry: { initialRetryTime: 200, retries: 10 },
  });
}

/** Creates missing topics; existing ones are left as they are. */
export async function ensureTopics(kafka: Kafka, topics: ITopicConfig[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length > 0) {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    }
  } finally {
    await admin.disconnect();
  }
}
