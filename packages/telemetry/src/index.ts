import { NodeSDK } from '@opentelemetry/sdk-node';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { restoreCreateContext } from './kafka-context.js';
import { MongoDBInstrumentation } from '@opentelemetry/instrumentation-mongodb';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createLogger } from './log.js';

export interface TelemetryOptions {
  /** Defaults to OTEL_SERVICE_NAME. */
  readonly serviceName?: string;
  readonly serviceVersion?: string;
  /** Replaces the exporters chosen by OTEL_TRACES_EXPORTER (tests pass an in-memory one). */
  readonly spanProcessors?: SpanProcessor[];
  /** Replaces the readers chosen by OTEL_METRICS_EXPORTER (tests pass an in-memory one). */
  readonly metricReaders?: IMetricReader[];
}

let running: NodeSDK | undefined;

/** The version in the package.json nearest above the main script, if any. */
function mainVersion(main = process.argv[1]): string | undefined {
  for (let dir = main ? dirname(main) : ''; dir && dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
  }
  return undefined;
}

/**
 * The resource every span, metric and log carries: the service's name,
 * version and instance, and the deployment environment (the conventions'
 * `deployment.environment.name`, from ENFORCEMENT_ENV).
 */
export function resourceAttributes(
  opts: TelemetryOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const version = opts.serviceVersion ?? env.SERVICE_VERSION ?? mainVersion();
  return {
    [ATTR_SERVICE_NAME]: opts.serviceName ?? env.OTEL_SERVICE_NAME ?? 'unknown_service:node',
    ...(version ? { [ATTR_SERVICE_VERSION]: version } : {}),
    'service.instance.id': env.SERVICE_INSTANCE_ID ?? randomUUID(),
    ...(env.ENFORCEMENT_ENV ? { 'deployment.environment.name': env.ENFORCEMENT_ENV } : {}),
  };
}

/** Ends spans without exporting them: the SDK registers a tracer provider only with a processor. */
const dropSpans: SpanProcessor = {
  onStart: () => undefined,
  onEnd: () => undefined,
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

/**
 * Starts the OpenTelemetry NodeSDK once per process, with the maintained
 * instrumentations for grpc-js, kafkajs, the mongodb driver and the Node.js
 * runtime (event loop, heap, GC). Call it before
 * those libraries load (see ./register). Export follows the standard OTEL_*
 * variables; with neither OTEL_TRACES_EXPORTER nor an OTLP endpoint set,
 * nothing is exported, rather than retrying a collector that is not there.
 */
export function startTelemetry(opts: TelemetryOptions = {}): NodeSDK {
  if (running) return running;
  const env = process.env;
  // With no exporter, spans are still made (and dropped): trace context must
  // travel through Kafka whether or not anyone is collecting it.
  const exporting = !!(env.OTEL_TRACES_EXPORTER || env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const spanProcessors = opts.spanProcessors ?? (exporting ? undefined : [dropSpans]);
  if (!env.OTEL_METRICS_EXPORTER && !env.OTEL_EXPORTER_OTLP_ENDPOINT)
    env.OTEL_METRICS_EXPORTER = 'none';
  if (!env.OTEL_LOGS_EXPORTER && !env.OTEL_EXPORTER_OTLP_ENDPOINT) env.OTEL_LOGS_EXPORTER = 'none';
  const sdk = new NodeSDK({
    resource: resourceFromAttributes(resourceAttributes(opts, env)),
    instrumentations: [
      new GrpcInstrumentation(),
      // Its send spans link to each message's creation; the message keeps the creation's context.
      new KafkaJsInstrumentation({ producerHook: restoreCreateContext }),
      new MongoDBInstrumentation({ enhancedDatabaseReporting: false }),
      // The runtime's own metrics: event-loop delay and utilization, heap, GC.
      new RuntimeNodeInstrumentation(),
    ],
    ...(spanProcessors ? { spanProcessors } : {}),
    ...(opts.metricReaders ? { metricReaders: opts.metricReaders } : {}),
  });
  sdk.start();
  running = sdk;
  return sdk;
}

export async function shutdownTelemetry(): Promise<void> {
  const sdk = running;
  running = undefined;
  await sdk?.shutdown();
}

export { createLogger, logTo, type Logger } from './log.js';

/** How long a drain may take before the process exits anyway (SHUTDOWN_GRACE_MS). */
const graceMs = () => Number(process.env.SHUTDOWN_GRACE_MS ?? 15_000);

/**
 * A service's main after it started: says where it serves, and on SIGINT or
 * SIGTERM drains it, flushes telemetry and exits. The drain is bounded: past
 * SHUTDOWN_GRACE_MS (15 s), or on a second signal, the process exits at once
 * with status 1 (whatever was stored and not yet published is in the outbox).
 */
/** Why a service could not start, in a sentence an operator can act on; undefined: not known. */
export function startFailure(e: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const err = e as Error & { problems?: readonly string[]; cause?: unknown };
  if (err?.name === 'ConfigError' && Array.isArray(err.problems))
    return `invalid configuration (environment variables):\n  - ${err.problems.join('\n  - ')}`;
  const chain: string[] = [];
  for (
    let c: unknown = e;
    c instanceof Error && chain.length < 4;
    c = (c as { cause?: unknown }).cause
  )
    chain.push(`${c.name}: ${c.message}`);
  const text = chain.join(' / ');
  if (/^Mongo/.test(err?.name ?? ''))
    return `cannot reach MongoDB at ${redact(env.MONGODB_URI ?? '(MONGODB_URI not set)')} (MONGODB_URI): ${err.message}`;
  if (/^KafkaJS/.test(err?.name ?? ''))
    return `cannot reach Kafka at ${env.KAFKA_BROKERS ?? '(KAFKA_BROKERS not set)'} (KAFKA_BROKERS): ${err.message}`;
  if (/EADDRINUSE/.test(text) || /No address added out of total/.test(text))
    return `cannot listen: the gRPC address is taken or not allowed (GRPC_HOST / GRPC_PORT): ${err.message}`;
  return undefined;
}

/** A connection string without its password. */
const redact = (uri: string) => uri.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');

/**
 * Starts a service and serves it until signalled. A start that fails on its
 * configuration or a dependency ends the process with one plain message on
 * stderr (exit 78 for configuration, 69 for a dependency) instead of a stack
 * trace; anything else is thrown as it is.
 */
export async function startService(
  name: string,
  start: () => Promise<{ readonly address: string; stop(): Promise<void> }>,
): Promise<void> {
  let service: { readonly address: string; stop(): Promise<void> };
  try {
    service = await start();
  } catch (e) {
    const why = startFailure(e);
    if (!why) throw e;
    process.stderr.write(`${name}: not started: ${why}\n`);
    process.exit((e as Error).name === 'ConfigError' ? 78 : 69);
  }
  process.stderr.write(`${name}: listening on ${service.address}\n`);
  serveUntilSignalled(name, service);
}

export function serveUntilSignalled(
  name: string,
  service: { readonly address: string; stop(): Promise<void> },
): void {
  const log = createLogger(name);
  log.info({ address: service.address }, `serving gRPC on ${service.address}`);
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting without draining');
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'draining');
      const limit = graceMs();
      setTimeout(() => {
        log.error({ graceMs: limit }, 'drain did not finish in time: exiting');
        process.exit(1);
      }, limit).unref();
      void service
        .stop()
        .then(() => shutdownTelemetry())
        .then(
          () => process.exit(0),
          (e: unknown) => {
            log.error({ err: e }, 'drain failed');
            process.exit(1);
          },
        );
    });
  }
}
