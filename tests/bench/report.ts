// npm run bench:report [-- --events 1000000 --out docs/bench]
// A year of at least --events case events on a topic; the reporting service
// and the scoring service (each its own process, with its image's heap limits;
// scoring's rules off, as in a rebuild) project them side by side; then the
// time to produce the year's report from the read models and as of a past
// date, and each service's peak resident memory.
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata } from '@grpc/grpc-js';
import { Partitioners } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { events, reporting } from '@enforcement/contracts';
import { generateYear, SyntheticHistory } from '@enforcement/generator';
import { cityDate } from '@enforcement/reference-data';
import {
  createKafka,
  ensureTopics,
  groupLag,
  partitionOfKey,
  Topics,
} from '@enforcement/messaging';
import { stallGuard, startService, untilNoLag } from './processes.js';
import { fmt, summarize, type Summary } from './stats.js';
import { describeWrites, documentsByCollection, perEventByCollection } from './writes.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    repeat: { type: 'string', default: '5' },
    out: { type: 'string', default: 'docs/bench' },
    /** Also write the rendered HTML report here. */
    example: { type: 'string' },
  },
});
const EVENTS = Number(args.events);
const REPEAT = Number(args.repeat);
const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
const mongoUri = process.env.MONGODB_URI ?? '';
if (brokers.length === 0 || !mongoUri)
  throw new Error('KAFKA_BROKERS and MONGODB_URI must be set (npm run bench:report sets them)');
const log = (s: string) => process.stderr.write(`[bench:report] ${s}\n`);
const run = `benchrep-${Date.now().toString(36)}`;
const topic = `${run}.${Topics.caseEvents}`;
const db = run.replace(/-/g, '_');

/** Produces the generated year's events (as intake would have stored them) onto the topic. */
async function produceYear(): Promise<{ events: number; cases: number; ms: number }> {
  // About 9.5 events per enforcement case.
  const year = generateYear({ seed: 'bench', cases: Math.ceil(EVENTS / 9.4), evaluate: true });
  const kafka = createKafka(brokers, run);
  await ensureTopics(kafka, [{ topic, numPartitions: 12 }]);
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  const history = new SyntheticHistory();
  const t0 = performance.now();
  let batch: { key: string; value: Buffer }[] = [];
  let n = 0;
  for (const command of year.stream()) {
    const e = history.next(command);
    batch.push({ key: e.caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) });
    if (batch.length === 5_000) {
      await producer.send({ topic, acks: -1, messages: batch });
      n += batch.length;
      batch = [];
      if (n % 100_000 === 0) log(`produced ${fmt(n)} events`);
    }
  }
  await producer.send({ topic, acks: -1, messages: batch });
  n += batch.length;
  await producer.disconnect();
  return { events: n, cases: year.options.cases, ms: performance.now() - t0 };
}

/**
 * Times `list` (ListCases of 2021) right after reporting has applied new
 * events, REPEAT times: cases of 2022 registered on `spread` partitions (one
 * each), which moves their progress and changes nothing of 2021.
 */
async function timedAfterMoves(
  kafka: ReturnType<typeof createKafka>,
  ask: () => Promise<unknown>,
  spread: number,
  /** Names the cases it registers, apart from other calls'. */
  label: string,
) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const samples: number[] = [];
  try {
    for (let i = 0; i < REPEAT; i++) {
      const messages = [];
      for (let p = 0; p < spread; p++) {
        let caseId = `${run}-${label}${spread}-${i}-${p}`;
        for (let k = 0; partitionOfKey(caseId, 12) !== p; k++)
          caseId = `${run}-${label}${spread}-${i}-${p}-${k}`;
        const at = cityDate(2022, 6, 1);
        const e = events.CaseEvent.fromPartial({
          eventId: `${caseId}-1`,
          caseId,
          version: 1,
          position: 2_000_000_000 + i * 12 + p,
          occurredAt: at,
          recordedAt: at,
          agencyId: 'lz-eeb',
          payload: {
            $case: 'caseRegistered',
            value: events.CaseRegistered.fromPartial({ agencyId: 'lz-eeb', district: '城中区' }),
          },
        });
        messages.push({ key: caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) });
      }
      await producer.send({ topic, acks: -1, messages });
      const deadline = Date.now() + 60_000;
      while ((await groupLag(kafka, `${run}.reporting`, topic)) > 0) {
        if (Date.now() > deadline) throw new Error('reporting did not apply the 2022 case in 60 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      const t = performance.now();
      await ask();
      samples.push(performance.now() - t);
    }
  } finally {
    await producer.disconnect();
  }
  return summarize(samples);
}

