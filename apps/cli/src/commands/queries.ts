import { writeFileSync } from 'node:fs';
import { events, type intake, reporting, scoring } from '@enforcement/contracts';
import { EXIT, int, oneOf, UsageError, type Command } from '../cli.js';
import {
  ADDRESSES,
  call,
  intakeClient,
  metadata,
  reportingClient,
  scoringClient,
} from '../connect.js';
import { address, note, print } from '../output.js';
import { printToPdf } from '../pdf.js';
import { count, table, wan } from '../table.js';
import { agencyName, DOMAIN, DOMAIN_NAMES } from '@enforcement/reference-data';

/** The name people read for a statistics group's key. */
function groupName(by: string, key: string): string {
  if (by === 'AGENCY') return agencyName(key);
  if (by === 'DOMAIN') return DOMAIN_NAMES[DOMAIN[key as keyof typeof DOMAIN]] ?? key;
  return '';
}

/** A time option, or a usage error naming it. */
function time(values: Record<string, unknown>, name: string): Date | undefined {
  const raw = values[name];
  if (typeof raw !== 'string') return undefined;
  const at = new Date(raw);
  if (Number.isNaN(at.getTime()))
    throw new UsageError(`--${name} is not a time (write e.g. 2021-06-30T23:59:59+08:00): ${raw}`);
  return at;
}

const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : '');

type PeriodKind = 'YEAR' | 'QUARTER' | 'MONTH';

/** A period as people write it: 2021, 2021-Q3 or 2021-07; its kind follows from its form. */
export function parsePeriod(period: string, kind?: string): { period: string; kind: PeriodKind } {
  const p = period.trim().toUpperCase();
  const found: PeriodKind | undefined = /^\d{4}$/.test(p)
    ? 'YEAR'
    : /^\d{4}-Q[1-4]$/.test(p)
      ? 'QUARTER'
      : /^\d{4}-(0[1-9]|1[0-2])$/.test(p)
        ? 'MONTH'
        : undefined;
  if (!found) throw new UsageError(`--period: write 2021, 2021-Q3 or 2021-07, not ${period}`);
  if (kind !== undefined && kind.toUpperCase() !== found)
    throw new UsageError(`--period ${period} is a ${found.toLowerCase()}, not a ${kind}`);
  return { period: p, kind: found };
}

/** How far back a command looks for the latest year with data. */
const YEARS_BACK = 10;

/** The years, newest first, from this one back YEARS_BACK. */
const recentYears = () =>
  Array.from({ length: YEARS_BACK + 1 }, (_, i) => new Date().getFullYear() - i);

/** The newest year for which `has` says there is data, if any. */
async function latestYearWith(
  has: (year: number) => Promise<boolean>,
): Promise<number | undefined> {
  for (const year of recentYears()) if (await has(year)) return year;
  return undefined;
}

