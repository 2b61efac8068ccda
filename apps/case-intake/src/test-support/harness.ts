import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { credentials } from '@grpc/grpc-js';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { events, intake } from '@enforcement/contracts';
import { namespaced, type TopicNames } from '@enforcement/messaging';
import { eventually, repoRoot, serviceEnv, stack, uniqueName } from '@enforcement/testing';
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
  const kafka = new Kafka({
    clientId: 'test-reader',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  const seen: Consumed[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }: { message: KafkaMessage }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      seen.push({
        key: String(message.key),
        event: events.CaseEvent.decode(message.value ?? Buffer.alloc(0)),
        headers,
      });
    },
  });
  try {
    await eventually(() => (until(seen) ? true : undefined), {
      timeoutMs: 30_000,
      what: `events on ${topic}`,
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
