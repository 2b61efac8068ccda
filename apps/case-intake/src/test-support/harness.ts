import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials, type Metadata } from '@grpc/grpc-js';
import { ConfigResourceTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { events, intake } from '@enforcement/contracts';
import { ensureTopics, namespaced, type TopicNames } from '@enforcement/messaging';
import {
  eventually,
  repoRoot,
  serviceEnv,
  stack,
  uniqueName,
  untilTopicTakes,
} from '@enforcement/testing';
import { loadIntakeConfig } from '../config.js';
import { createCaseIntake, type CaseIntake, type IntakeOverrides } from '../server.js';

export interface TestIntake {
  readonly service: CaseIntake;
  readonly client: intake.CaseIntakeServiceClient;
  readonly topics: TopicNames;
  readonly db: string;
  stop(): Promise<void>;
}

/** A case-intake on the real stack, with its own database and topics. */
export async function startIntake(
  o: IntakeOverrides & { db?: string; topics?: TopicNames; env?: Record<string, string> } = {},
): Promise<TestIntake> {
  const db = o.db ?? uniqueName('intake').replace(/-/g, '_');
  const run = uniqueName('t');
  const topics =
    o.topics ??
    ({
      ...namespaced(run),
      caseEvents: `${run}.case-events`,
      intakeSubmissions: `${run}.submissions`,
      intakeReceipts: `${run}.receipts`,
      intakeDeadLetter: `${run}.dlq`,
    } satisfies TopicNames);
  const config = loadIntakeConfig({
    ...serviceEnv(run),
    MONGODB_DB: db,
    CASE_EVENTS_PARTITIONS: '3',
    RELAY_SWEEP_AFTER_MS: '60000',
    ...o.env,
  });
  const service = await createCaseIntake(config, { ...o, topics, log: () => undefined });
  const client = new intake.CaseIntakeServiceClient(service.address, credentials.createInsecure());
  return {
    service,
    client,
    topics,
    db,
    stop: async () => {
      client.close();
      await service.stop();
    },
  };
}

/** Sends `items` over one SubmitEvents stream, ends it, and resolves to every ack. */
export function submitAll(
  client: intake.CaseIntakeServiceClient,
  md: Metadata,
  items: readonly intake.SubmitEventsRequest[],
): Promise<intake.SubmitEventsResponse[]> {
  return new Promise((resolve, reject) => {
    const acks: intake.SubmitEventsResponse[] = [];
    const call = client.submitEvents(md);
    call.on('data', (a: intake.SubmitEventsResponse) => acks.push(a));
    call.on('end', () => resolve(acks));
    call.on('error', reject);
    for (const item of items) call.write(item);
    call.end();
  });
}

/**
 * An intake whose case-events topic refuses records over 20,000 bytes (a
 * record Kafka refuses for good), sweeping its outbox every second so that
 * a release is taken up quickly; and a Kafka client for the topic's admin.
 */
export async function intakeBehindSmallTopic(
  name: string,
): Promise<{ svc: TestIntake; kafka: Kafka }> {
  const run = uniqueName(name);
  const topics = namespaced(run);
  const kafka = new Kafka({
    clientId: run,
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  await ensureTopics(kafka, [
    {
      topic: topics.caseEvents,
      numPartitions: 3,
      configEntries: [{ name: 'max.message.bytes', value: '20000' }],
    },
  ]);
  const svc = await startIntake({
    topics,
    env: { INGRESS_ENABLED: 'false', RELAY_SWEEP_AFTER_MS: '1000' },
  });
  return { svc, kafka };
}

/**
 * Raises the topic's limit to 1 MB, as an operator mends it, and waits
 * until every broker applies it: the controller acknowledges the change
 * before then, and a release before then would be refused and parked anew.
 */
export async function raiseTopicLimit(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topic,
          configEntries: [{ name: 'max.message.bytes', value: '1048576' }],
        },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  await untilTopicTakes(stack().kafkaBrokers, topic, 30_000);
}

export interface Consumed {
  readonly key: string;
  readonly event: events.CaseEvent;
  readonly headers: Record<string, string>;
}

/** Reads a topic from the start until `until` holds (or times out). */
export async function consumeEvents(
  topic: string,
  until: (seen: Consumed[]) => boolean,
): Promise<Consumed[]> {
  return consumeTopic(
    topic,
    (message) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      return {
        key: String(message.key),
        event: events.CaseEvent.decode(message.value ?? Buffer.alloc(0)),
        headers,
      };
    },
    until,
  );
}

/** Reads a topic from its start until `until` holds of what was read (`timeoutMs` at most). */
export async function consumeTopic<T>(
  topic: string,
  decode: (message: KafkaMessage) => T,
  until: (seen: T[]) => boolean,
  timeoutMs = 30_000,
): Promise<T[]> {
  const kafka = new Kafka({
    clientId: 'test-reader',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: T[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: { message: KafkaMessage }) => {
      seen.push(decode(message));
    },
  });
  try {
    await eventually(() => (until(seen) ? true : undefined), {
      timeoutMs,
      what: `records on ${topic}`,
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

export async function withMongo<T>(fn: (client: MongoClient) => Promise<T>): Promise<T> {
  const client = await MongoClient.connect(stack().mongoUri);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** The operator's command (npm run store), as built; its exit status and output. */
export async function storeAdmin(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = join(repoRoot(), 'apps/case-intake/dist/store-admin.js');
  try {
    const r = await promisify(execFile)(process.execPath, [script, ...args], {
      env: { ...process.env, MONGODB_URI: stack().mongoUri, ...env },
      timeout: 60_000,
    });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

export { tokenFor, unary } from '@enforcement/testing';
