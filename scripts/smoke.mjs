// Smoke round trip through every real part: a keyed message with headers
// through Kafka, a document through the MongoDB-wire server with a unique
// index, and a gRPC server built from the contracts (health, reflection,
// server info). Prints what it saw; exits non-zero on the first failure.
import { randomUUID } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { platform } from '@enforcement/contracts';
import { createGrpcServer, listServicesByReflection } from '@enforcement/grpc-kit';
import { ensureTopics } from '@enforcement/messaging';

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const mongoUri = process.env.MONGODB_URI;
if (brokers.length === 0 || !mongoUri) {
  console.error('error: KAFKA_BROKERS and MONGODB_URI must be set (npm run demo sets them)');
  process.exit(2);
}

const rows = [];
const timed = async (what, fn) => {
  const t0 = performance.now();
  const detail = await fn();
  rows.push([what, `${(performance.now() - t0).toFixed(0)} ms`, detail]);
};

const runId = randomUUID().slice(0, 8);

await timed('kafka produce + consume', async () => {
  const kafka = new Kafka({ clientId: 'smoke', brokers, logLevel: logLevel.NOTHING });
  const topic = `smoke.${runId}`;
  await ensureTopics(kafka, [{ topic, numPartitions: 1 }]);
  const admin = kafka.admin();
  await admin.connect();
  const producer = kafka.producer({
    idempotent: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await producer.send({
    topic,
    messages: [{ key: 'case-1', value: 'hello', headers: { 'event-type': 'Smoke' } }],
  });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `smoke-${runId}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const got = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 30 s')), 30_000);
    void consumer.run({
      eachMessage: async ({ message }) => {
        clearTimeout(timer);
        resolve(
          `key=${message.key} header=${message.headers?.['event-type']} value=${message.value}`,
        );
      },
    });
  });
  await consumer.disconnect();
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  return got;
});

await timed('mongodb write + read', async () => {
  const client = await MongoClient.connect(mongoUri);
  const db = client.db(`smoke_${runId}`);
  const col = db.collection('commits');
  await col.createIndex({ streamId: 1, version: 1 }, { unique: true });
  await col.insertOne({ streamId: 'case-1', version: 1 });
  let duplicate = 'not detected';
  await col.insertOne({ streamId: 'case-1', version: 1 }).catch((e) => {
    duplicate = `code ${e.code}`;
  });
  const hello = await db.admin().command({ buildInfo: 1 });
  await db.dropDatabase();
  await client.close();
  return `server ${hello.version}${hello.ferretdbVersion ? ` (FerretDB ${hello.ferretdbVersion})` : ''}, duplicate key: ${duplicate}`;
});

await timed('grpc health + reflection', async () => {
  const grpc = createGrpcServer({ serviceName: 'smoke', version: '0.1.0' });
  const port = await grpc.listen('127.0.0.1', 0);
  const client = new platform.PlatformServiceClient(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
  );
  const info = await new Promise((resolve, reject) =>
    client.getServerInfo({}, (err, res) => (err ? reject(err) : resolve(res))),
  );
  client.close();
  const services = await listServicesByReflection(`127.0.0.1:${port}`);
  await grpc.shutdown();
  return `${info.serviceName} on node ${info.nodeVersion}; services: ${services.join(', ')}`;
});

console.log('\nsmoke round trip: all parts answered\n');
for (const [what, ms, detail] of rows)
  console.log(`  ${what.padEnd(26)} ${ms.padStart(7)}  ${detail}`);
console.log(`\n  kafka   ${brokers.join(',')}\n  mongodb ${mongoUri}\n`);
