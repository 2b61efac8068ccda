// Streams a sample of cases through the running case-intake (SubmitEvents),
// waits for supervision-scoring to score them and record its evaluations,
// and prints what a supervisor would look at first.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { workload, EVENTS_PER_CASE } from '../bench/workload.js';
import { submitAll } from '../support/submit.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '300' },
    intake: { type: 'string' },
    scoring: { type: 'string' },
    reporting: { type: 'string' },
  },
});
const cases = Number(values.cases);
const md = new Metadata();
md.set(
  'authorization',
  `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'demo', roles: ['agency', 'supervisor'], agencies: ['*'] })}`,
);
const intakeClient = new intake.CaseIntakeServiceClient(
  values.intake ?? '127.0.0.1:50051',
  credentials.createInsecure(),
);
const scoringClient = new scoring.ScoringServiceClient(
  values.scoring ?? '127.0.0.1:50052',
  credentials.createInsecure(),
);
const call = <T>(f: (cb: (e: ServiceError | null, r: T) => void) => void) =>
  new Promise<T>((res, rej) => f((e, r) => (e ? rej(e) : res(r))));

const run = `demo-${new Date().toISOString().slice(0, 10)}-${Date.now().toString(36)}`;
const t0 = performance.now();
const acks = await submitAll(intakeClient, md, workload(cases, run));
const secs = (performance.now() - t0) / 1000;
const accepted = acks.filter((a) => a.accepted).length;
console.log(
  `\nintake   ${accepted} of ${acks.length} events accepted through one SubmitEvents stream in ${secs.toFixed(1)} s (${Math.round(accepted / secs)} events/s)`,
);

// Wait until every concluded case has a score.
const last = `${run}-${cases - 1}`;
const deadline = Date.now() + 5 * 60_000;
for (;;) {
  const got = await call<scoring.GetCaseScoreResponse>((cb) =>
    scoringClient.getCaseScore({ caseId: last }, md, cb),
  ).catch(() => undefined);
  if (got?.score) break;
  if (Date.now() > deadline) throw new Error('scores did not appear within 5 minutes');
  await new Promise((r) => setTimeout(r, 500));
}
console.log(
  `scoring  ${cases} cases scored ${((performance.now() - t0) / 1000).toFixed(1)} s after the first submission`,
);

const year = String(new Date().getUTCFullYear());
const ranking = await call<scoring.ListScoresResponse>((cb) =>
  scoringClient.listScores(
    {
      groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
      periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
      period: year,
      agencyId: '',
      district: '',
      domain: 0,
      ascending: false,
      pageSize: 50,
      pageToken: '',
    },
    md,
    cb,
  ),
);
console.log(`\nagencies by mean score, ${year}`);
for (const r of ranking.rows)
  console.log(
    `  ${String(r.rank).padStart(2)}. ${r.key.padEnd(10)} ${r.meanScore.toFixed(1).padStart(6)}  (${r.cases} cases, timeliness ${r.indicatorMeans.timeliness?.toFixed(1)})`,
  );
const orders = await call<scoring.ListSupervisionOrdersResponse>((cb) =>
  scoringClient.listSupervisionOrders(
    { agencyId: '', status: 0, reason: 0, overdueOnly: false, pageSize: 1000, pageToken: '' },
    md,
    cb,
  ),
);
const open = orders.orders.filter((o) => o.status !== scoring.OrderStatus.ORDER_STATUS_ANSWERED);
console.log(
  `\nsupervision orders: ${orders.orders.length} in all, ${open.length} open, ${orders.orders.filter((o) => o.overdue).length} overdue`,
);
console.log(
  `(${EVENTS_PER_CASE} events per case; the rule runner records evaluations back into case-intake every few seconds)\n`,
);
// The year's statistics, once reporting has applied everything submitted.
const reportingClient = new reporting.ReportingServiceClient(
  values.reporting ?? '127.0.0.1:50053',
  credentials.createInsecure(),
);
const submittedBy = new Date();
let stats: reporting.GetAnnualStatisticsResponse;
for (;;) {
  stats = await call<reporting.GetAnnualStatisticsResponse>((cb) =>
    reportingClient.getAnnualStatistics({ year: Number(year), groupBy: 1 }, md, cb),
  );
  if (stats.asOf && stats.asOf > submittedBy) break;
  if (Date.now() > deadline) throw new Error('reporting did not catch up within 5 minutes');
  await new Promise((r) => setTimeout(r, 500));
}
const o = stats.overall;
if (o)
  console.log(
    `reporting ${year}: ${o.casesRegistered} registered, ${o.casesConcluded} concluded (closure ${(o.closureRate * 100).toFixed(1)}%), ${o.overdueCases} overdue, ${o.penalties} penalties totalling ¥${(o.penaltyTotalFen / 100).toLocaleString('en-US')}, ${o.ordersOpened} supervision orders; position ${stats.position}, digest ${stats.digest.slice(0, 16)}…`,
  );
const html = await call<reporting.RenderAnnualReportResponse>((cb) =>
  reportingClient.renderAnnualReport(
    { year: Number(year), format: reporting.ReportFormat.REPORT_FORMAT_HTML },
    md,
    cb,
  ),
);
mkdirSync('.stack/reports', { recursive: true });
const path = resolve(`.stack/reports/annual-${year}.html`);
writeFileSync(path, html.content);
console.log(`report    ${path}\n`);
intakeClient.close();
scoringClient.close();
reportingClient.close();
