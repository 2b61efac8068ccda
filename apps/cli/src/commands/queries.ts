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
import { address, print } from '../output.js';
import { table } from '../table.js';

const day = (d: Date | undefined) => (d ? d.toISOString().slice(0, 10) : '');

export const scores: Command = {
  name: 'scores',
  summary: 'rank officers, units, agencies, districts or domains by mean score',
  usage: 'scores [--by agency] [--period 2021] [--period-kind year] [--agency ID] [--limit 20]',
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
    '--period <p>          2021, 2021-Q3 or 2021-07 (default: this year)',
    '--period-kind <k>     year (default), quarter or month',
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
    const kind = oneOf(v, 'period-kind', ['YEAR', 'QUARTER', 'MONTH'] as const, 'YEAR');
    const md = await metadata(v.token as string | undefined);
    const client = scoringClient(address(v, 'scoring', ADDRESSES.scoring));
    const r = await call<scoring.ListScoresResponse>((cb) =>
      client.listScores(
        scoring.ListScoresRequest.fromPartial({
          groupBy: scoring.groupByFromJSON(`GROUP_BY_${by}`),
          periodKind: scoring.periodKindFromJSON(`PERIOD_KIND_${kind}`),
          period: typeof v.period === 'string' ? v.period : String(new Date().getFullYear()),
          agencyId: typeof v.agency === 'string' ? v.agency : '',
          ascending: v.ascending === true,
          pageSize: int(v, 'limit', 20),
        }),
        md,
        cb,
      ),
    ).finally(() => client.close());
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
  summary: 'list supervision orders (督办)',
  usage: 'orders [--status open|answered|escalated] [--agency ID] [--overdue] [--limit 50]',
  options: {
    status: { type: 'string' },
    agency: { type: 'string' },
    overdue: { type: 'boolean' },
    limit: { type: 'string' },
    scoring: { type: 'string' },
  },
  help: [
    '--status <s>          open, answered or escalated (default: all)',
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
    const r = await call<scoring.ListSupervisionOrdersResponse>((cb) =>
      client.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({
          agencyId: typeof v.agency === 'string' ? v.agency : '',
          status,
          overdueOnly: v.overdue === true,
          pageSize: int(v, 'limit', 50),
        }),
        md,
        cb,
      ),
    ).finally(() => client.close());
    print(
      scoring.ListSupervisionOrdersResponse.toJSON(r),
      table(
        ['order', 'case', 'agency', 'reason', 'status', 'level', 'opened', 'due', 'overdue'],
        r.orders.map((o) => [
          o.orderId,
          o.caseId,
          o.agencyId,
          events.supervisionReasonToJSON(o.reason).replace('SUPERVISION_REASON_', ''),
          scoring.orderStatusToJSON(o.status).replace('ORDER_STATUS_', ''),
          o.level,
          day(o.openedAt),
          day(o.responseDueAt),
          o.overdue ? 'yes' : '',
        ]),
      ),
      v.json,
    );
    return EXIT.ok;
  },
};

export const rules: Command = {
  name: 'rules',
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
    const summary = `clock ${r.clock}; last pass ${r.lastPassAt?.toISOString() ?? 'not yet'}; actions recorded ${r.actionsSent}, refused ${r.actionsRefused}, failed ${r.actionsFailed}; cases with an action due ${r.casesDue}`;
    print(
      scoring.GetRulesStatusResponse.toJSON(r),
      `${summary}\n${table(
        ['agency', 'judged up to', 'cases due'],
        r.agencies.map((a) => [a.agencyId, a.judgedUpTo?.toISOString() ?? '', a.casesDue]),
      )}`,
      v.json,
    );
    return r.casesDue === 0 ? EXIT.ok : EXIT.partial;
  },
};

export const report: Command = {
  name: 'report',
  summary: "the year's statistics, or the annual report rendered as HTML, Markdown, CSV or JSON",
  usage: 'report [--year 2021] [--as-of ISO-8601] [--by agency] [--format html --out FILE]',
  options: {
    year: { type: 'string' },
    'as-of': { type: 'string' },
    by: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string', short: 'o' },
    reporting: { type: 'string' },
  },
  help: [
    '--year <yyyy>         the year (default: last year)',
    '--as-of <time>        the figures as they stood then, e.g. 2022-01-31T00:00:00+08:00',
    '--by <group>          statistics by agency, district, domain or month (default: the city)',
    '--format <f>          render the report: html, markdown, csv or json',
    '-o, --out <file>      where the rendered report goes (default: stdout)',
    '--reporting <addr>    reporting (default $ENFORCE_REPORTING or 127.0.0.1:50053)',
  ],
  async run(v) {
    const year = int(v, 'year', new Date().getFullYear() - 1);
    let asOf: Date | undefined;
    if (typeof v['as-of'] === 'string') {
      asOf = new Date(v['as-of']);
      if (Number.isNaN(asOf.getTime()))
        throw new UsageError(`--as-of is not a time: ${v['as-of']}`);
    }
    const md = await metadata(v.token as string | undefined);
    const client = reportingClient(address(v, 'reporting', ADDRESSES.reporting));
    try {
      if (v.format !== undefined) {
        const format = oneOf(v, 'format', ['HTML', 'MARKDOWN', 'CSV', 'JSON'] as const, 'HTML');
        const r = await call<reporting.RenderAnnualReportResponse>((cb) =>
          client.renderAnnualReport(
            { year, asOf, format: reporting.reportFormatFromJSON(`REPORT_FORMAT_${format}`) },
            md,
            cb,
          ),
        );
        if (typeof v.out === 'string' && v.out !== '-') {
          writeFileSync(v.out, r.content);
          print(
            { path: v.out, digest: r.digest, position: r.position, bytes: r.content.length },
            `wrote ${v.out} (${r.content.length} bytes, position ${r.position}, digest ${r.digest})`,
            v.json,
          );
        } else process.stdout.write(r.content);
        return EXIT.ok;
      }
      const by = oneOf(v, 'by', ['NONE', 'AGENCY', 'DISTRICT', 'DOMAIN', 'MONTH'] as const, 'NONE');
      const r = await call<reporting.GetAnnualStatisticsResponse>((cb) =>
        client.getAnnualStatistics(
          { year, asOf, groupBy: reporting.statisticsGroupByFromJSON(`STATISTICS_GROUP_BY_${by}`) },
          md,
          cb,
        ),
      );
      const rows = [...(r.overall ? [{ ...r.overall, key: 'city' }] : []), ...r.groups];
      print(
        reporting.GetAnnualStatisticsResponse.toJSON(r),
        [
          `${year} as of ${r.asOf?.toISOString() ?? ''} · position ${r.position} · digest ${r.digest}`,
          table(
            [
              '',
              'registered',
              'concluded',
              'closure',
              'mean days',
              'overdue',
              'penalties',
              'fines ¥',
              'anomalies',
              'orders',
              'on time',
              'escalated',
              'recons.',
              'corrected',
              'score',
              'rank',
            ],
            rows.map((s) => [
              s.key,
              s.casesRegistered,
              s.casesConcluded,
              `${(s.closureRate * 100).toFixed(1)}%`,
              s.meanHandlingDays,
              s.overdueCases,
              s.penalties,
              Math.round(s.penaltyTotalFen / 100),
              s.discretionAnomalies,
              s.ordersOpened,
              s.ordersAnsweredOnTime,
              s.ordersEscalated,
              s.reconsiderationsAccepted,
              s.reconsiderationsCorrected,
              s.meanScore,
              s.rank,
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
