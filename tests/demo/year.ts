// The main job's load: streams a generated year of the city's enforcement
// through the running case-intake (SubmitEvents), waits until supervision-
// scoring and reporting have caught up, and prints what a supervisor and a
// report writer would look at first. Deterministic: running it again
// resubmits the same commands, which intake recognises and ignores.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { generateYear } from '@enforcement/generator';
import { agencyName } from '@enforcement/reference-data';
import { submitAll } from '../support/submit.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000' },
    year: { type: 'string', default: '2021' },
    seed: { type: 'string', default: 'liuzhou' },
    intake: { type: 'string', default: '127.0.0.1:50051' },
    scoring: { type: 'string', default: '127.0.0.1:50052' },
    reporting: { type: 'string', default: '127.0.0.1:50053' },
  },
});
const yearNo = Number(values.year);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const md = new Metadata();
md.set(
  'authorization',
  `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'demo', roles: ['agency', 'supervisor', 'reporting'], agencies: ['*'] })}`,
);
const call = <T>(f: (cb: (e: ServiceError | null, r: T) => void) => void) =>
  new Promise<T>((res, rej) => f((e, r) => (e ? rej(e) : res(r))));
const intakeClient = new intake.CaseIntakeServiceClient(
  values.intake,
  credentials.createInsecure(),
);
const scoringClient = new scoring.ScoringServiceClient(
  values.scoring,
  credentials.createInsecure(),
);
const reportingClient = new reporting.ReportingServiceClient(
  values.reporting,
  credentials.createInsecure(),
);

const year = generateYear({ year: yearNo, cases: Number(values.cases), seed: values.seed });
process.stderr.write(
  `streaming ${fmt(year.commands)} commands (${fmt(year.options.cases)} cases, ${year.reviews} reconsiderations of ${yearNo}) through SubmitEvents\n`,
);
const t0 = performance.now();
let acked = 0;
let lastShown = 0;
const acks = await submitAll(intakeClient, md, year.stream(), () => {
  acked++;
  const now = performance.now();
  if (now - lastShown > 2_000) {
    lastShown = now;
    const secs = (now - t0) / 1000;
    const rate = acked / secs;
    process.stderr.write(
      `  ${fmt((acked / year.commands) * 100)}% ${fmt(acked)}/${fmt(year.commands)} ${fmt(rate)}/s ETA ${fmt((year.commands - acked) / rate)} s\n`,
    );
  }
});
const secs = (performance.now() - t0) / 1000;
const accepted = acks.filter((a) => a.accepted && !a.duplicate).length;
const duplicates = acks.filter((a) => a.duplicate).length;
const rejected = acks.filter((a) => !a.accepted);
console.log(
  `\nintake      ${fmt(accepted)} commands accepted, ${fmt(duplicates)} already there, ${rejected.length} rejected, in ${fmt(secs, 1)} s (${fmt(acks.length / secs)}/s)`,
);
for (const r of rejected.slice(0, 5))
  console.log(`  rejected: ${r.caseId} ${r.errorCode} ${r.reason}`);

// Caught up: reporting is complete past the last submission and its figures
// (which include the evaluations scoring records back) have stopped moving.
const submittedBy = new Date();
const stats = () =>
  call<reporting.GetAnnualStatisticsResponse>((cb) =>
    reportingClient.getAnnualStatistics(
      reporting.GetAnnualStatisticsRequest.fromPartial({
        year: yearNo,
        groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_NONE,
      }),
      md,
      cb,
    ),
  );
const rules = () =>
  call<scoring.GetRulesStatusResponse>((cb) => scoringClient.getRulesStatus({}, md, cb));
const deadline = Date.now() + 15 * 60_000;
let current = await stats();
let rulesNow = await rules();
// Settled: the supervision rules have nothing due that is not in the
// histories, and the figures (which count what they recorded) stopped moving.
for (let steady = 0; steady < 3;) {
  if (Date.now() > deadline) {
    const trouble = rulesNow.lastTroubleAt
      ? `; the rules' last trouble, at ${rulesNow.lastTroubleAt.toISOString()}: ${rulesNow.lastTrouble}`
      : '';
    throw new Error(
      `the projections did not settle within 15 minutes: ${fmt(Number(rulesNow.casesDue))} cases with an action due${trouble}`,
    );
  }
  await new Promise((r) => setTimeout(r, 3_000));
  const next = await stats();
  rulesNow = await rules();
  steady =
    next.asOf &&
    next.asOf > submittedBy &&
    next.digest === current.digest &&
    rulesNow.casesDue === 0
      ? steady + 1
      : 0;
  current = next;
}
console.log(
  `caught up   scoring and reporting settled ${fmt((performance.now() - t0) / 1000, 1)} s after the first submission`,
);
const reach = rulesNow.agencies.map((a) => a.judgedUpTo?.getTime() ?? 0);
console.log(
  `rules       ${fmt(Number(rulesNow.actionsSent))} actions taken by intake (orders, escalations, evaluations; one sent again and found recorded counts again), ${fmt(Number(rulesNow.actionsRefused))} refused; ${rulesNow.agencies.length} agencies judged up to ${new Date(Math.min(...reach)).toISOString().slice(0, 10)} – ${new Date(Math.max(...reach)).toISOString().slice(0, 10)} (event clock), nothing due`,
);