export const scores: Command = {
  name: 'scores',
  service: 'scoring',
  summary: 'rank officers, units, agencies, districts or domains by mean score',
  usage: 'scores [--by agency] [--period 2021|2021-Q3|2021-07] [--agency ID] [--limit 20]',
  options: {
    by: { type: 'string' },
    period: { type: 'string' },
    'period-kind': { type: 'string' },
    agency: { type: 'string' },
    ascending: { type: 'boolean' },
    limit: { type: 'string' },
    scoring: { type: 'string' },
  },
  help: [
    '--by <group>          officer, unit, agency (default), district or domain',
    '--period <p>          2021, 2021-Q3 or 2021-07 (default: the latest year with scores)',
    '--period-kind <k>     year, quarter or month (optional: the period says which)',
    '--agency <id>         only this agency',
    '--ascending           worst first',
    '--limit <n>           rows (default 20)',
    '--scoring <addr>      supervision-scoring (default $ENFORCE_SCORING or 127.0.0.1:50052)',
  ],
  async run(v) {
    const by = oneOf(
      v,
      'by',
      ['OFFICER', 'UNIT', 'AGENCY', 'DISTRICT', 'DOMAIN'] as const,
      'AGENCY',
    );
    const kindOption = typeof v['period-kind'] === 'string' ? v['period-kind'] : undefined;
    if (kindOption !== undefined)
      oneOf(v, 'period-kind', ['YEAR', 'QUARTER', 'MONTH'] as const, 'YEAR');
    const md = await metadata(v.token as string | undefined);
    const client = scoringClient(address(v, 'scoring', ADDRESSES.scoring));
    const list = (period: string, kind: PeriodKind, pageSize: number) =>
      call<scoring.ListScoresResponse>((cb) =>
        client.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: scoring.groupByFromJSON(`GROUP_BY_${by}`),
            periodKind: scoring.periodKindFromJSON(`PERIOD_KIND_${kind}`),
            period,
            agencyId: typeof v.agency === 'string' ? v.agency : '',
            ascending: v.ascending === true,
            pageSize,
          }),
          md,
          cb,
        ),
      );
    const hasScores = async (year: number) => (await list(String(year), 'YEAR', 1)).rows.length > 0;
    const r = await (async () => {
      if (typeof v.period === 'string') {
        const { period, kind } = parsePeriod(v.period, kindOption);
        const found = await list(period, kind, int(v, 'limit', 20));
        if (found.rows.length === 0) {
          const latest = await latestYearWith(hasScores);
          note(
            latest === undefined
              ? `no scores for ${period}, nor for any year since ${recentYears().at(-1)}`
              : `no scores for ${period}; scores exist for ${latest} (--period ${latest})`,
          );
        }
        return found;
      }
      // No period: the latest year with scores (this one, if it has any).
      const latest = await latestYearWith(hasScores);
      const year = latest ?? new Date().getFullYear();
      if (latest === undefined) note(`no scores for any year since ${recentYears().at(-1)}`);
      else if (latest !== new Date().getFullYear())
        note(
          `no scores for ${new Date().getFullYear()}; showing ${latest}, the latest year with scores`,
        );
      return list(String(year), 'YEAR', int(v, 'limit', 20));
    })().finally(() => client.close());
    print(
      scoring.ListScoresResponse.toJSON(r),
      table(
        ['rank', 'group', 'name', 'mean score', 'cases', 'corrected'],
        r.rows.map((row) => [
          row.rank,
          row.key,
          row.label,
          Number(row.meanScore.toFixed(2)),
          row.cases,
          row.correctedCases,
        ]),
      ),
      v.json,
    );
    return EXIT.ok;
  },
};

export const orders: Command = {
  name: 'orders',
  service: 'scoring',
  summary: 'list supervision orders (督办)',
  usage:
    'orders [--status open|answered|escalated] [--escalated] [--unwarranted] [--agency ID] [--overdue] [--limit 50]',
  options: {
    status: { type: 'string' },
    escalated: { type: 'boolean' },
    unwarranted: { type: 'boolean' },
    agency: { type: 'string' },
    overdue: { type: 'boolean' },
    limit: { type: 'string' },
    scoring: { type: 'string' },
  },
  help: [
    '--status <s>          where an order stands now: open, answered, or escalated (and not',
    '                      answered since) (default: all)',
    '--escalated           only orders escalated at least once, answered since or not',
    '--unwarranted         only orders with an action their case no longer calls for (a fact',
    '                      dated before it arrived after it: late data)',
    '--agency <id>         only this agency',
    '--overdue             only orders past their response deadline',
    '--limit <n>           rows (default 50)',
    '--scoring <addr>      supervision-scoring (default $ENFORCE_SCORING or 127.0.0.1:50052)',
  ],
  async run(v) {
    const status =
      v.status === undefined
        ? scoring.OrderStatus.ORDER_STATUS_UNSPECIFIED
        : scoring.orderStatusFromJSON(
            `ORDER_STATUS_${oneOf(v, 'status', ['OPEN', 'ANSWERED', 'ESCALATED'] as const, 'OPEN')}`,
          );
    const md = await metadata(v.token as string | undefined);
    const client = scoringClient(address(v, 'scoring', ADDRESSES.scoring));
    const list = (only: { status?: scoring.OrderStatus; escalatedOnly?: boolean }) =>
      call<scoring.ListSupervisionOrdersResponse>((cb) =>
        client.listSupervisionOrders(
          scoring.ListSupervisionOrdersRequest.fromPartial({
            agencyId: typeof v.agency === 'string' ? v.agency : '',
            overdueOnly: v.overdue === true,
            unwarrantedOnly: v.unwarranted === true,
            pageSize: int(v, 'limit', 50),
            ...only,
          }),
          md,
          cb,
        ),
      );
    const r = await (async () => {
      const found = await list({ status, escalatedOnly: v.escalated === true });
      if (found.orders.length === 0 && status === scoring.OrderStatus.ORDER_STATUS_ESCALATED) {
        // Escalated orders that were answered since count as answered: say where they are.
        const since = await list({ escalatedOnly: true });
        if (since.orders.length > 0)
          note(
            `no order is escalated and still unanswered; ${since.orders.length}${since.nextPageToken ? '+' : ''} were escalated and answered since (--escalated lists them)`,
          );
      }
      return found;
    })().finally(() => client.close());
    print(
      scoring.ListSupervisionOrdersResponse.toJSON(r),
      table(
        [
          'order',
          'case',
          'agency',
          'name',
          'reason',
          'status',
          'level',
          'escalated',
          'opened',
          'due',
          'overdue',
          'no longer called for',
        ],
        r.orders.map((o) => [
          o.orderId,
          o.caseId,
          o.agencyId,
          agencyName(o.agencyId),
          events.supervisionReasonToJSON(o.reason).replace('SUPERVISION_REASON_', ''),
          scoring.orderStatusToJSON(o.status).replace('ORDER_STATUS_', ''),
          o.level,
          o.escalated ? 'yes' : '',
          day(o.openedAt),
          day(o.responseDueAt),
          o.overdue ? 'yes' : '',
          o.unwarrantedActions.join(' '),
        ]),
      ),
      v.json,
    );
    return EXIT.ok;
  },
};

