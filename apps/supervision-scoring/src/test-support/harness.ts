import { credentials } from '@grpc/grpc-js';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { events, scoring } from '@enforcement/contracts';
import { namespaced, type TopicNames } from '@enforcement/messaging';
import { eventually, serviceEnv, stack, uniqueName } from '@enforcement/testing';
import { loadScoringConfig } from '../config.js';
import {
  createSupervisionScoring,
  type ScoringOverrides,
  type SupervisionScoring,
} from '../server.js';

export interface TestScoring {
  readonly service: SupervisionScoring;
  readonly client: scoring.ScoringServiceClient;
  readonly topics: TopicNames;
  readonly db: string;
  stop(): Promise<void>;
}

export function testTopics(): TopicNames {
  const run = uniqueName('s');
  return {
    ...namespaced(run),
    caseEvents: `${run}.case-events`,
    scoringDeadLetter: `${run}.dlq`,
    scores: `${run}.scores`,
  };
}

export async function startScoring(
  o: ScoringOverrides & { db?: string; topics?: TopicNames; env?: Record<string, string> } = {},
): Promise<TestScoring> {
  const db = o.db ?? uniqueName('scoring').replace(/-/g, '_');
  const topics = o.topics ?? testTopics();
  const config = loadScoringConfig({
    ...serviceEnv(uniqueName('c')),
    MONGODB_DB: db,
    READ_MODEL_BUCKETS: '4',
    RULES_TICK_MS: '0',
    SCORING_GROUP: `scoring-${db}`,
    INTAKE_ADDRESS: '127.0.0.1:1',
    ...o.env,
  });
  const service = await createSupervisionScoring(config, { log: () => undefined, ...o, topics });
  const client = new scoring.ScoringServiceClient(service.address, credentials.createInsecure());
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

/**
 * Two instances on one database and one topic, started one after the other,
 * returned once the group has given each some of the twelve partitions.
 */
export async function startTwoSharing(
  tag: string,
  env?: Record<string, string>,
): Promise<[TestScoring, TestScoring]> {
  const db = uniqueName(tag).replace(/-/g, '_');
  const topics = testTopics();
  const first = await startScoring({ db, topics, env });
  const second = await startScoring({ db, topics, env });
  await eventually(
    () => {
      const a = first.service.runtime.consumer.ownedPartitions;
      const b = second.service.runtime.consumer.ownedPartitions;
      return a.length > 0 && b.length > 0 && a.length + b.length === 12 ? true : undefined;
    },
    { timeoutMs: 60_000, what: 'partitions shared by the two instances' },
  );
  return [first, second];
}

/** A new case id (`tag` and a unique part) whose partition `owner` applies now. */
export function caseAppliedBy(owner: TestScoring, tag: string): string {
  let caseId = uniqueName(tag);
  while (!owner.service.runtime.consumer.owns(caseId)) caseId = uniqueName(tag);
  return caseId;
}

/** Publishes events (or raw bytes) to a topic, keyed by case id, as intake's relay would. */
export async function publish(
  topic: string,
  items: (events.CaseEvent | { key: string; raw: Buffer })[],
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'test-pub',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await producer.send({
    topic,
    messages: items.map((e) =>
      'raw' in e
        ? { key: e.key, value: e.raw }
        : { key: e.caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) },
    ),
  });
  await producer.disconnect();
}

export { tokenFor, unary } from '@enforcement/testing';
