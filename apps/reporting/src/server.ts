import { Partitioners } from 'kafkajs';
import { verifierFrom } from '@enforcement/auth';
import { reporting } from '@enforcement/contracts';
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
import { reportingService } from './adapters/grpc/reporting-service.js';
import { FactsConsumer, KafkaDeadLetters } from './adapters/kafka/facts-consumer.js';
import { MongoFactStore } from './adapters/mongo/fact-store.js';
import { FactsProjector } from './application/projector.js';
import { Reports, type Clock } from './application/reports.js';
import type { ReportingConfig } from './config.js';

export interface ReportingOverrides {
  readonly clock?: Clock;
  readonly topics?: Partial<TopicNames>;
  readonly log?: (msg: string, err?: unknown) => void;
}

export interface Reporting {
  readonly port: number;
  readonly address: string;
  readonly reports: Reports;
  readonly consumer: FactsConsumer;
  /** What health last found failing (empty while SERVING). */
  readonly readiness: Readiness;
  stop(): Promise<void>;
}

export async function createReporting(
  config: ReportingConfig,
  o: ReportingOverrides = {},
): Promise<Reporting> {
  // Refused key material stops the service before it connects to anything.
  const verify = verifierFrom(config);
  const transport = {
    credentials: serverCredentialsFrom(config),
    reflection: config.GRPC_REFLECTION,
    requestBytesInFlight: config.REQUEST_BYTES_IN_FLIGHT,
  };
  const logger = createLogger('reporting');
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
    { topic: topics.reportingDeadLetter, numPartitions: 1 },
  ]);
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();

  const store = new MongoFactStore(mongo.db);
  const projector = new FactsProjector(
    store,
    new KafkaDeadLetters(producer, topics.reportingDeadLetter, (e) =>
      log('dead-letter topic refused a letter whole; sent it without its value', e),
    ),
    log,
    undefined,
    config.CASE_WAITING_LIMIT_BYTES,
  );
  const consumer = new FactsConsumer(kafka, projector, {
    groupId: namespacedGroup(config.TOPIC_NAMESPACE, config.REPORTING_GROUP),
    topic: topics.caseEvents,
    partitionsConsumedConcurrently: config.PARTITIONS_CONSUMED_CONCURRENTLY,
    lingerMs: config.PROJECTION_LINGER_MS,
    stallMs: config.PROJECTION_STALL_MS,
    log,
  });
  await consumer.start();

  const highWatermarks = async () =>
    new Map(
      (await admin.fetchTopicOffsets(topics.caseEvents)).map((p) => [p.partition, Number(p.high)]),
    );
  const reports = new Reports(
    store,
    highWatermarks,
    o.clock ?? { now: () => new Date() },
    config.REPORTING_SETTLE_MS,
  );

  const grpc = createGrpcServer(
    {
      serviceName: 'reporting',
      version: config.SERVICE_VERSION,
      gitCommit: config.GIT_COMMIT,
    },
    {},
    transport,
  );
  grpc.addService(
    reporting.ReportingServiceService,
    reportingService(reports, verify, (e) => log('unexpected error', e), config.REPORT_ISSUER),
  );
  const port = await grpc.listen(config.GRPC_HOST, config.GRPC_PORT);
  const readiness = watchReadiness(
    grpc,
    { store: () => mongo.ready(), consumer: consumer.health.check },
    {
      intervalMs: config.HEALTH_CHECK_MS,
      log,
      // Reports say the position they were computed from: they are answered
      // while the projection waits.
      services: { [serviceNameOf(reporting.ReportingServiceService)]: ['store'] },
    },
  );

  return {
    port,
    address: `${config.GRPC_HOST}:${port}`,
    reports,
    consumer,
    readiness,
    stop: async () => {
      readiness.stop();
      await grpc.shutdown();
      await consumer.stop().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await mongo.close();
    },
  };
}