export const rules: Command = {
  name: 'rules',
  service: 'scoring',
  summary: 'where the supervision rules stand: each agency judged up to when, actions due',
  usage: 'rules [--scoring ADDR]',
  options: { scoring: { type: 'string' } },
  help: ['--scoring <addr>      supervision-scoring (default $ENFORCE_SCORING or 127.0.0.1:50052)'],
  async run(v) {
    const md = await metadata(v.token as string | undefined);
    const client = scoringClient(address(v, 'scoring', ADDRESSES.scoring));
    const r = await call<scoring.GetRulesStatusResponse>((cb) =>
      client.getRulesStatus({}, md, cb),
    ).finally(() => client.close());
    const trouble = r.lastTroubleAt
      ? `\nlast trouble ${r.lastTroubleAt.toISOString()}${(r.lastAcceptedAt?.getTime() ?? 0) >= r.lastTroubleAt.getTime() ? ' (actions accepted since)' : ' (nothing accepted since)'}: ${r.lastTrouble}`
      : '';
    const summary = `clock ${r.clock}; last pass ${r.lastPassAt?.toISOString() ?? 'not yet'}; last action accepted ${r.lastAcceptedAt?.toISOString() ?? 'none yet'}; actions recorded ${r.actionsSent}, refused ${r.actionsRefused}, failed ${r.actionsFailed}; cases with an action due ${r.casesDue}; orders no longer called for ${r.ordersUnwarranted}${r.ordersUnwarranted > 0 ? ' (orders --unwarranted lists them)' : ''}${trouble}`;
    print(
      scoring.GetRulesStatusResponse.toJSON(r),
      `${summary}\n${table(
        ['agency', 'name', 'judged up to', 'cases due', 'orders no longer called for'],
        r.agencies.map((a) => [
          a.agencyId,
          agencyName(a.agencyId),
          a.judgedUpTo?.toISOString() ?? '',
          a.casesDue,
          a.ordersUnwarranted,
        ]),
      )}`,
      v.json,
    );
    return r.casesDue === 0 ? EXIT.ok : EXIT.partial;
  },
};

