// npm run bench [-- --cases 2000 --streams 4 --score-cases 100000 --queries 500
//                   --year-events 50000 [--year-streams 1] --phases intake,lag,queries,year]
// Measures intake, end to end, lag, query latency, the annual report, the
// rebuild of the read models and each service's memory against the real
// stack, each throughput beside the raw limit of the same machine measured
// in the same run.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { Partitioners } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { createCaseIntake, loadIntakeConfig } from '@enforcement/case-intake';
import { events, intake, platform, scoring } from '@enforcement/contracts';
import {
  createKafka,
  ensureTopics,
  groupLag,
  namespaced,
  type TopicNames,
} from '@enforcement/messaging';
import { createSupervisionScoring, loadScoringConfig } from '@enforcement/supervision-scoring';
import { submitAll } from '../support/submit.js';
import { loadQueryFixture } from './query-fixture.js';
import { startService, untilNoLag } from './processes.js';
import { benchYear } from './year.js';
import { benchScale } from './scale.js';
import { benchConsole } from './console.js';
import { fmt, summarize } from './stats.js';
import { AGENCIES, EVENTS_PER_CASE, workload } from './workload.js';
import { describeWrites, documentsByCollection, perEventByCollection } from './writes.js';

const { values: args } = parseArgs({
  options: {
    cases: { type: 'string', default: '2000' },
    streams: { type: 'string', default: '4' },
    'score-cases': { type: 'string', default: '100000' },
    queries: { type: 'string', default: '500' },
    'year-events': { type: 'string', default: '50000' },
    /** SubmitEvents streams the year goes through at once, split by agency. */
    'year-streams': { type: 'string', default: '1' },
    /** The scaling phase (--phases scale): its year, and the instance counts it compares. */
    'scale-events': { type: 'string', default: '20000' },
    'scale-instances': { type: 'string', default: '1,2,3' },
    /** The console phase (--phases console): the year under the pages, and samples per figure. */
    'console-events': { type: 'string', default: '10000' },
    'console-samples': { type: 'string', default: '20' },
    repeat: { type: 'string', default: '5' },
    /** The lag phase's offered load (events/s); by default half of the one-stream rate measured. */
    'lag-rate': { type: 'string' },
    phases: { type: 'string', default: 'intake,lag,queries,year' },
    out: { type: 'string', default: 'docs/bench' },
  },
});
const CASES = Number(args.cases);
const STREAMS = Number(args.streams);
const SCORE_CASES = Number(args['score-cases']);
const QUERIES = Number(args.queries);
const YEAR_EVENTS = Number(args['year-events']);
const YEAR_STREAMS = Number(args['year-streams']);
if (!Number.isInteger(YEAR_STREAMS) || YEAR_STREAMS < 1)
  throw new Error(
    `--year-streams: a whole number of streams, at least 1, got ${args['year-streams']}`,
  );
const PHASES = new Set((args.phases ?? '').split(',').filter(Boolean));
for (const p of PHASES)
  if (!['intake', 'lag', 'queries', 'year', 'scale', 'console'].includes(p))
    throw new Error(`--phases: unknown phase ${p} (intake, lag, queries, year, scale, console)`);

const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const mongoUri = process.env.MONGODB_URI ?? '';
if (brokers.length === 0 || !mongoUri)
  throw new Error('KAFKA_BROKERS and MONGODB_URI must be set (npm run bench sets them)');

const run = `bench-${Date.now().toString(36)}`;
// Intake runs in this process for the intake and lag figures; scoring, as its
// own process, reads the same topics through TOPIC_NAMESPACE.
const topics: TopicNames = namespaced(run);
const common = {
  KAFKA_BROKERS: brokers.join(','),
  MONGODB_URI: mongoUri,
  GRPC_PORT: '0',
  ENFORCEMENT_ENV: 'development',
  KAFKA_CLIENT_ID: run,
};
const rows: { figure: string; value: string; raw: string; ratio: string; target: string }[] = [];
const results: Record<string, unknown> = {};
const log = (s: string) => process.stderr.write(`[bench] ${s}\n`);

