import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface StackEndpoints {
  readonly kafkaBrokers: string[];
  readonly mongoUri: string;
  /** Where the endpoints came from: env, docker (testcontainers) or local (infra/stack.sh). */
  readonly source: 'env' | 'docker' | 'local';
}

export interface RunningStack {
  readonly endpoints: StackEndpoints;
  stop(): Promise<void>;
}

export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'infra', 'stack.sh'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no infra/stack.sh above ${from}`);
    dir = parent;
  }
  return dir;
}

async function dockerReachable(): Promise<boolean> {
  if (process.env.STACK_NO_DOCKER === '1') return false;
  try {
    await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

async function startWithTestcontainers(): Promise<RunningStack> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const { MongoDBContainer } = await import('@testcontainers/mongodb');
  const [kafka, mongo] = await Promise.all([
    new KafkaContainer(process.env.KAFKA_IMAGE ?? 'confluentinc/cp-kafka:7.9.1')
      .withKraft()
      .start(),
    new MongoDBContainer(process.env.MONGODB_IMAGE ?? 'mongo:8.0').start(),
  ]);
  return {
    endpoints: {
      kafkaBrokers: [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`],
      mongoUri: `${mongo.getConnectionString()}?directConnection=true`,
      source: 'docker',
    },
    stop: async () => {
      await Promise.all([kafka.stop(), mongo.stop()]);
    },
  };
}

async function startLocal(): Promise<RunningStack> {
  const script = join(repoRoot(), 'infra', 'stack.sh');
  const wasRunning = await run('bash', [script, 'status']).then(
    () => true,
    () => false,
  );
  const { stdout } = await run('bash', [script, 'up'], {
    maxBuffer: 16 * 1024 * 1024,
    timeout: 15 * 60_000,
  });
  const env = Object.fromEntries(
    [...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
  );
  const brokers = env.KAFKA_BROKERS;
  const uri = env.MONGODB_URI;
  if (!brokers || !uri) throw new Error(`infra/stack.sh up printed no endpoints:\n${stdout}`);
  return {
    endpoints: { kafkaBrokers: brokers.split(','), mongoUri: uri, source: 'local' },
    // A stack the developer had running before the tests stays running.
    stop: async () => {
      if (!wasRunning) await run('bash', [script, 'down']);
    },
  };
}

/**
 * The real stack for a test run. Endpoints given in KAFKA_BROKERS and
 * MONGODB_URI win; else a reachable Docker engine runs the official images
 * through testcontainers; else infra/stack.sh provisions Kafka and FerretDB
 * on this machine.
 */
export async function startStack(): Promise<RunningStack> {
  const brokers = process.env.KAFKA_BROKERS;
  const uri = process.env.MONGODB_URI;
  if (brokers && uri) {
    return {
      endpoints: { kafkaBrokers: brokers.split(','), mongoUri: uri, source: 'env' },
      stop: async () => {},
    };
  }
  if (await dockerReachable()) return startWithTestcontainers();
  return startLocal();
}