export const report: Command = {
  name: 'report',
  service: 'reporting',
  summary: "the year's statistics, or the annual report rendered as HTML, Markdown, CSV or JSON",
  usage:
    'report [--year 2021] [--as-of ISO-8601 [--basis occurred]] [--by agency] [--district D | --agency A] [--format html|pdf --out FILE]',
  options: {
    year: { type: 'string' },
    'as-of': { type: 'string' },
    basis: { type: 'string' },
    'recorded-through': { type: 'string' },
    by: { type: 'string' },
    district: { type: 'string' },
    agency: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    reporting: { type: 'string' },
  },
  help: [
    '--year <yyyy>         the year (default: the latest year with cases registered)',
    '--as-of <time>        the figures as they stood then, e.g. 2022-01-31T00:00:00+08:00',
    '--basis <b>           recorded (default): what had been recorded by --as-of;',
    '                      occurred: what had happened by --as-of, late reports put back in place',
    '--recorded-through <time>  with --basis occurred: count events recorded up to then (default: all',
    '                      applied; the answer names it, so a report can be made again)',
    '--by <group>          statistics by agency, district, domain or month (default: the city)',
    '--district <d>        count only the cases of this district (e.g. 柳南区)',
    '--agency <id>         count only the cases of this agency',
    '--format <f>          render the report: html, pdf, markdown, csv or json (pdf needs Chromium',
    '                      and --out; $CHROMIUM names the browser)',
    '-o, --out <file>      where the rendered report goes (default: stdout)',
    '--reporting <addr>    reporting (default $ENFORCE_REPORTING or 127.0.0.1:50053)',
  ],
  async run(v) {
    const asOf = time(v, 'as-of');
    const basis = reporting.asOfBasisFromJSON(
      `AS_OF_BASIS_${oneOf(v, 'basis', ['RECORDED', 'OCCURRED'] as const, 'RECORDED')}`,
    );
    const recordedThrough = time(v, 'recorded-through');
    if (recordedThrough && basis !== reporting.AsOfBasis.AS_OF_BASIS_OCCURRED)
      throw new UsageError('--recorded-through goes with --basis occurred');
    const format =
      v.format === undefined
        ? undefined
        : oneOf(v, 'format', ['HTML', 'PDF', 'MARKDOWN', 'CSV', 'JSON'] as const, 'HTML');
    const out = typeof v.out === 'string' && v.out !== '-' ? v.out : undefined;
    if (format === 'PDF' && !out)
      throw new UsageError('--format pdf writes a file: give --out FILE');
    const md = await metadata(v.token as string | undefined);
    const client = reportingClient(address(v, 'reporting', ADDRESSES.reporting));
    try {
      const hasData = async (y: number) => {
        const o = (
          await call<reporting.GetAnnualStatisticsResponse>((cb) =>
            client.getAnnualStatistics(
              {
                year: y,
                asOf,
                basis,
                recordedThrough,
                district: '',
                agencyId: '',
                groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_NONE,
              },
              md,
              cb,
            ),
          )
        ).overall;
        // A year's report is about the cases registered in it; a year that
        // only concluded the previous year's cases is not what people mean.
        return (o?.casesRegistered ?? 0) > 0;
      };
      let year: number;
      if (v.year !== undefined) {
        year = int(v, 'year', 0);
        if (!(await hasData(year))) {
          const latest = await latestYearWith(hasData);
          note(
            latest === undefined
              ? `no cases registered in ${year}, nor in any year since ${recentYears().at(-1)}`
              : `no cases registered in ${year}; the latest year with cases is ${latest} (--year ${latest})`,
          );
        }
      } else {
        // No year: the latest year with data.
        const latest = await latestYearWith(hasData);
        year = latest ?? new Date().getFullYear();
        if (latest === undefined)
          note(`no cases registered in any year since ${recentYears().at(-1)}`);
        else note(`the year ${latest}, the latest with cases registered (--year to choose)`);
      }
      if (format !== undefined) {
        const r = await call<reporting.RenderAnnualReportResponse>((cb) =>
          client.renderAnnualReport(
            {
              year,
              asOf,
              basis,
              recordedThrough,
              format: reporting.reportFormatFromJSON(
                `REPORT_FORMAT_${format === 'PDF' ? 'HTML' : format}`,
              ),
            },
            md,
            cb,
          ),
        );
        if (out) {
          const content = format === 'PDF' ? await printToPdf(r.content) : r.content;
          writeFileSync(out, content);
          print(
            { path: out, digest: r.digest, position: r.position, bytes: content.length },
            `wrote ${out} (${content.length} bytes, position ${r.position}, digest ${r.digest})`,
            v.json,
          );
        } else process.stdout.write(r.content);
        return EXIT.ok;
      }
      const by = oneOf(v, 'by', ['NONE', 'AGENCY', 'DISTRICT', 'DOMAIN', 'MONTH'] as const, 'NONE');
      const r = await call<reporting.GetAnnualStatisticsResponse>((cb) =>
        client.getAnnualStatistics(
          {
            year,
            asOf,
            basis,
            recordedThrough,
            groupBy: reporting.statisticsGroupByFromJSON(`STATISTICS_GROUP_BY_${by}`),
            district: typeof v.district === 'string' ? v.district : '',
            agencyId: typeof v.agency === 'string' ? v.agency : '',
          },
          md,
          cb,
        ),
      );
      const rows = [...(r.overall ? [{ ...r.overall, key: '' }] : []), ...r.groups];
      const basisNote =
        r.basis === reporting.AsOfBasis.AS_OF_BASIS_OCCURRED
          ? `happened by ${r.asOf?.toISOString() ?? ''}, as recorded by ${r.recordedThrough?.toISOString() ?? ''}`
          : `recorded by ${r.asOf?.toISOString() ?? ''}`;
      const percent = (x: number) => `${(x * 100).toFixed(1)}%`;
      print(
        reporting.GetAnnualStatisticsResponse.toJSON(r),
        [
          `${year}: ${basisNote} · position ${r.position} · digest ${r.digest}`,
          table(
            [
              by === 'NONE' ? '' : by.toLowerCase(),
              'name',
              'registered',
              'concluded',
              'closed in year',
              'on time',
              'closed by as-of',
              'mean days',
              'overdue',
              'penalties',
              'fines 万元',
              'anomalies',
              'orders',
              'answered',
              'escalated',
              'awaiting',
              'recons.',
              'corrected',
              'score',
              'rank',
            ],
            rows.map((s, i) => [
              s.key,
              i === 0 && r.overall ? '全市 city' : groupName(by, s.key),
              count(s.casesRegistered),
              count(s.casesConcluded),
              percent(s.closureRateInYear),
              percent(s.onTimeRate),
              percent(s.closureRate),
              s.meanHandlingDays.toFixed(1),
              count(s.overdueCases),
              count(s.penalties),
              wan(s.penaltyTotalFen),
              count(s.discretionAnomalies),
              count(s.ordersOpened),
              count(s.ordersAnsweredOnTime),
              count(s.ordersEscalated),
              count(s.ordersAwaiting),
              count(s.reconsiderationsAccepted),
              count(s.reconsiderationsCorrected),
              s.meanScore ? s.meanScore.toFixed(2) : '—',
              s.rank ? s.rank : i === 0 && r.overall ? '' : '—',
            ]),
          ),
        ].join('\n'),
        v.json,
      );
      return EXIT.ok;
    } finally {
      client.close();
    }
  },
};