const o = current.overall;
if (o) {
  const pct = (v: number) => `${fmt(v * 100, 1)}%`;
  console.log(
    `\n${yearNo} annual statistics (as of ${current.asOf?.toISOString()}, position ${fmt(current.position)}, digest ${current.digest.slice(0, 16)}…)`,
  );
  console.log(
    `  cases        ${fmt(o.casesRegistered)} registered, ${fmt(o.casesConcluded)} concluded in the year; closure ${pct(o.closureRateInYear)} in the year, ${pct(o.closureRate)} by now; ${fmt(o.meanHandlingDays, 1)} days on average, p90 ${o.p90HandlingDays}; ${fmt(o.overdueCases)} overdue`,
  );
  console.log(
    `  penalties    ${fmt(o.penalties)} decisions, ¥${fmt(o.penaltyTotalFen / 100)} in fines, ${fmt(o.discretionAnomalies)} discretion anomalies`,
  );
  console.log(
    `  supervision  ${fmt(o.ordersOpened)} orders opened, ${fmt(o.ordersAnsweredOnTime)} answered on time, ${fmt(o.ordersEscalated)} escalated`,
  );
  console.log(
    `  review       ${o.reconsiderationsAccepted} reconsiderations accepted, ${o.reconsiderationsConcluded} concluded, ${o.reconsiderationsCorrected} corrected (${pct(o.correctionRate)})`,
  );
  console.log(
    `  mean score   ${fmt(o.meanScore, 2)} (each case's evaluation as recorded: at its conclusion, or once the orders open then were settled)`,
  );
}

const ranking = await call<scoring.ListScoresResponse>((cb) =>
  scoringClient.listScores(
    scoring.ListScoresRequest.fromPartial({
      groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
      periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
      period: String(yearNo),
      pageSize: 50,
    }),
    md,
    cb,
  ),
);
const line = (r: scoring.ScoreRow) =>
  `${String(r.rank).padStart(2)}. ${agencyName(r.key)} ${fmt(r.meanScore, 1)} (${fmt(r.cases)} cases)`;
// The scoring model's score now: orders escalated and decisions corrected on
// reconsideration after a case's evaluation count here, not in the evaluation.
const scored = ranking.rows.reduce((n, r) => n + r.cases, 0);
const cityNow = ranking.rows.reduce((sum, r) => sum + r.meanScore * r.cases, 0) / (scored || 1);
console.log(
  `\nagencies by their score now, ${yearNo} (the scoring model with what happened after the evaluations: later escalations, reconsideration corrections; the city ${fmt(cityNow, 2)})`,
);
for (const r of ranking.rows.slice(0, 3)) console.log(`  best   ${line(r)}`);
for (const r of ranking.rows.slice(-3)) console.log(`  worst  ${line(r)}`);

const count = async (status: scoring.OrderStatus) => {
  let n = 0;
  let pageToken = '';
  do {
    const page = await call<scoring.ListSupervisionOrdersResponse>((cb) =>
      scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({ status, pageSize: 1000, pageToken }),
        md,
        cb,
      ),
    );
    n += page.orders.length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  return n;
};
console.log(
  `\nsupervision orders now: ${fmt(await count(scoring.OrderStatus.ORDER_STATUS_OPEN))} open, ${fmt(await count(scoring.OrderStatus.ORDER_STATUS_ESCALATED))} escalated and unanswered`,
);

const html = await call<reporting.RenderAnnualReportResponse>((cb) =>
  reportingClient.renderAnnualReport(
    reporting.RenderAnnualReportRequest.fromPartial({
      year: yearNo,
      format: reporting.ReportFormat.REPORT_FORMAT_HTML,
    }),
    md,
    cb,
  ),
);
mkdirSync('.stack/reports', { recursive: true });
const path = resolve(`.stack/reports/annual-${yearNo}.html`);
writeFileSync(path, html.content);
console.log(`report      ${path}`);
console.log(
  `more        node apps/cli/dist/main.js --help   (scores, orders, report --as-of, verify, submit, generate)\n`,
);
intakeClient.close();
scoringClient.close();
reportingClient.close();
