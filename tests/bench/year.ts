// The bench's year: a generated year streamed through intake while scoring
// and reporting project it (end to end), the annual report timed on the
// result, then both read models rebuilt from the topic by fresh processes.
// Every service runs as its own process, so each peak memory is its own.
import { credentials, Metadata } from '@grpc/grpc-js';
import { Partitioners } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { generateYear, RECONSIDERATION_2021 } from '@enforcement/generator';
import { createKafka, ensureTopics, groupLag, namespaced } from '@enforcement/messaging';
import { submitAll, submitSplit } from '../support/submit.js';
import { stallGuard, startService, type ServiceName, type ServiceProcess } from './processes.js';
import { fmt, summarize, type Summary } from './stats.js';
import {
  describeWrites,
  documentsByCollection,
  documentsWritten,
  perEventByCollection,
} from './writes.js';

export interface YearOptions {
  readonly events: number;
  /** SubmitEvents streams the year goes through at once, split by agency. */
  readonly streams: number;
  readonly repeat: number;
  readonly brokers: readonly string[];
  readonly mongoUri: string;
  readonly run: string;
  readonly log: (s: string) => void;
}

export interface YearResult {
  readonly commands: number;
  readonly cases: number;
  /** Events on the topic at the end: the year's and those the rules added. */
  readonly events: number;
  readonly endToEnd: { ms: number; rate: number; raw: number };
  /** Commands intake still refused after the client sent them again: how many, and the first reason. */
  readonly refused: { count: number; first: string };
  readonly rebuild: {
    ms: number;
    rate: number;
    raw: number;
    scoring: { ms: number; rate: number };
    reporting: { ms: number; rate: number };
  };
  /** `first`: the first call as of now, which folds the year (ms). */
  readonly report: { first: number; current: Summary; asOf: Summary; html: Summary };
  /** ReadAll of 100 events from the start, from the middle and at the head of the store. */
  readonly readAll: { start: Summary; middle: Summary; head: Summary; positions: number };
  /**
   * The supervision rules on the event clock: actions they recorded, and how
   * long after both projections first caught up every action due existed.
   */
  readonly rules: { actions: number; refused: number; afterCatchUpMs: number };
  /** Peak resident memory of each service, in MiB: the larger of its two runs. */
  readonly peakRssMiB: Record<ServiceName, number>;
  /** Documents scoring wrote per event applied, live and replaying; undefined where the store is not FerretDB on PostgreSQL. */
  readonly scoringDocumentsPerEvent: {
    live?: number;
    liveByCollection?: Record<string, number>;
    rebuild?: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchYear(o: YearOptions): Promise<YearResult> {
  const ns = `${o.run}-year`;
  const topics = namespaced(ns);
  const db = (s: string) => `${ns}_${s}`.replace(/-/g, '_');
  const kafka = createKafka([...o.brokers], `${ns}-bench`);
  const common = {
    KAFKA_BROKERS: o.brokers.join(','),
    MONGODB_URI: o.mongoUri,
    TOPIC_NAMESPACE: ns,
    KAFKA_CLIENT_ID: ns,
  };
  const peaks: Record<ServiceName, number> = {
    'case-intake': 0,
    'supervision-scoring': 0,
    reporting: 0,
  };
  const stopAll = async (list: ServiceProcess[]) => {
    for (const s of list) {
      peaks[s.name] = Math.max(peaks[s.name], s.peakRssMiB());
      await s.stop();
    }
  };
  const projections = async (generation: string, intakeAddress: string) => [
    await startService('supervision-scoring', {
      ...common,
      MONGODB_DB: db(`scoring${generation}`),
      SCORING_GROUP: `${ns}.scoring${generation}`,
      INTAKE_ADDRESS: intakeAddress,
      // A rebuild replays what happened; it does not judge it again.
      RULES_TICK_MS: generation ? '0' : '2000',
      RULES_CLOCK: 'events',
    }),
    await startService('reporting', {
      ...common,
      MONGODB_DB: db(`reporting${generation}`),
      REPORTING_GROUP: `${ns}.reporting${generation}`,
    }),
  ];
  /**
   * Waits until both groups have applied everything on the topic, and it
   * stopped growing for QUIET_MS (longer than a rules tick) with `settled`
   * true. `settled` in the answer is when the last of it happened: the
   * topic's last growth seen, or both groups caught up after it, whichever
   * came later (to within a poll), not when the quiet was confirmed.
   */
  const caughtUp = async (
    generation: string,
    t0: number,
    services: readonly ServiceProcess[],
    settled?: () => Promise<boolean>,
    trace?: () => string,
  ) => {
    const QUIET_MS = 3_000;
    let tracedAt = -Infinity;
    const guard = stallGuard(`waiting for the read models${generation}`, services);
    const done: Record<string, number> = {};
    let last = -1;
    let grewAt = 0;
    let firstCaughtUp: number | undefined;
    for (;;) {
      const now = performance.now() - t0;
      const high = await topicSize(kafka, topics.caseEvents);
      if (high !== last) grewAt = now;
      last = high;
      const lags: number[] = [];
      for (const g of ['scoring', 'reporting']) {
        // A fresh scoring database starts its read models at generation 1.
        const group =
          g === 'scoring'
            ? `${ns}.scoring${generation}.projection.g1`
            : `${ns}.reporting${generation}`;
        const lag = await groupLag(kafka, group, topics.caseEvents);
        lags.push(lag);
        if (lag === 0) done[g] ??= now;
        else delete done[g];
      }
      guard(`topic ${high}, lags ${lags.join('/')}`);
      const both = done.scoring !== undefined && done.reporting !== undefined;
      if (both) firstCaughtUp ??= now;
      const quiet = both && now - grewAt >= QUIET_MS;
      const traced = trace && firstCaughtUp !== undefined && now - tracedAt >= 1_000;
      // One status call a poll serves both the trace and the check.
      const isSettled = settled && (quiet || traced) ? await settled() : true;
      if (traced && firstCaughtUp !== undefined) {
        tracedAt = now;
        o.log(
          `rules: +${fmt((now - firstCaughtUp) / 1000, 1)} s after catch-up: topic ${fmt(high)}, caught up ${Object.keys(done).join('+') || 'neither'}, ${trace()}`,
        );
      }
      if (quiet && isSettled)
        return {
          scoring: done.scoring ?? now,
          reporting: done.reporting ?? now,
          events: high,
          firstCaughtUp: firstCaughtUp ?? 0,
          settled: Math.max(grewAt, done.scoring ?? now, done.reporting ?? now),
        };
      await sleep(250);
    }
  };

  // --- end to end: the year through intake, projected as it arrives ----------
  const ABORTED = 10;
  const year = benchYearOf(o.events, 'bench');
  const intakeSvc = await startService('case-intake', { ...common, MONGODB_DB: db('intake') });
  const first = await projections('', intakeSvc.address);
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'bench', roles: ['agency', 'supervisor', 'reporting'], agencies: ['*'] })}`,
  );
  const client = new intake.CaseIntakeServiceClient(
    intakeSvc.address,
    credentials.createInsecure(),
  );
  o.log(
    `year: ${fmt(year.commands)} commands of ${fmt(year.options.cases)} cases through intake (${o.streams} stream${o.streams > 1 ? 's' : ''}), scoring and reporting projecting`,
  );
  const t0 = performance.now();
  let acked = 0;
  const answered = await submitSplit(client, md, year.stream(), o.streams, () => {
    if (++acked % 50_000 === 0) o.log(`year: ${fmt(acked)} acknowledged`);
  });
  answered.sort((a, b) => a.position - b.position);
  // ABORTED means "try again" (a case changed under the command: here, the
  // rules acted on it while the year streamed): a client sends those again,
  // picked from the same (deterministic) year.
  // A case's commands go in order: one answered ABORTED leaves those after it
  // refused for want of it (a decision before its notice, an evaluation
  // before the conclusion), so they go again with it, in the year's order.
  const caseAt: string[] = [];
  for (const command of year.stream()) caseAt.push(command.kind?.value.meta?.caseId ?? '');
  const caseOf = (position: number) => caseAt[position - 1] ?? '';
  /** Positions to send again: the ABORTED ones, and refused ones after an ABORTED one of their case. */
  const toRetry = (answers: { position: number; ack: intake.SubmitEventsResponse }[]) => {
    const firstAborted = new Map<string, number>();
    for (const { position, ack } of answers)
      if (ack.statusCode === ABORTED && !firstAborted.has(caseOf(position)))
        firstAborted.set(caseOf(position), position);
    const again: number[] = [];
    const refused: intake.SubmitEventsResponse[] = [];
    for (const { position, ack } of answers) {
      if (ack.accepted) continue;
      const from = firstAborted.get(caseOf(position));
      if (ack.statusCode === ABORTED || (from !== undefined && position > from))
        again.push(position);
      else refused.push(ack);
    }
    return { again, refused };
  };
  let { again, refused } = toRetry(answered);
  for (let round = 0; round < 5 && again.length > 0; round++) {
    o.log(
      `year: ${fmt(again.length)} commands sent again (ABORTED, and what followed them in their cases)`,
    );
    const wanted = new Set(again);
    const sent: number[] = [];
    let i = 0;
    const retried = await submitAll(
      client,
      md,
      (function* () {
        for (const command of year.stream())
          if (wanted.has(++i)) {
            sent.push(i);
            yield command;
          }
      })(),
    );
    const next = toRetry(
      retried.map((ack) => ({ position: sent[Number(ack.sequence) - 1] ?? 0, ack })),
    );
    refused = [...refused, ...next.refused];
    again = next.again;
  }
  const failed = [
    ...refused.map((a) => a.reason),
    ...again.map((n) => `command ${n} still ABORTED after 5 rounds`),
  ];
  // A refused command is a finding, not a reason to lose the run's figures:
  // the table says how many and the first reason.
  if (failed.length > 0)
    o.log(`year: intake refused ${failed.length} of the year's commands; first: ${failed[0]}`);
  o.log(
    `year: submitted in ${fmt((performance.now() - t0) / 1000, 1)} s; waiting for the read models`,
  );
  const scoringClient = new scoring.ScoringServiceClient(
    (first[0] as ServiceProcess).address,
    credentials.createInsecure(),
  );
  let rulesNow: scoring.GetRulesStatusResponse | undefined;
  const rulesSettled = async () => {
    rulesNow = await new Promise<scoring.GetRulesStatusResponse>((resolve, reject) =>
      scoringClient.getRulesStatus({}, md, { deadline: Date.now() + 30_000 }, (e, r) =>
        e ? reject(e) : resolve(r),
      ),
    );
    return rulesNow.casesDue === 0 && Number(rulesNow.lastPassAt?.getTime() ?? 0) > 0;
  };
  // BENCH_RULES_TRACE=1: what the rules do after the first catch-up, every second.
  const rulesTrace = process.env.BENCH_RULES_TRACE
    ? () => {
        const judged = (rulesNow?.agencies ?? []).map((a) => a.judgedUpTo?.getTime() ?? 0);
        const day = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : '—');
        return `${judged.length} agencies judged, up to ${day(Math.min(...judged))}…${day(Math.max(...judged))}, cases due ${fmt(Number(rulesNow?.casesDue ?? 0))}, actions ${fmt(Number(rulesNow?.actionsSent ?? 0))} sent / ${fmt(Number(rulesNow?.actionsFailed ?? 0))} failed / ${fmt(Number(rulesNow?.actionsRefused ?? 0))} refused`;
      }
    : undefined;
  const e2e = await caughtUp('', t0, [...first, intakeSvc], rulesSettled, rulesTrace);
  await sleep(2_000);
  const live = perEventByCollection(
    new Map(),
    await documentsByCollection(db('scoring')),
    e2e.events,
  );
  if (live) o.log(`year: scoring wrote ${describeWrites(live)}`);
  scoringClient.close();
  const e2eMs = Math.max(e2e.scoring, e2e.reporting);
  o.log(
    `year: ${fmt(e2e.events)} events visible in both read models after ${fmt(e2eMs / 1000, 1)} s`,
  );

  // --- the annual report on what was projected --------------------------------
  const reportingSvc = first[1] as ServiceProcess;
  const rClient = new reporting.ReportingServiceClient(
    reportingSvc.address,
    credentials.createInsecure(),
  );
  const call = <Res>(f: (cb: (e: Error | null, r: Res) => void) => void) =>
    new Promise<Res>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
  const time = async (f: () => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < o.repeat; i++) {
      const s = performance.now();
      await f();
      samples.push(performance.now() - s);
    }
    return summarize(samples);
  };
  const stats = (asOf?: Date) =>
    call<reporting.GetAnnualStatisticsResponse>((cb) =>
      rClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({
          year: 2021,
          groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
          asOf,
        }),
        md,
        cb,
      ),
    );
  // The first call folds the year; the ones after it find nothing moved.
  const foldAt = performance.now();
  await stats();
  const folded = performance.now() - foldAt;
  const current = await time(() => stats());
  // Recording time is now, so "as of a past date" is a moment halfway through the submission.
  const asOfMoment = new Date(Date.now() - (performance.now() - t0) / 2);
  const asOf = await time(() => stats(asOfMoment));
  const html = await time(() =>
    call((cb) =>
      rClient.renderAnnualReport(
        reporting.RenderAnnualReportRequest.fromPartial({
          year: 2021,
          format: reporting.ReportFormat.REPORT_FORMAT_HTML,
        }),
        md,
        cb,
      ),
    ),
  );
  rClient.close();

  // --- ReadAll over the whole store, from the position index ------------------
  const readAll = (after: number, max: number) =>
    new Promise<number[]>((resolve, reject) => {
      const got: number[] = [];
      const stream = client.readAll(
        { afterPosition: after, maxCount: max, fromCommits: false },
        md,
        {
          deadline: Date.now() + 60_000,
        },
      );
      stream.on('data', (r: intake.ReadAllResponse) => got.push(r.event?.position ?? 0));
      stream.on('end', () => resolve(got));
      stream.on('error', reject);
    });
  // The highest block of positions handed out: the store's head is inside it.
  const blocks = await MongoClient.connect(o.mongoUri);
  const top = await blocks
    .db(db('intake'))
    .collection<{ _id: number }>('position_blocks')
    .find({})
    .toArray();
  await blocks.close();
  const lastPosition = (Math.max(0, ...top.map((b) => b._id)) + 1) * 1000;
  const reads = {
    start: await time(() => readAll(0, 100)),
    middle: await time(() => readAll(Math.floor(lastPosition / 2), 100)),
    head: await time(() => readAll(Math.max(0, lastPosition - 1_000), 100)),
    positions: lastPosition,
  };
  client.close();
  await stopAll([...first, intakeSvc]);

  // --- rebuild: fresh processes and databases replay the topic ---------------
  o.log(`rebuild: scoring and reporting replay ${fmt(e2e.events)} events into new read models`);
  const t1 = performance.now();
  const second = await projections('-rebuild', intakeSvc.address);
  const rb = await caughtUp('-rebuild', t1, second);
  const rebuildMs = Math.max(rb.scoring, rb.reporting);
  await stopAll(second);
  const rebuildWrites = await documentsWritten(db('scoring-rebuild'));
  o.log(`rebuild: done in ${fmt(rebuildMs / 1000, 1)} s`);

  o.log('raw limits: produce + consume + insertMany of the same volume');
  const raw = await rawPipeline(o, kafka, e2e.events);

  const mongo = await MongoClient.connect(o.mongoUri);
  for (const name of ['intake', 'scoring', 'reporting', 'scoring-rebuild', 'reporting-rebuild'])
    await mongo.db(db(name)).dropDatabase();
  await mongo.close();

  return {
    commands: year.commands,
    cases: year.options.cases,
    events: e2e.events,
    endToEnd: { ms: e2eMs, rate: e2e.events / (e2eMs / 1000), raw: raw.endToEnd },
    refused: { count: failed.length, first: failed[0] ?? '' },
    rebuild: {
      ms: rebuildMs,
      rate: e2e.events / (rebuildMs / 1000),
      raw: raw.consumeWrite,
      scoring: { ms: rb.scoring, rate: e2e.events / (rb.scoring / 1000) },
      reporting: { ms: rb.reporting, rate: e2e.events / (rb.reporting / 1000) },
    },
    report: { first: folded, current, asOf, html },
    readAll: reads,
    rules: {
      actions: Number(rulesNow?.actionsSent ?? 0),
      refused: Number(rulesNow?.actionsRefused ?? 0),
      afterCatchUpMs: Math.max(0, e2e.settled - e2e.firstCaughtUp),
    },
    peakRssMiB: peaks,
    // Documents scoring wrote per event applied: live (rules on) and replaying.
    scoringDocumentsPerEvent: {
      live: live?.total,
      liveByCollection: live?.byCollection,
      rebuild: rebuildWrites === undefined ? undefined : rebuildWrites / e2e.events,
    },
  };
}

