import { randomUUID } from 'node:crypto';
import { verifierFrom } from '@enforcement/auth';
import { intake } from '@enforcement/contracts';
import {
  createGrpcServer,
  serverCredentialsFrom,
  serviceNameOf,
  watchReadiness,
  type Readiness,
} from '@enforcement/grpc-kit';
import {
  createKafka,
  ensureTopics,
  namespaced,
  namespacedGroup,
  type TopicNames,
} from '@enforcement/messaging';
import { connectMongo } from '@enforcement/mongo-kit';
import { createLogger, logTo } from '@enforcement/telemetry';
import { BENCHMARKS_2021, type BenchmarkTable } from '@enforcement/reference-data';
import { KafkaCheckpoints } from './adapters/kafka/checkpoints.js';
import { APPEND_TIME, KafkaIngress } from './adapters/kafka/ingress.js';
import { MongoIngressLedger } from './adapters/mongo/ingress-ledger.js';
import { MongoAccessLog } from './adapters/mongo/access-log.js';
import { StreamHoldsExchange } from './adapters/mongo/stream-holds.js';
import { StreamFeeds } from './application/stream-feeds.js';
import { chainKeysFrom } from './application/chain-keys.js';
import { KafkaRelay } from './adapters/kafka/relay.js';
import { intakeService } from './adapters/grpc/intake-service.js';
import { MongoEventStore, storeBuckets } from './adapters/mongo/event-store.js';
import { brokenHistories, type IntakeDeps } from './application/execute-command.js';
import { systemClock, type Clock } from './application/ports.js';
import { HeadCache } from './application/stream-cache.js';
import { CaseTurns } from './application/case-turns.js';
import type { IntakeConfig } from './config.js';

export interface IntakeOverrides {
  readonly clock?: Clock;
  readonly benchmarks?: BenchmarkTable;
  /** Topic names (tests isolate themselves with their own). */
  readonly topics?: Partial<TopicNames>;
  /** 'off' stores without publishing, as a crash between store and publish would. */
  readonly relay?: 'on' | 'off';
  readonly log?: (msg: string, err?: unknown) => void;
}

export interface CaseIntake {
  readonly port: number;
  readonly address: string;
  readonly deps: IntakeDeps;
  readonly store: MongoEventStore;
  readonly relay: KafkaRelay;
  readonly checkpoints: KafkaCheckpoints;
  /** What health last found failing (empty while SERVING). */
  readonly readiness: Readiness;
  readonly accessLog: MongoAccessLog;
  /** Graceful: stop taking calls, flush the relay, close connections. */
  stop(): Promise<void>;
  /** Abrupt: drop connections without flushing (the outbox keeps what was stored). */
  kill(): Promise<void>;
}

