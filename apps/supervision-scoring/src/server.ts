import { verifierFrom } from '@enforcement/auth';
import { scoring } from '@enforcement/contracts';
import {
  channelCredentialsFrom,
  createGrpcServer,
  serverCredentialsFrom,
  serviceNameOf,
  watchReadiness,
  type Readiness,
} from '@enforcement/grpc-kit';
import {
  createKafka,
  DeliveryCheck,
  ensureTopics,
  namespaced,
  namespacedGroup,
  type TopicNames,
} from '@enforcement/messaging';
import { connectMongo } from '@enforcement/mongo-kit';
import { createLogger, logTo } from '@enforcement/telemetry';
import { IntakeClient } from './adapters/grpc/intake-client.js';
import { scoringService } from './adapters/grpc/scoring-service.js';
import { intakeTokenSource } from './adapters/grpc/intake-token.js';
import { KafkaFeedMarks } from './adapters/kafka/feed-marks.js';
import { KafkaScoreHub } from './adapters/kafka/score-hub.js';
import { observeUnansweredOrders } from './adapters/order-metrics.js';
import type { Clock } from './application/ports.js';
import type { ScoringConfig } from './config.js';
import { DEFAULT_RULES } from './domain/rules.js';
import { MODEL_V1, type ScoringModel } from './domain/scoring-model.js';
import { ScoringRuntime } from './runtime.js';

export interface ScoringOverrides {
  readonly clock?: Clock;
  readonly model?: ScoringModel;
  readonly topics?: Partial<TopicNames>;
  readonly log?: (msg: string, err?: unknown) => void;
}

export interface SupervisionScoring {
  readonly port: number;
  readonly address: string;
  readonly runtime: ScoringRuntime;
  /** What health last found failing (empty while SERVING). */
  readonly readiness: Readiness;
  stop(): Promise<void>;
  /** Abrupt: no draining, as a crash would. */
  kill(): Promise<void>;
}