export const verify: Command = {
  name: 'verify',
  service: 'intake',
  summary: "check a case's hash chain (and archive seal) in the event store",
  usage: 'verify CASE_ID [CASE_ID...]',
  options: { intake: { type: 'string' } },
  help: [
    'CASE_ID           one or more case ids',
    '--intake <addr>   case-intake (default $ENFORCE_INTAKE or 127.0.0.1:50051)',
    'exit status: 0 every case intact; 3 a chain or seal does not match',
  ],
  async run(v, ids) {
    if (ids.length === 0) throw new UsageError('name at least one case id');
    const md = await metadata(v.token as string | undefined);
    const client = intakeClient(address(v, 'intake', ADDRESSES.intake));
    const results: (intake.VerifyCaseResponse & { caseId: string })[] = [];
    try {
      for (const caseId of ids)
        results.push({
          caseId,
          ...(await call<intake.VerifyCaseResponse>((cb) => client.verifyCase({ caseId }, md, cb))),
        });
    } finally {
      client.close();
    }
    print(
      results,
      results
        .map((r) =>
          r.valid
            ? `${r.caseId}: intact, ${r.eventCount} events, head ${r.headHash.slice(0, 16)}…${r.archiveSealValid ? ', archive seal valid' : ''}`
            : `${r.caseId}: BROKEN at version ${r.firstBadVersion}: ${r.problem}`,
        )
        .join('\n'),
      v.json,
    );
    return results.every((r) => r.valid) ? EXIT.ok : EXIT.partial;
  },
};