/** Wires the service from its configuration; main.ts and the tests both call it. */
export async function createCaseIntake(
  config: IntakeConfig,
  o: IntakeOverrides = {},
): Promise<CaseIntake> {
  // Refused key material stops the service before it connects to anything.
  const verify = verifierFrom(config);
  const transport = {
    credentials: serverCredentialsFrom(config),
    reflection: config.GRPC_REFLECTION,
    requestBytesInFlight: config.REQUEST_BYTES_IN_FLIGHT,
  };
  const chainKeys = chainKeysFrom(config);
  const logger = createLogger('case-intake');
  const log = o.log ?? logTo(logger);
  const topics: TopicNames = { ...namespaced(config.TOPIC_NAMESPACE), ...o.topics };
  const mongo = await connectMongo(config.MONGODB_URI, config.MONGODB_DB, {
    stallMs: config.STORE_STALL_MS,
  });
  const store = new MongoEventStore(mongo.db, {
    buckets: config.EVENT_STORE_BUCKETS || (await storeBuckets(mongo.db)),
    positionBlock: config.POSITION_BLOCK,
  });
  await store.init();
  const accessLog = new MongoAccessLog(mongo.db);
  await accessLog.init();

  // kafkajs logs through the service's logger: one shape, one path to OpenTelemetry.
  const kafka = createKafka(config.KAFKA_BROKERS, config.KAFKA_CLIENT_ID, (e) =>
    logger[e.level](
      { logger: 'kafkajs', namespace: e.namespace, broker: e.broker, error: e.error },
      e.message,
    ),
  );
  await ensureTopics(kafka, [
    { topic: topics.caseEvents, numPartitions: config.CASE_EVENTS_PARTITIONS },
    // Stamped by the broker when it takes a submission: its token is judged as of then.
    { topic: topics.intakeSubmissions, numPartitions: 6, configEntries: [APPEND_TIME] },
    { topic: topics.intakeReceipts, numPartitions: 6 },
    { topic: topics.intakeDeadLetter, numPartitions: 1 },
    {
      topic: topics.caseCheckpoints,
      numPartitions: 6,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
    {
      topic: topics.feedMarks,
      numPartitions: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ]);
  const checkpoints = new KafkaCheckpoints(kafka, chainKeys, {
    topic: topics.caseCheckpoints,
    groupBase: namespacedGroup(
      config.TOPIC_NAMESPACE,
      `${config.KAFKA_CLIENT_ID}.intake-checkpoints`,
    ),
    log,
  });
  // Read to the end before anything is appended or verified against it.
  await checkpoints.start();
  // At 0 from the start, so that an alert on its increase sees the first break.
  brokenHistories().add(0);
  const relay = new KafkaRelay(kafka, store, {
    topic: topics.caseEvents,
    marksTopic: topics.feedMarks,
    checkpoints: {
      topic: topics.caseCheckpoints,
      message: (c) => checkpoints.message(c),
      note: (c) => checkpoints.note(c),
      get: (caseId) => checkpoints.get(caseId),
    },
    batchSize: config.RELAY_BATCH,
    maxBatchBytes: config.MAX_EVENT_BYTES,
    sweepAfterMs: config.RELAY_SWEEP_AFTER_MS,
    sweepEveryMs: Math.max(1_000, config.RELAY_SWEEP_AFTER_MS),
    onError: (e) => log('relay: publish failed, will retry', e),
  });
  const noRelay = o.relay === 'off';
  if (!noRelay) await relay.start();

  const deps: IntakeDeps = {
    store,
    publisher: noRelay
      ? { enqueue: () => undefined, mark: () => undefined, published: () => Promise.resolve() }
      : relay,
    clock: o.clock ?? systemClock,
    benchmarks: o.benchmarks ?? BENCHMARKS_2021,
    heads: new HeadCache(config.HEAD_CACHE_SIZE, config.HEAD_CACHE_BYTES),
    turns: new CaseTurns(),
    chainKeys,
    checkpoints,
    accessLog,
    maxEventBytes: config.MAX_EVENT_BYTES,
    historyBytes: config.GET_CASE_HISTORY_BYTES,
  };
  const onUnexpected = (e: unknown) => log('unexpected error', e);

  const ingressGroup = namespacedGroup(
    config.TOPIC_NAMESPACE,
    `${config.KAFKA_CLIENT_ID}.intake-ingress`,
  );
  const ledger = new MongoIngressLedger(mongo.db, ingressGroup, topics.intakeSubmissions);
  if (config.INGRESS_ENABLED) await ledger.init();
  const ingress = config.INGRESS_ENABLED
    ? new KafkaIngress(kafka, deps, {
        groupId: ingressGroup,
        topics: {
          submissions: topics.intakeSubmissions,
          receipts: topics.intakeReceipts,
          deadLetter: topics.intakeDeadLetter,
        },
        verify,
        onUnexpected,
        warn: (msg) => log(msg),
        stallMs: config.INGRESS_STALL_MS,
        markEveryMs: config.INGRESS_MARK_EVERY_MS,
        releasedHoldsKeptMs: config.INGRESS_RELEASED_HOLDS_KEPT_MS,
        ledger,
      })
    : undefined;
  await ingress?.start();

  // Every SubmitEvents stream of this instance, held back by the other
  // instances' too: one agency's streams may be on several.
  const feeds = new StreamFeeds();
  const holds = new StreamHoldsExchange(mongo.db, feeds, {
    instance: randomUUID(),
    everyMs: config.STREAM_HOLDS_EVERY_MS,
    leaseMs: config.STREAM_HOLDS_LEASE_MS,
    publish: (marks) => deps.publisher.mark(marks),
    log,
  });
  await holds.round();
  holds.start();

  const grpc = createGrpcServer(
    {
      serviceName: 'case-intake',
      version: config.SERVICE_VERSION,
      gitCommit: config.GIT_COMMIT,
    },
    { 'grpc.max_receive_message_length': config.GRPC_MAX_REQUEST_BYTES },
    transport,
  );
  grpc.addService(
    intake.CaseIntakeServiceService,
    intakeService(deps, {
      verify,
      submitMaxInFlight: config.SUBMIT_MAX_IN_FLIGHT,
      streamStallMs: config.STREAM_STALL_MS,
      streamIdleMs: config.STREAM_IDLE_MS,
      feeds,
      requests: grpc.requests,
      onUnexpected,
    }),
  );
  const port = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
  const readiness = watchReadiness(
    grpc,
    {
      store: () => mongo.ready(),
      relay: () => Promise.resolve(noRelay ? true : relay.health()),
      // Other instances' heads stop reaching this one once kafkajs gives up following the topic.
      checkpoints: () => checkpoints.health(),
      ...(ingress
        ? {
            ingress: () => Promise.resolve(ingress.health()),
          }
        : {}),
    },
    {
      intervalMs: config.HEALTH_CHECK_MS,
      log,
      // Commands are stored, and answered, while publication, the ingress or
      // one of its partitions waits: a load balancer keeps sending them here.
      services: { [serviceNameOf(intake.CaseIntakeServiceService)]: ['store', 'checkpoints'] },
    },
  );

  return {
    port,
    address: `${config.GRPC_HOST}:${port}`,
    deps,
    store,
    relay,
    checkpoints,
    accessLog,
    readiness,
    stop: async () => {
      readiness.stop();
      await grpc.shutdown();
      await ingress?.stop();
      await holds.stop();
      if (!noRelay) await relay.stop();
      await checkpoints.stop();
      await mongo.close();
    },
    kill: async () => {
      readiness.stop();
      grpc.server.forceShutdown();
      holds.abort();
      await relay.abort();
      await ingress?.stop().catch(() => undefined);
      await checkpoints.stop().catch(() => undefined);
      await mongo.close(true).catch(() => undefined);
    },
  };
}