const services = {
  KAFKA_BROKERS: brokers.join(','),
  MONGODB_URI: mongoUri,
  KAFKA_CLIENT_ID: run,
  TOPIC_NAMESPACE: run,
};

async function main() {
  log(`producing a year of at least ${fmt(EVENTS)} events`);
  const produced = await produceYear();
  log(
    `produced ${fmt(produced.events)} events of ${fmt(produced.cases)} cases in ${fmt(produced.ms / 1000, 1)} s`,
  );

  const t0 = performance.now();
  const service = await startService('reporting', {
    ...services,
    MONGODB_DB: db,
    REPORTING_GROUP: `${run}.reporting`,
  });
  const scoring = await startService('supervision-scoring', {
    ...services,
    MONGODB_DB: `${db}_scoring`,
    SCORING_GROUP: `${run}.scoring`,
    RULES_TICK_MS: '0',
    RULES_CLOCK: 'events',
  });
  const kafka = createKafka(brokers, `${run}-lag`);
  // A fresh scoring database starts its read models at generation 1.
  const scored = untilNoLag(
    'waiting for scoring to project the year',
    [scoring],
    () => groupLag(kafka, `${run}.scoring.projection.g1`, topic),
    2_000,
  ).then(() => performance.now() - t0);
  // Settled now, so that a failure surfaces at its own await below, not unhandled meanwhile.
  scored.catch(() => undefined);
  const client = new reporting.ReportingServiceClient(
    service.address,
    credentials.createInsecure(),
  );
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'bench', roles: ['reporting'] })}`,
  );
  const call = <Res>(f: (cb: (e: Error | null, r: Res) => void) => void) =>
    new Promise<Res>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
  const stats = (asOf?: Date) =>
    call<reporting.GetAnnualStatisticsResponse>((cb) =>
      client.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({
          year: 2021,
          groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
          asOf,
        }),
        md,
        cb,
      ),
    );

  // Caught up when the figures are complete through a moment after the production ended.
  const producedBy = new Date();
  const guard = stallGuard('waiting for reporting to project the year', [service]);
  for (;;) {
    await new Promise((r) => setTimeout(r, 2_000));
    const probe = await call<reporting.GetAnnualStatisticsResponse>((cb) =>
      client.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: 1990, groupBy: 1 }),
        md,
        cb,
      ),
    );
    if (probe.asOf && probe.asOf > producedBy) break;
    guard(`${probe.asOf?.toISOString()}, lag ${await groupLag(kafka, `${run}.reporting`, topic)}`);
    log(`projecting… ${fmt((performance.now() - t0) / 1000)} s`);
  }
  const projectMs = performance.now() - t0;
  log(`reporting projected in ${fmt(projectMs / 1000, 1)} s`);
  // The reports are timed with the machine to themselves, as before scoring ran beside.
  const scoringMs = await scored;
  log(`scoring projected in ${fmt(scoringMs / 1000, 1)} s`);

  const time = async (f: () => Promise<unknown>) => {
    const samples: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const s = performance.now();
      await f();
      samples.push(performance.now() - s);
    }
    return summarize(samples);
  };
  // The first call folds the year; the ones after it find nothing moved.
  const firstAt = performance.now();
  await stats();
  const first = performance.now() - firstAt;
  const current = await time(() => stats());
  const pastDate = cityDate(2022, 1, 31);
  const asOf = await time(() => stats(pastDate));
  const html = await time(() =>
    call<reporting.RenderAnnualReportResponse>((cb) =>
      client.renderAnnualReport(
        reporting.RenderAnnualReportRequest.fromPartial({
          year: 2021,
          format: reporting.ReportFormat.REPORT_FORMAT_HTML,
        }),
        md,
        cb,
      ),
    ),
  );
  // An officer's cases as the console's drill-down lists them, and the
  // city's, first page and the third by its token. The first call reads the
  // year; the others find its listing kept, as no partition moved since.
  const listCases = (r: Partial<reporting.ListCasesRequest>) =>
    call<reporting.ListCasesResponse>((cb) =>
      client.listCases(reporting.ListCasesRequest.fromPartial({ year: 2021, ...r }), md, cb),
    );
  const coldStart = performance.now();
  const cityFirst = await listCases({});
  const coldMs = performance.now() - coldStart;
  const officerId = cityFirst.cases[0]?.officerIds[0] ?? '';
  const second = await listCases({ pageToken: cityFirst.nextPageToken });
  const listed = {
    city: await time(() => listCases({})),
    third: await time(() => listCases({ pageToken: second.nextPageToken })),
    officer: await time(() => listCases({ officerId })),
  };
  const officerTotal = (await listCases({ officerId })).total;
  if (args.example) {
    const page = await call<reporting.RenderAnnualReportResponse>((cb) =>
      client.renderAnnualReport(
        reporting.RenderAnnualReportRequest.fromPartial({
          year: 2021,
          format: reporting.ReportFormat.REPORT_FORMAT_HTML,
        }),
        md,
        cb,
      ),
    );
    writeFileSync(args.example, page.content);
    log(`wrote ${args.example}`);
  }
  const now = await stats();
  const past = await stats(pastDate);
  // ListCases once partitions have moved (cases of 2022 registered, nothing
  // of 2021 changed), the JIT warm: one partition, which is read again, then
  // all twelve, which reads the year again.
  const moved = await timedAfterMoves(kafka, () => listCases({}), 1, 'move');
  const movedAll = await timedAfterMoves(kafka, () => listCases({}), 12, 'move');
  // The year's statistics as of now the same way: folded per partition, a
  // call reads again the partitions that moved (after one call that takes
  // in the moves above).
  await stats();
  const statsMoved = await timedAfterMoves(kafka, () => stats(), 1, 'stats');
  const statsMovedAll = await timedAfterMoves(kafka, () => stats(), 12, 'stats');
  const rss = service.peakRssMiB();
  const scoringRss = scoring.peakRssMiB();
  client.close();
  await service.stop();
  await scoring.stop();
  // Read seconds after scoring's last write, as PostgreSQL publishes its counts within about one.
  const scoringWrites = perEventByCollection(
    new Map(),
    await documentsByCollection(`${db}_scoring`),
    produced.events,
  );
  if (scoringWrites) log(`scoring wrote ${describeWrites(scoringWrites)}`);
  const mongo = new MongoClient(mongoUri, { retryWrites: false });
  await mongo.connect();
  await mongo.db(db).dropDatabase();
  await mongo.db(`${db}_scoring`).dropDatabase();
  await mongo.close();

  const commit = execSync('git rev-parse --short HEAD').toString().trim();
  /** The rows of a call timed after one partition moved, and after all twelve did. */
  const afterMoves = (what: string, one: Summary, all: Summary): string[][] => [
    [
      `${what} once one partition has moved (reads that partition again; p50 / max)`,
      `${fmt(one.p50)} ms / ${fmt(one.max)} ms`,
      `${REPEAT} calls, each after one event of 2022 was applied`,
    ],
    [
      `${what} once every partition has moved (reads the year again; p50 / max)`,
      `${fmt(all.p50)} ms / ${fmt(all.max)} ms`,
      `${REPEAT} calls, each after an event of 2022 was applied on each of the 12 partitions`,
    ],
  ];
  const rows = [
    ['events in the year', fmt(produced.events), ''],
    [
      'projection into the reporting read model',
      `${fmt(produced.events / (projectMs / 1000))} events/s`,
      `${fmt(projectMs / 1000, 1)} s`,
    ],
    [
      'annual statistics from the read models, the first call as of now (folds the year)',
      `${fmt(first)} ms`,
      'target < 2,000 ms',
    ],
    [
      'the same asked again, nothing moved since (p50 / max)',
      `${fmt(current.p50)} ms / ${fmt(current.max)} ms`,
      '',
    ],
    ...afterMoves('the same', statsMoved, statsMovedAll),
    ['as of 2022-01-31 (p50 / max)', `${fmt(asOf.p50)} ms / ${fmt(asOf.max)} ms`, ''],
    ['HTML report rendered (p50 / max)', `${fmt(html.p50)} ms / ${fmt(html.max)} ms`, ''],
    [
      'ListCases, the first call after the projection (reads the year)',
      `${fmt(coldMs)} ms`,
      `${fmt(cityFirst.total)} cases in the year`,
    ],
    ...afterMoves("ListCases, the city's first page", moved, movedAll),
    [
      "ListCases after it, the city's first page / its third by token / one officer's (p50 / max)",
      `${fmt(listed.city.p50, 1)} / ${fmt(listed.third.p50, 1)} / ${fmt(listed.officer.p50, 1)} ms · max ${fmt(Math.max(listed.city.max, listed.third.max, listed.officer.max), 1)} ms`,
      `${fmt(officerTotal)} the officer's; the year's listing kept while no partition moves`,
    ],
    ['reporting peak resident memory', `${fmt(rss)} MiB`, 'target < 512 MiB'],
    [
      'projection into the scoring read models (rules off), beside it',
      `${fmt(produced.events / (scoringMs / 1000))} events/s`,
      `${fmt(scoringMs / 1000, 1)} s`,
    ],
    [
      "documents scoring wrote per event (rows inserted, updated and deleted in its database, PostgreSQL's statistics under FerretDB)",
      scoringWrites ? fmt(scoringWrites.total, 3) : 'not read (not FerretDB on PostgreSQL)',
      'target ≤ 0.1',
    ],
    ['scoring peak resident memory', `${fmt(scoringRss)} MiB`, 'target < 512 MiB'],
  ];
  const md_ = [
    `# Reporting (and scoring's memory) at ${fmt(produced.events)} events`,
    '',
    `Commit ${commit} · ${cpus().length} cores · ${fmt(totalmem() / 2 ** 30, 1)} GiB · Node ${process.version} · \`npm run bench:report -- --events ${EVENTS}\``,
    '',
    '| figure | value | note |',
    '| --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `2021 as of now: ${fmt(now.overall?.casesRegistered ?? 0)} registered, ${fmt(now.overall?.reconsiderationsAccepted ?? 0)} reconsiderations accepted, position ${now.position}, digest ${now.digest.slice(0, 16)}…`,
    `2021 as of 2022-01-31: ${fmt(past.overall?.casesConcluded ?? 0)} concluded (now ${fmt(now.overall?.casesConcluded ?? 0)}), position ${past.position}.`,
    '',
  ].join('\n');
  process.stdout.write(`${md_}\n`);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'report-latest.md'), md_);
  writeFileSync(
    join(args.out, 'report-latest.json'),
    `${JSON.stringify({ commit, events: produced.events, cases: produced.cases, projectMs, first, current, statsMoved, statsMovedAll, asOf, html, listCases: { ...listed, coldMs, moved, movedAll }, peakRssMiB: rss, scoringMs, scoringDocumentsPerEvent: scoringWrites, scoringPeakRssMiB: scoringRss, cores: cpus().length, node: process.version }, null, 2)}\n`,
  );
}

await main();
