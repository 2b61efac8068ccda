// The bench's scaling phase: the same generated year streamed end to end
// through 1, 2 and 3 instances of every service (intake instances each take
// some agencies' streams; scoring and reporting instances share their
// consumer groups), each size on its own topics and databases, one after the
// other in the same run. Rules on, on the event clock, as in the year phase.
import { credentials, Metadata } from '@grpc/grpc-js';
import { MongoClient } from 'mongodb';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, scoring } from '@enforcement/contracts';
import { createKafka, groupLag, namespaced } from '@enforcement/messaging';
import { splitByAgency, submitAll } from '../support/submit.js';
import { startService, type ServiceProcess } from './processes.js';
import { fmt } from './stats.js';
import { benchYearOf, type YearOptions } from './year.js';

export interface ScaleOptions extends Omit<YearOptions, 'repeat' | 'streams'> {
  readonly instances: readonly number[];
}

export interface ScalePoint {
  /** Instances of each service. */
  readonly instances: number;
  /** Events on the topic at the end: the year's and the rules'. */
  readonly events: number;
  /** From the first command sent until both read models hold everything and the rules are done. */
  readonly ms: number;
  readonly rate: number;
  /** Until the last command was acknowledged. */
  readonly submittedMs: number;
  /** Bytes per event each service's database holds at the end (dbStats totalSize: data and indexes). */
  readonly bytesPerEvent: { intake: number; scoring: number; reporting: number };
  /** Mean size of a message on the case-events topic (key, value and headers), from a sample. */
  readonly messageBytes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ABORTED = 10;

export async function benchScale(o: ScaleOptions): Promise<ScalePoint[]> {
  const year = benchYearOf(o.events, 'bench-scale');
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'bench', roles: ['agency', 'supervisor', 'reporting'], agencies: ['*'] })}`,
  );
  const out: ScalePoint[] = [];
  for (const n of o.instances) {
    const ns = `${o.run}-scale${n}`;
    const topics = namespaced(ns);
    const db = (s: string) => `${ns}_${s}`.replace(/-/g, '_');
    const common = {
      KAFKA_BROKERS: o.brokers.join(','),
      MONGODB_URI: o.mongoUri,
      TOPIC_NAMESPACE: ns,
      KAFKA_CLIENT_ID: ns,
    };
    const kafka = createKafka([...o.brokers], `${ns}-bench`);
    const running: ServiceProcess[] = [];
    try {
      const intakes: ServiceProcess[] = [];
      for (let i = 0; i < n; i++)
        intakes.push(await startService('case-intake', { ...common, MONGODB_DB: db('intake') }));
      running.push(...intakes);
      const scorers: ServiceProcess[] = [];
      for (let i = 0; i < n; i++)
        scorers.push(
          await startService('supervision-scoring', {
            ...common,
            MONGODB_DB: db('scoring'),
            SCORING_GROUP: `${ns}.scoring`,
            INTAKE_ADDRESS: (intakes[i % n] as ServiceProcess).address,
            RULES_TICK_MS: '2000',
            RULES_CLOCK: 'events',
          }),
        );
      running.push(...scorers);
      for (let i = 0; i < n; i++)
        running.push(
          await startService('reporting', {
            ...common,
            MONGODB_DB: db('reporting'),
            REPORTING_GROUP: `${ns}.reporting`,
          }),
        );
      const clients = intakes.map(
        (s) => new intake.CaseIntakeServiceClient(s.address, credentials.createInsecure()),
      );
      o.log(
        `scale: ${n} instance${n > 1 ? 's' : ''} of each service, ${fmt(year.commands)} commands`,
      );
      const parts = splitByAgency(year.stream(), n);
      const t0 = performance.now();
      await Promise.all(
        parts.map(async (part, i) => {
          const client = clients[i] as intake.CaseIntakeServiceClient;
          // ABORTED: the rules changed the case under the command; send it again.
          let todo = part;
          for (let round = 0; round < 6 && todo.length > 0; round++) {
            const acks = await submitAll(client, md, todo);
            const refused = acks.filter((a) => !a.accepted && a.statusCode !== ABORTED);
            if (refused.length > 0)
              throw new Error(`intake refused ${refused.length} commands: ${refused[0]?.reason}`);
            todo = acks
              .filter((a) => a.statusCode === ABORTED)
              .map((a) => todo[Number(a.sequence) - 1] as intake.Command);
          }
          if (todo.length > 0) throw new Error(`${todo.length} commands still ABORTED`);
        }),
      );
      const submittedMs = performance.now() - t0;
      for (const c of clients) c.close();
      // Caught up: both groups have applied everything, the topic stopped
      // growing, and the rules have nothing due.
      const sClient = new scoring.ScoringServiceClient(
        (scorers[0] as ServiceProcess).address,
        credentials.createInsecure(),
      );
      let last = -1;
      let events = 0;
      // Caught up within 10 minutes of the last acknowledgement, or the run fails and says where it stood.
      const deadline = Date.now() + 600_000;
      for (;;) {
        const admin = kafka.admin();
        await admin.connect();
        const offsets = await admin
          .fetchTopicOffsets(topics.caseEvents)
          .finally(() => admin.disconnect());
        events = offsets.reduce((sum, p) => sum + Number(p.high), 0);
        const lags = await Promise.all([
          groupLag(kafka, `${ns}.scoring.projection.g1`, topics.caseEvents),
          groupLag(kafka, `${ns}.reporting`, topics.caseEvents),
        ]);
        const rules = await new Promise<scoring.GetRulesStatusResponse>((resolve, reject) =>
          sClient.getRulesStatus({}, md, { deadline: Date.now() + 10_000 }, (e, r) =>
            e ? reject(e) : resolve(r),
          ),
        );
        if (
          lags.every((l) => l === 0) &&
          events === last &&
          rules.casesDue === 0 &&
          Number(rules.lastPassAt?.getTime() ?? 0) > 0
        )
          break;
        if (Date.now() > deadline)
          throw new Error(
            `scale ${n}: not caught up 10 minutes after the last acknowledgement (lags ${lags.join(', ')}, ${rules.casesDue} cases due by the rules)`,
          );
        last = events;
        await sleep(1_000);
      }
      sClient.close();
      const ms = performance.now() - t0;
      const mongo = await MongoClient.connect(o.mongoUri);
      const size = async (name: string) =>
        Number((await mongo.db(db(name)).stats()).totalSize) / events;
      const bytesPerEvent = {
        intake: await size('intake'),
        scoring: await size('scoring'),
        reporting: await size('reporting'),
      };
      await mongo.close();
      const messageBytes = await meanMessageBytes(kafka, topics.caseEvents, `${ns}.sizes`, 5_000);
      out.push({
        instances: n,
        events,
        ms,
        rate: events / (ms / 1000),
        submittedMs,
        bytesPerEvent,
        messageBytes,
      });
      o.log(
        `scale: ${n}: ${fmt(events)} events in ${fmt(ms / 1000, 1)} s (${fmt(events / (ms / 1000))} events/s; submitted in ${fmt(submittedMs / 1000, 1)} s)`,
      );
    } finally {
      for (const s of running) await s.stop();
    }
  }
  return out;
}

/** The mean size of the first `sample` messages of a topic: key, value and headers. */
async function meanMessageBytes(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  groupId: string,
  sample: number,
): Promise<number> {
  const consumer = kafka.consumer({ groupId });
  let bytes = 0;
  let seen = 0;
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            if (seen >= sample) break;
            seen++;
            bytes += (m.key?.length ?? 0) + (m.value?.length ?? 0);
            for (const [k, v] of Object.entries(m.headers ?? {}))
              bytes += k.length + (Buffer.isBuffer(v) ? v.length : String(v ?? '').length);
          }
          if (seen >= sample || batch.isEmpty()) resolve();
        },
      });
    });
    await Promise.race([done, sleep(30_000)]);
  } finally {
    await consumer.disconnect();
  }
  return seen > 0 ? bytes / seen : 0;
}