export async function createSupervisionScoring(
  config: ScoringConfig,
  o: ScoringOverrides = {},
): Promise<SupervisionScoring> {
  // Refused key material stops the service before it connects to anything.
  const verify = verifierFrom(config);
  const transport = {
    credentials: serverCredentialsFrom(config),
    reflection: config.GRPC_REFLECTION,
    requestBytesInFlight: config.REQUEST_BYTES_IN_FLIGHT,
  };
  const intakeToken = intakeTokenSource(config);
  const logger = createLogger('supervision-scoring');
  const log = o.log ?? logTo(logger);
  const topics: TopicNames = { ...namespaced(config.TOPIC_NAMESPACE), ...o.topics };
  const mongo = await connectMongo(config.MONGODB_URI, config.MONGODB_DB, {
    stallMs: config.STORE_STALL_MS,
  });
  // kafkajs logs through the service's logger: one shape, one path to OpenTelemetry.
  const kafka = createKafka(config.KAFKA_BROKERS, config.KAFKA_CLIENT_ID, (e) =>
    logger[e.level](
      { logger: 'kafkajs', namespace: e.namespace, broker: e.broker, error: e.error },
      e.message,
    ),
  );
  await ensureTopics(kafka, [
    { topic: topics.caseEvents, numPartitions: 12 },
    { topic: topics.scoringDeadLetter, numPartitions: 1 },
    { topic: topics.scores, numPartitions: 6 },
    {
      topic: topics.feedMarks,
      numPartitions: 1,
      configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    },
  ]);
  const delivery = new DeliveryCheck();
  const producer = kafka.producer({ createPartitioner: delivery.createPartitioner });
  await producer.connect();
  const hub = new KafkaScoreHub(
    kafka,
    producer,
    topics.scores,
    (e) => log('score hub', e),
    delivery,
  );
  await hub.start();
  const marks = new KafkaFeedMarks(
    kafka,
    topics.feedMarks,
    namespacedGroup(config.TOPIC_NAMESPACE, config.SCORING_GROUP),
    log,
  );
  await marks.start().catch(async (e: unknown) => {
    await hub.stop().catch(() => undefined);
    await marks.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await mongo.close().catch(() => undefined);
    throw e;
  });

  const intake = new IntakeClient(
    config.INTAKE_ADDRESS,
    intakeToken,
    channelCredentialsFrom({
      ca: config.INTAKE_TLS_CA,
      cert: config.GRPC_TLS_CERT,
      key: config.GRPC_TLS_KEY,
    }),
  );

  const clock = o.clock ?? { now: () => new Date() };
  const runtime = new ScoringRuntime({
    db: mongo.db,
    kafka,
    producer,
    hub,
    clock,
    model: o.model ?? MODEL_V1,
    rules: {
      ...DEFAULT_RULES,
      approachingDays: config.RULES_APPROACHING_DAYS,
      responseDays: config.RULES_RESPONSE_DAYS,
      escalationResponseDays: config.RULES_ESCALATION_RESPONSE_DAYS,
      maxEscalationLevel: config.RULES_MAX_ESCALATION_LEVEL,
      evaluationEventIds: config.RULES_EVALUATION_EVENT_IDS,
    },
    intake,
    topics: { caseEvents: topics.caseEvents, deadLetter: topics.scoringDeadLetter },
    groupBase: namespacedGroup(config.TOPIC_NAMESPACE, config.SCORING_GROUP),
    buckets: config.READ_MODEL_BUCKETS,
    partitionsConsumedConcurrently: config.PARTITIONS_CONSUMED_CONCURRENTLY,
    lingerMs: config.PROJECTION_LINGER_MS,
    stallMs: config.PROJECTION_STALL_MS,
    marks,
    waitingLimitBytes: config.CASE_WAITING_LIMIT_BYTES,
    tickMs: config.RULES_TICK_MS,
    ruleClock: config.RULES_CLOCK,
    lateness: config.RULES_LATENESS_MS,
    log,
  });
  await runtime.start().catch(async (e: unknown) => {
    // Refused (read models of a later layout) or failed: nothing stays open.
    await hub.stop().catch(() => undefined);
    await marks.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    intake.close();
    await mongo.close().catch(() => undefined);
    throw e;
  });

  const grpc = createGrpcServer(
    {
      serviceName: 'supervision-scoring',
      version: config.SERVICE_VERSION,
      gitCommit: config.GIT_COMMIT,
    },
    {},
    transport,
  );
  grpc.addService(
    scoring.ScoringServiceService,
    scoringService(runtime, verify, (e) => log('unexpected error', e), {
      watchStallMs: config.WATCH_STALL_MS,
      watchBacklogMax: config.WATCH_BACKLOG_MAX,
    }),
  );
  const port = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
  const readiness = watchReadiness(
    grpc,
    {
      store: () => mongo.ready(),
      consumer: runtime.consumerHealth,
      watch: hub.health,
      marks: marks.health,
    },
    {
      intervalMs: config.HEALTH_CHECK_MS,
      log,
      // Queries read the shared read models: they are answered while this
      // instance's projection, rules or watches wait on Kafka (a Kafka
      // outage would otherwise take every instance out at once, while
      // nothing new reaches the read models for a watch to miss).
      services: { [serviceNameOf(scoring.ScoringServiceService)]: ['store'] },
    },
  );
  const unobserveOrders = observeUnansweredOrders(() => runtime.reader().unansweredOrders());

  const closeAll = async () => {
    unobserveOrders();
    await hub.stop().catch(() => undefined);
    await marks.stop().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    intake.close();
  };
  return {
    port,
    address: `${config.GRPC_HOST}:${port}`,
    runtime,
    readiness,
    stop: async () => {
      readiness.stop();
      await grpc.shutdown();
      await runtime.stop();
      await closeAll();
      await mongo.close();
    },
    kill: async () => {
      // Storage goes first, mid-message, as in a crash; nothing is drained.
      readiness.stop();
      grpc.server.forceShutdown();
      await mongo.close(true).catch(() => undefined);
      await runtime.stop().catch(() => undefined);
      await closeAll();
    },
  };
}
