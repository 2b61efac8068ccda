import { status, type ServiceError } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { events, type intake } from '@enforcement/contracts';
import { EXIT, UsageError, type Command } from '../cli.js';
import { ADDRESSES, intakeClient, metadata } from '../connect.js';
import { address, print } from '../output.js';

interface Difference {
  caseId: string;
  version: number;
  problem: 'missing on the topic' | 'missing in the store' | 'hash differs';
}

/**
 * `enforce reconcile`: the event store (ReadAll from the commit documents
 * themselves, so that a commit written behind intake's back shows too) beside the case-events topic
 * (read from its start to its end as of now): counts, every case's versions
 * and each event's hash, and every difference. Events on the topic more than
 * once are normal (at-least-once publication) and counted, not reported.
 */
export const reconcile: Command = {
  name: 'reconcile',
  service: 'intake',
  summary: 'compare the event store with the case-events topic: counts, versions and hashes',
  usage: 'reconcile --brokers HOST:PORT[,...] [--topic NAME] [--intake ADDR]',
  options: {
    intake: { type: 'string' },
    brokers: { type: 'string' },
    topic: { type: 'string' },
  },
  help: [
    '--brokers <list>  Kafka brokers (default $KAFKA_BROKERS)',
    '--topic <name>    case-events topic (default <$TOPIC_NAMESPACE.>enforcement.case-events.v1)',
    '--intake <addr>   case-intake (default $ENFORCE_INTAKE or 127.0.0.1:50051)',
    'needs the supervisor or reporting role',
    'exit status: 0 store and topic agree; 3 they differ (every difference is listed)',
  ],
  async run(v) {
    const brokers = String(v.brokers ?? process.env.KAFKA_BROKERS ?? '')
      .split(',')
      .filter(Boolean);
    if (brokers.length === 0)
      throw new UsageError('name the Kafka brokers (--brokers or $KAFKA_BROKERS)');
    const ns = process.env.TOPIC_NAMESPACE;
    const topic =
      typeof v.topic === 'string' ? v.topic : `${ns ? `${ns}.` : ''}enforcement.case-events.v1`;

    const store = new Map<string, string>();
    const md = await metadata(v.token as string | undefined);
    const client = intakeClient(address(v, 'intake', ADDRESSES.intake));
    try {
      for await (const r of client.readAll(
        { afterPosition: 0, maxCount: 0, fromCommits: true },
        md,
      ) as AsyncIterable<intake.ReadAllResponse>)
        if (r.event) store.set(`${r.event.caseId}\u0000${r.event.version}`, r.event.hash);
    } catch (e) {
      const se = e as Partial<ServiceError>;
      // A stored commit that cannot be read: nothing after it can be compared.
      if (se.code !== status.FAILED_PRECONDITION) throw e;
      throw new Error(
        `the event store cannot be read to its end, so it cannot be compared with the topic: ${se.details ?? ''}. ` +
          '`enforce audit` lists every case whose history is broken',
      );
    } finally {
      client.close();
    }

    const kafka = new Kafka({ clientId: 'enforce-reconcile', brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]),
    );
    await admin.disconnect();
    const onTopic = new Map<string, string>();
    let messages = 0;
    const pending = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
    // No group commits: a throwaway group that reads the topic once from its start.
    const consumer = kafka.consumer({ groupId: `enforce-reconcile-${process.pid}-${Date.now()}` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      if (pending.size === 0) resolve();
      void consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            messages++;
            const e = events.CaseEvent.decode(message.value ?? Buffer.alloc(0));
            onTopic.set(`${e.caseId}\u0000${e.version}`, e.hash);
            if (Number(message.offset) + 1 >= (ends.get(partition) ?? 0)) {
              pending.delete(partition);
              if (pending.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();

    const differences: Difference[] = [];
    const split = (k: string) => {
      const [caseId = '', version = '0'] = k.split('\u0000');
      return { caseId, version: Number(version) };
    };
    for (const [k, hash] of store) {
      const t = onTopic.get(k);
      if (t === undefined) differences.push({ ...split(k), problem: 'missing on the topic' });
      else if (t !== hash) differences.push({ ...split(k), problem: 'hash differs' });
    }
    for (const k of onTopic.keys())
      if (!store.has(k)) differences.push({ ...split(k), problem: 'missing in the store' });
    differences.sort((a, b) => a.caseId.localeCompare(b.caseId) || a.version - b.version);

    const summary = {
      storeEvents: store.size,
      topicEvents: onTopic.size,
      topicMessages: messages,
      differences,
    };
    print(
      summary,
      [
        ...differences.map((d) => `${d.caseId} v${d.version}: ${d.problem}`),
        `${store.size} events in the store, ${onTopic.size} on ${topic} (${messages} messages, ${messages - onTopic.size} republished): ${differences.length === 0 ? 'they agree' : `${differences.length} differences`}`,
      ].join('\n'),
      v.json,
    );
    return differences.length === 0 ? EXIT.ok : EXIT.partial;
  },
};