const token = async (roles: ('agency' | 'supervisor')[]) => {
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'bench', roles, agencies: ['*'] })}`,
  );
  return md;
};

/** Accepted count of a SubmitEvents run. */
async function submit(
  client: intake.CaseIntakeServiceClient,
  md: Metadata,
  commands: Iterable<intake.Command>,
): Promise<number> {
  const acks = await submitAll(client, md, commands);
  const refused = acks.filter((a) => !a.accepted);
  for (const a of refused.slice(0, 3)) log(`rejected: ${a.errorCode} ${a.reason}`);
  return acks.length - refused.length;
}

async function rawIntakeLimit(n: number): Promise<number> {
  const client = await MongoClient.connect(mongoUri);
  const col = client.db(`${run}_raw`.replace(/-/g, '_')).collection('commits');
  const kafka = createKafka(brokers, `${run}-raw`);
  await ensureTopics(kafka, [{ topic: `${run}.raw`, numPartitions: 12 }]);
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const payload = Buffer.alloc(600, 7);
  const t0 = performance.now();
  const batch = 500;
  const mongo = (async () => {
    for (let i = 0; i < n; i += batch)
      await col.insertMany(
        Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({
          _id: `c${i + k}:1` as never,
          caseId: `c${i + k}`,
          events: [{ payload: payload.toString('base64') }],
        })),
      );
  })();
  const kafkaSend = (async () => {
    for (let i = 0; i < n; i += batch)
      await producer.send({
        topic: `${run}.raw`,
        acks: -1,
        messages: Array.from({ length: Math.min(batch, n - i) }, (_, k) => ({
          key: `c${i + k}`,
          value: payload,
        })),
      });
  })();
  await Promise.all([mongo, kafkaSend]);
  const rate = n / ((performance.now() - t0) / 1000);
  await producer.disconnect();
  await client.db(`${run}_raw`.replace(/-/g, '_')).dropDatabase();
  await client.close();
  return rate;
}

/**
 * The same workload published to the ingress's submissions topic, keyed by
 * case as an agency's producer would: events/s from the first send until
 * the last receipt, and how many were accepted.
 */
async function ingressRate(
  md: Metadata,
  commands: readonly intake.Command[],
): Promise<{ rate: number; accepted: number }> {
  const kafka = createKafka(brokers, `${run}-ingress`);
  const bearer = String(md.get('authorization')[0]);
  const consumer = kafka.consumer({ groupId: `${run}-receipts` });
  let receipts = 0;
  let accepted = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: topics.intakeReceipts, fromBeginning: true });
  let last = performance.now();
  await consumer.run({
    eachMessage: async ({ message }) => {
      receipts++;
      if (JSON.parse(String(message.value)).accepted) accepted++;
      last = performance.now();
    },
  });
  const producer = kafka.producer();
  await producer.connect();
  const t0 = performance.now();
  for (let i = 0; i < commands.length; i += 500)
    await producer.send({
      topic: topics.intakeSubmissions,
      messages: commands.slice(i, i + 500).map((command, k) => ({
        key: command.kind?.value.meta?.caseId ?? '',
        value: JSON.stringify(intake.SubmitEventsRequest.toJSON({ sequence: i + k + 1, command })),
        headers: { authorization: bearer },
      })),
    });
  const deadline = Date.now() + 30 * 60_000;
  while (receipts < commands.length && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  await producer.disconnect();
  await consumer.disconnect();
  if (receipts < commands.length)
    throw new Error(`the ingress answered ${receipts} of ${commands.length} in 30 minutes`);
  return { rate: accepted / ((last - t0) / 1000), accepted };
}

async function main() {
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? '',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit: execSync('git rev-parse --short HEAD').toString().trim(),
    at: new Date().toISOString(),
  };
  results.machine = machine;
  log(`machine ${JSON.stringify(machine)}`);

  // --- intake ---------------------------------------------------------------
  const intakeSvc = await createCaseIntake(
    loadIntakeConfig({
      ...common,
      MONGODB_DB: `${run}_intake`.replace(/-/g, '_'),
      INGRESS_ENABLED: PHASES.has('intake') ? 'true' : 'false',
      EVENT_STORE_BUCKETS: process.env.EVENT_STORE_BUCKETS ?? '0',
    }),
    { topics, log: () => undefined },
  );
  const client = new intake.CaseIntakeServiceClient(
    intakeSvc.address,
    credentials.createInsecure(),
  );
  const md = await token(['agency', 'supervisor']);
  const total1 = CASES * EVENTS_PER_CASE;
  let oneStream = NaN;
  let published = 0;
  if (PHASES.has('intake')) {
    log(`intake: ${fmt(total1)} commands through one SubmitEvents stream`);
    const t = performance.now();
    const accepted1 = await submit(client, md, workload(CASES, `${run}-a`));
    oneStream = accepted1 / ((performance.now() - t) / 1000);
    log(`intake: ${STREAMS} streams`);
    const tK = performance.now();
    const per = Math.ceil(CASES / STREAMS);
    const acceptedK = (
      await Promise.all(
        Array.from({ length: STREAMS }, (_, k) =>
          submit(client, md, workload(per, `${run}-b${k}`)),
        ),
      )
    ).reduce((a, b) => a + b, 0);
    const kStreams = acceptedK / ((performance.now() - tK) / 1000);
    log(`intake: ${fmt(total1)} commands through the Kafka ingress, keyed by case`);
    const ingress = await ingressRate(md, [...workload(CASES, `${run}-c`)]);
    await intakeSvc.relay.drain();
    log('raw limit: insertMany + produce');
    const raw = await rawIntakeLimit(total1);
    rows.push({
      figure: 'intake, 1 SubmitEvents stream (events/s)',
      value: fmt(oneStream),
      raw: fmt(raw),
      ratio: `${fmt((oneStream / raw) * 100)}%`,
      target: '≥ 50% of raw',
    });
    rows.push({
      figure: `intake, ${STREAMS} streams (events/s)`,
      value: fmt(kStreams),
      raw: fmt(raw),
      ratio: `${fmt((kStreams / raw) * 100)}%`,
      target: '≥ 50% of raw',
    });
    rows.push({
      figure: 'intake, the Kafka ingress, keyed by case (events/s)',
      value: fmt(ingress.rate),
      raw: fmt(raw),
      ratio: `${fmt((ingress.rate / raw) * 100)}%`,
      target: '—',
    });
    results.intake = {
      events: accepted1,
      oneStream,
      streams: STREAMS,
      kStreams,
      ingress: ingress.rate,
      raw,
      rejected: total1 - accepted1,
    };

    published = accepted1 + acceptedK + ingress.accepted;
  }

  // --- scoring, its own process, catching up with what intake published -------
  log(`scoring replays ${fmt(published)} events from the topic`);
  const t = performance.now();
  const scoringSvc = await startService('supervision-scoring', {
    ...common,
    TOPIC_NAMESPACE: run,
    MONGODB_DB: `${run}_scoring`.replace(/-/g, '_'),
    RULES_TICK_MS: '0',
    INTAKE_ADDRESS: intakeSvc.address,
    SCORING_GROUP: `${run}.scoring`,
  });
  const kafka = createKafka(brokers, `${run}-lag`);
  await untilNoLag(
    'waiting for scoring to replay the intake runs',
    [scoringSvc],
    () => groupLag(kafka, `${run}.scoring.projection.g1`, topics.caseEvents),
    200,
  );
  const projection = published / ((performance.now() - t) / 1000);
  results.scoringCatchUp = { events: published, rate: projection };

  // --- lag at half the one-stream maximum ------------------------------------
  const sup = await token(['supervisor']);
  const sClient = new scoring.ScoringServiceClient(
    scoringSvc.address,
    credentials.createInsecure(),
  );
  if (PHASES.has('lag')) {
    const rate = args['lag-rate']
      ? Number(args['lag-rate'])
      : Math.max(50, Math.floor((Number.isNaN(oneStream) ? 1000 : oneStream) / 2));
    if (!(rate > 0)) throw new Error(`--lag-rate: not a rate: ${args['lag-rate']}`);
    const scoringDb = `${run}_scoring`.replace(/-/g, '_');
    const writesBefore = await documentsByCollection(scoringDb);
    const lagCases = Math.min(600, Math.max(100, Math.floor((rate * 20) / EVENTS_PER_CASE)));
    log(`lag: ${lagCases} cases at ${rate} events/s, acceptance → score visible`);
    const ackAt = new Map<string, number>();
    const lags: number[] = [];
    // Each conclusion's second of the run (by its acknowledgement) and lag: the waves apart.
    const bySecond = new Map<number, number[]>();
    let t0 = performance.now();
    const watch = sClient.watchScores({ agencyId: '', district: '' }, sup);
    watch.on('data', (r: scoring.WatchScoresResponse) => {
      const at = r.score && ackAt.get(r.score.caseId);
      if (at !== undefined && r.score) {
        const lag = performance.now() - at;
        lags.push(lag);
        const second = Math.floor((at - t0) / 1000);
        const samples = bySecond.get(second) ?? [];
        samples.push(lag);
        bySecond.set(second, samples);
        ackAt.delete(r.score.caseId);
      }
    });
    watch.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const lagCommands = [...workload(lagCases, `${run}-lag`)];
    t0 = performance.now();
    const sent = await new Promise<number>((resolve, reject) => {
      let acked = 0;
      const call = client.submitEvents(md);
      call.on('data', (a: intake.SubmitEventsResponse) => {
        acked++;
        const cmd = lagCommands[a.sequence - 1];
        if (a.accepted && cmd?.kind?.$case === 'concludeCase')
          ackAt.set(a.caseId, performance.now());
      });
      call.on('end', () => resolve(acked));
      call.on('error', reject);
      // A fixed offered load: every 10 ms, the items due by now.
      let next = 0;
      const timer = setInterval(() => {
        const due = Math.min(
          lagCommands.length,
          Math.floor(((performance.now() - t0) / 1000) * rate),
        );
        while (next < due) {
          const command = lagCommands[next++];
          call.write({ sequence: next, command });
        }
        if (next >= lagCommands.length) {
          clearInterval(timer);
          call.end();
        }
      }, 10);
    });
    const offered = sent / ((performance.now() - t0) / 1000);
    const deadline = Date.now() + 60_000;
    while (ackAt.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    watch.cancel();
    const lag = summarize(lags);
    const waves = [...bySecond]
      .sort(([a], [b]) => a - b)
      .map(([second, samples]) => ({ second, ...summarize(samples) }));
    for (const w of waves)
      log(
        `lag: conclusions acknowledged in second ${w.second}: ${w.n}, p50 ${fmt(w.p50)} ms, max ${fmt(w.max)} ms`,
      );
    // What scoring wrote while the load ran, per event accepted (PostgreSQL publishes within about a second).
    await new Promise((r) => setTimeout(r, 1_500));
    const writes = perEventByCollection(writesBefore, await documentsByCollection(scoringDb), sent);
    if (writes) log(`lag: scoring wrote ${describeWrites(writes)}`);
    rows.push({
      figure: `projection lag at ${fmt(offered)} events/s offered, p50 / p99 / max (ms)`,
      value: `${fmt(lag.p50)} / ${fmt(lag.p99)} / ${fmt(lag.max)}`,
      raw: '—',
      ratio: '—',
      target: 'p99 < 1000 ms',
    });
    if (writes)
      rows.push({
        figure: `documents scoring wrote per event at that load (the largest collections)`,
        value: `${fmt(writes.total, 3)} (${Object.entries(writes.byCollection)
          .slice(0, 3)
          .map(([name, n]) => `${name} ${fmt(n, 3)}`)
          .join(', ')})`,
        raw: '—',
        ratio: '—',
        target: '≤ 0.1',
      });
    results.lag = { offered, ...lag, lost: ackAt.size, writes, waves };
  }

  // --- query latency with many cases loaded ----------------------------------
  if (PHASES.has('queries')) {
    log(`queries: loading ${fmt(SCORE_CASES)} scored cases into fresh read models`);
    const fixture = await loadQueryFixture(mongoUri, `${run}_q`.replace(/-/g, '_'), SCORE_CASES);
    const qSvc = await createSupervisionScoring(
      loadScoringConfig({
        ...common,
        MONGODB_DB: fixture.db,
        RULES_TICK_MS: '0',
        SCORING_GROUP: `${run}.q`,
        INTAKE_ADDRESS: intakeSvc.address,
      }),
      { topics: { ...topics, caseEvents: `${run}.q-events` }, log: () => undefined },
    );
    const qClient = new scoring.ScoringServiceClient(qSvc.address, credentials.createInsecure());
    const pClient = new platform.PlatformServiceClient(qSvc.address, credentials.createInsecure());
    const time = async (fn: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < QUERIES; i++) {
        const s = performance.now();
        await fn();
        samples.push(performance.now() - s);
      }
      return summarize(samples);
    };
    const call = <T>(f: (cb: (e: Error | null, r: T) => void) => void) =>
      new Promise<T>((res, rej) => f((e, r) => (e ? rej(e) : res(r))));
    const listScores = (groupBy: number) =>
      call((cb) =>
        qClient.listScores(
          {
            groupBy,
            periodKind: 3,
            period: '2021',
            agencyId: '',
            district: '',
            domain: 0,
            ascending: false,
            pageSize: 50,
            pageToken: '',
          },
          sup,
          cb,
        ),
      );
    // The first call of each ranking after start reads and parses its pages
    // and folds them: reported on its own, then the calls that follow.
    const firstCalls: number[] = [];
    for (const groupBy of [1, 2, 3, 4]) {
      const s = performance.now();
      await listScores(groupBy);
      firstCalls.push(performance.now() - s);
    }
    let k = 0;
    const list = await time(() => listScores([1, 2, 3, 4][k++ % 4] ?? 1));
    const get = await time(() =>
      call((cb) =>
        qClient.getCaseScore(
          { caseId: fixture.caseIds[k++ % fixture.caseIds.length] ?? '' },
          sup,
          cb,
        ),
      ),
    );
    // The order list as supervisors page it: the whole city, what is open,
    // what is overdue, one agency, and the third page, with the token the
    // second gave; a tenth as many calls.
    let thirdPage = '';
    for (let i = 0; i < 2; i++)
      thirdPage = (
        await call<scoring.ListSupervisionOrdersResponse>((cb) =>
          qClient.listSupervisionOrders(
            scoring.ListSupervisionOrdersRequest.fromPartial({
              pageSize: 50,
              pageToken: thirdPage,
            }),
            sup,
            cb,
          ),
        )
      ).nextPageToken;
    const orderQueries = (
      [
        ['city-wide', {}],
        ['open', { status: scoring.OrderStatus.ORDER_STATUS_OPEN }],
        ['overdue', { overdueOnly: true }],
        ['one agency', { agencyId: AGENCIES[0] ?? '' }],
        ['the third page', { pageToken: thirdPage }],
      ] as const
    ).map(([name, q]) => ({
      name,
      request: scoring.ListSupervisionOrdersRequest.fromPartial({ pageSize: 50, ...q }),
      samples: [] as number[],
    }));
    const orderCalls: number[] = [];
    for (let i = 0; i < Math.max(orderQueries.length, Math.round(QUERIES / 10)); i++) {
      const q = orderQueries[i % orderQueries.length];
      if (!q) continue;
      const s = performance.now();
      await call((cb) => qClient.listSupervisionOrders(q.request, sup, cb));
      const took = performance.now() - s;
      q.samples.push(took);
      orderCalls.push(took);
    }
    const listOrders = summarize(orderCalls);
    log(
      `ListSupervisionOrders p50 by query: ${orderQueries.map((q) => `${q.name} ${fmt(summarize(q.samples).p50, 1)} ms`).join(', ')}`,
    );
    const echo = await time(() => call((cb) => pClient.getServerInfo({}, cb)));
    const mc = await MongoClient.connect(mongoUri);
    const flat = mc.db(fixture.db).collection('flat_cases');
    const find = await time(() =>
      flat.findOne({ _id: fixture.caseIds[k++ % fixture.caseIds.length] as never }),
    );
    // What each call cost before layout 7: every order read, filtered and sorted in the service.
    const everyOrder: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      await mc.db(fixture.db).collection('g1_orders').find({}).toArray();
      everyOrder.push(performance.now() - s);
    }
    await mc.close();
    rows.push({
      figure: `ListScores with ${fmt(SCORE_CASES)} cases, p50 / p99 (ms)`,
      value: `${fmt(list.p50, 1)} / ${fmt(list.p99, 1)}`,
      raw: `${fmt(echo.p50 + find.p50, 1)} / ${fmt(echo.p99 + find.p99, 1)}`,
      ratio: `${fmt(((echo.p99 + find.p99) / list.p99) * 100)}%`,
      target: 'p99 < 20 ms',
    });
    rows.push({
      figure: `ListScores, first call of each ranking after start, by officer / unit / agency / district (ms)`,
      value: firstCalls.map((t) => fmt(t, 1)).join(' / '),
      raw: '—',
      ratio: '—',
      target: '—',
    });
    rows.push({
      figure: `GetCaseScore with ${fmt(SCORE_CASES)} cases, p50 / p99 (ms)`,
      value: `${fmt(get.p50, 1)} / ${fmt(get.p99, 1)}`,
      raw: `${fmt(echo.p50 + find.p50, 1)} / ${fmt(echo.p99 + find.p99, 1)}`,
      ratio: `${fmt(((echo.p99 + find.p99) / get.p99) * 100)}%`,
      target: 'p99 < 20 ms',
    });
    rows.push({
      figure: `ListSupervisionOrders with ${fmt(fixture.orders)} orders (city-wide, open, overdue, one agency, the third page by its token; ${fmt(orderCalls.length)} calls), p50 / p99 (ms); reading every order once, as each call did before layout 7, in the raw column`,
      value: `${fmt(listOrders.p50, 1)} / ${fmt(listOrders.p99, 1)}`,
      raw: `${fmt(Math.min(...everyOrder))}`,
      ratio: '—',
      target: 'p99 < 1000 ms (a console page)',
    });
    results.queries = {
      cases: SCORE_CASES,
      orders: fixture.orders,
      listSupervisionOrders: listOrders,
      everyOrderRead: everyOrder,
      listScores: list,
      listScoresFirstCalls: firstCalls,
      getCaseScore: get,
      grpcEcho: echo,
      findByIdUnpartitioned: find,
    };

    qClient.close();
    pClient.close();
    await qSvc.stop();
  }
  sClient.close();
  client.close();
  await scoringSvc.stop();
  await intakeSvc.stop();

  // --- the console over a loaded year: page loads and live updates, in Chromium
  if (PHASES.has('console')) {
    const c = await benchConsole({
      run,
      brokers,
      mongoUri,
      events: Number(args['console-events']),
      samples: Number(args['console-samples']),
    });
    for (const [name, t] of Object.entries(c.pages))
      rows.push({
        figure: `console page "${name}" until its data shows, at ${fmt(c.events)} events: first load in a new browser / warm p50 / p99 (ms)`,
        value: `${fmt(t.cold)} / ${fmt(t.warm.p50)} / ${fmt(t.warm.p99)}`,
        raw: '—',
        ratio: '—',
        target: '< 1000 ms',
      });
    rows.push({
      figure: `an order opened through intake until it shows on an open console page, live, p50 / p99 / max (ms; ${c.live.n} orders)`,
      value: `${fmt(c.live.p50)} / ${fmt(c.live.p99)} / ${fmt(c.live.max)}`,
      raw: '—',
      ratio: '—',
      target: '< 2000 ms',
    });
    rows.push({
      figure: 'peak resident memory, console (MiB)',
      value: fmt(c.consolePeakRssMiB),
      raw: '—',
      ratio: '—',
      target: '< 512 MiB',
    });
    results.console = c;
  }

  // --- a year: end to end, the report, rebuild and memory, services as processes
  if (PHASES.has('scale')) {
    const points = await benchScale({
      events: Number(args['scale-events']),
      instances: (args['scale-instances'] ?? '').split(',').map(Number),
      brokers,
      mongoUri,
      run,
      log,
    });
    const base = points[0];
    for (const p of points)
      rows.push({
        figure: `end to end with ${p.instances} instance${p.instances > 1 ? 's' : ''} of each service, at ${fmt(p.events)} events (events/s; submitted in ${fmt(p.submittedMs / 1000, 1)} s, caught up in ${fmt(p.ms / 1000, 1)} s)`,
        value: fmt(p.rate),
        raw: '—',
        ratio: base && p !== base ? `×${(p.rate / base.rate).toFixed(2)} of 1` : '—',
        target: `×${p.instances} of 1, where cores allow`,
      });
    if (base)
      rows.push({
        figure: `storage per event at ${fmt(base.events)} events: each database's dbStats totalSize (data and indexes, FerretDB on PostgreSQL) / the mean case-events message (B)`,
        value: `intake ${fmt(base.bytesPerEvent.intake)} · scoring ${fmt(base.bytesPerEvent.scoring)} · reporting ${fmt(base.bytesPerEvent.reporting)} / ${fmt(base.messageBytes)}`,
        raw: '—',
        ratio: '—',
        target: '—',
      });
    results.scale = points;
  }

  if (PHASES.has('year')) {
    const y = await benchYear({
      events: YEAR_EVENTS,
      streams: YEAR_STREAMS,
      repeat: Number(args.repeat),
      brokers,
      mongoUri,
      run,
      log,
    });
    const pct = (a: number, b: number) => `${fmt((a / b) * 100)}%`;
    const fmt2 = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));
    const ms = (x: { p50: number; max: number }) => `${fmt(x.p50)} / ${fmt(x.max)}`;
    const at = `at ${fmt(y.events)} events`;
    rows.push(
      {
        figure: `end to end: submitted${YEAR_STREAMS > 1 ? ` through ${YEAR_STREAMS} streams` : ''} until in the scoring and reporting read models, ${at} (events/s${y.refused.count > 0 ? `; ${fmt(y.refused.count)} of the year's commands refused, first: ${y.refused.first}` : ''})`,
        value: fmt(y.endToEnd.rate),
        raw: fmt(y.endToEnd.raw),
        ratio: pct(y.endToEnd.rate, y.endToEnd.raw),
        target: '≥ 50% of raw',
      },
      {
        figure: `supervision rules (event clock): every action due exists, after both projections first caught up, ${at} (s; ${fmt(y.rules.actions)} actions, ${fmt(y.rules.refused)} refused)`,
        value: fmt(y.rules.afterCatchUpMs / 1000, 1),
        raw: '—',
        ratio: '—',
        target: '< 5 s',
      },
      {
        figure: `year's report from the read models, ${at}: the first call as of now, which folds the year (ms)`,
        value: fmt(y.report.first),
        raw: '—',
        ratio: '—',
        target: '< 2000 ms',
      },
      {
        figure: `the same asked again, nothing moved since, p50 / max (ms)`,
        value: ms(y.report.current),
        raw: '—',
        ratio: '—',
        target: '< 2000 ms',
      },
      {
        figure: `the same as of a past moment, p50 / max (ms)`,
        value: ms(y.report.asOf),
        raw: '—',
        ratio: '—',
        target: '< 2000 ms',
      },
      {
        figure: `the HTML report rendered, p50 / max (ms)`,
        value: ms(y.report.html),
        raw: '—',
        ratio: '—',
        target: '—',
      },
      {
        figure: `ReadAll of 100 events from the start / the middle / the last block of positions, at ${fmt(y.events)} events, p50 / max (ms)`,
        value: `${ms(y.readAll.start)} · ${ms(y.readAll.middle)} · ${ms(y.readAll.head)}`,
        raw: '—',
        ratio: '—',
        target: '< 100 ms',
      },
      {
        figure: `rebuild of all read models from the topic, ${at} (events/s)`,
        value: fmt(y.rebuild.rate),
        raw: fmt(y.rebuild.raw),
        ratio: pct(y.rebuild.rate, y.rebuild.raw),
        target: '≥ 50% of raw',
      },
      {
        figure: '… of which scoring alone / reporting alone (events/s)',
        value: `${fmt(y.rebuild.scoring.rate)} / ${fmt(y.rebuild.reporting.rate)}`,
        raw: fmt(y.rebuild.raw),
        ratio: `${pct(y.rebuild.scoring.rate, y.rebuild.raw)} / ${pct(y.rebuild.reporting.rate, y.rebuild.raw)}`,
        target: '—',
      },
      {
        figure: `documents scoring wrote per event, live (rules on) / replaying (rows inserted, updated and deleted in its database, PostgreSQL's statistics under FerretDB)`,
        value: `${fmt2(y.scoringDocumentsPerEvent.live)} / ${fmt2(y.scoringDocumentsPerEvent.rebuild)}`,
        raw: '—',
        ratio: '—',
        target: '≤ 0.1',
      },
      ...(['case-intake', 'supervision-scoring', 'reporting'] as const).map((name) => ({
        figure: `peak resident memory, ${name}, ${at} (MiB)`,
        value: fmt(y.peakRssMiB[name]),
        raw: '—',
        ratio: '—',
        target: '< 512 MiB',
      })),
    );
    results.year = y;
  }

  // The run's databases go; its topics stay, small, for a look afterwards.
  const cleanup = await MongoClient.connect(mongoUri);
  const { databases } = await cleanup.db('admin').admin().listDatabases();
  for (const d of databases)
    if (d.name.startsWith(run.replace(/-/g, '_'))) await cleanup.db(d.name).dropDatabase();
  await cleanup.close();

  const table = [
    '| figure | this run | raw limit (same run) | ratio | target |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.figure} | ${r.value} | ${r.raw} | ${r.ratio} | ${r.target} |`),
  ].join('\n');
  const command = `npm run bench -- --cases ${CASES} --streams ${STREAMS} --score-cases ${SCORE_CASES} --queries ${QUERIES} --year-events ${YEAR_EVENTS}${YEAR_STREAMS > 1 ? ` --year-streams ${YEAR_STREAMS}` : ''}${PHASES.has('scale') ? ` --scale-events ${args['scale-events']} --scale-instances ${args['scale-instances']}` : ''}${PHASES.has('console') ? ` --console-events ${args['console-events']} --console-samples ${args['console-samples']}` : ''}${args['lag-rate'] ? ` --lag-rate ${args['lag-rate']}` : ''} --phases ${[...PHASES].join(',')}`;
  const md_ = [
    '# Benchmark results',
    '',
    `Commit \`${machine.commit}\`, ${machine.at}, ${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Node ${machine.node}.`,
    `Command: \`${command}\``,
    '',
    table,
    '',
    'Raw limits, measured in the same run on the same stack, with no domain logic:',
    '- intake: MongoDB `insertMany` of as many documents as the one-stream run submitted commands, while kafkajs produces as many messages (idempotent, acks=all);',
    "- end to end: kafkajs produces the year's number of messages while a consumer `insertMany`s each batch as it arrives, from the first send to the last write;",
    '- rebuild: a new consumer group reads those messages from the start and `insertMany`s each batch;',
    '- queries: a grpc-js call to PlatformService plus a `findOne` by `_id` on an unpartitioned collection of the same cases.',
    '',
    "The year is generated (packages/generator), streamed through one SubmitEvents stream into the three services, each its own process (`node apps/<service>/dist/main.js`), with scoring's rules running every 2 s on the event clock. Rebuild: new scoring and reporting processes, new databases and consumer groups, replaying the topic. What bounds each figure: docs/performance.md.",
    '',
  ].join('\n');
  mkdirSync(args.out ?? 'docs/bench', { recursive: true });
  writeFileSync(join(args.out ?? 'docs/bench', 'latest.md'), md_);
  writeFileSync(join(args.out ?? 'docs/bench', 'latest.json'), JSON.stringify(results, null, 2));
  console.log(`\n${table}\n`);
  process.exit(0);
}

await main();
void events;