/**
 * The generated year the bench streams, of about `events` events: 9.4 events
 * per case, and a year smaller than 10,000 cases gets proportionally fewer of
 * the 2021 report's reconsiderations.
 */
export function benchYearOf(events: number, seed: string): ReturnType<typeof generateYear> {
  const cases = Math.ceil(events / 9.4);
  const k = Math.min(1, cases / 10_000);
  return generateYear({
    seed,
    cases,
    evaluate: true,
    reconsideration: Object.fromEntries(
      Object.entries(RECONSIDERATION_2021).map(([key, n]) => [key, Math.round(n * k)]),
    ) as typeof RECONSIDERATION_2021,
  });
}

async function topicSize(kafka: ReturnType<typeof createKafka>, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The raw limits of the same volume, no domain logic: `endToEnd` produces n
 * messages while a consumer `insertMany`s them as they come, start to last
 * write; `consumeWrite` then consumes the same n from the start and writes them.
 */
async function rawPipeline(
  o: YearOptions,
  kafka: ReturnType<typeof createKafka>,
  n: number,
): Promise<{ endToEnd: number; consumeWrite: number }> {
  const topic = `${o.run}.raw-year`;
  await ensureTopics(kafka, [{ topic, numPartitions: 12 }]);
  const mongo = await MongoClient.connect(o.mongoUri);
  const dbName = `${o.run}_raw_year`.replace(/-/g, '_');
  const consumeInto = async (group: string, collection: string) => {
    const col = mongo.db(dbName).collection(collection);
    const consumer = kafka.consumer({ groupId: group, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    const done = new Promise<number>((resolve) => {
      void consumer.run({
        eachBatch: async ({ batch }) => {
          await col.insertMany(
            batch.messages.map((m) => ({ key: String(m.key), v: m.value?.toString('base64') })),
          );
          seen += batch.messages.length;
          if (seen >= n) resolve(performance.now());
        },
      });
    });
    return { done, stop: () => consumer.disconnect() };
  };
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const payload = Buffer.alloc(600, 7);
  const t0 = performance.now();
  const pipeline = await consumeInto(`${o.run}-raw-e2e`, 'e2e');
  for (let i = 0; i < n; i += 1_000)
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: Math.min(1_000, n - i) }, (_, k) => ({
        key: `c${(i + k) % 100_000}`,
        value: payload,
      })),
    });
  const endToEnd = n / (((await pipeline.done) - t0) / 1000);
  await pipeline.stop();
  await producer.disconnect();
  const t1 = performance.now();
  const replay = await consumeInto(`${o.run}-raw-replay`, 'replay');
  const consumeWrite = n / (((await replay.done) - t1) / 1000);
  await replay.stop();
  await mongo.db(dbName).dropDatabase();
  await mongo.close();
  return { endToEnd, consumeWrite };
}
