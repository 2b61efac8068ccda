import { metrics } from '@opentelemetry/api';
import type { Metadata, sendUnaryData, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { actsFor, hasRole, type Principal, type Verifier } from '@enforcement/auth';
import { reporting } from '@enforcement/contracts';
import { DomainError, invalid } from '@enforcement/errors';
import { asStored, cursorOf, refuseNul, tokenAfter, toServiceError } from '@enforcement/grpc-kit';
import type { Reports } from '../../application/reports.js';
import {
  digestOf,
  type AnnualStatistics,
  type Basis,
  type Figures,
  type Grouping,
} from '../../domain/statistics.js';
import { render, type Format } from '../../render/report.js';

const bearer = (md: Metadata): string | undefined => {
  const v = md.get('authorization')[0];
  return v === undefined ? undefined : String(v);
};

const GROUP_BY: Record<number, Grouping> = {
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_UNSPECIFIED]: 'NONE',
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_NONE]: 'NONE',
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY]: 'AGENCY',
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DISTRICT]: 'DISTRICT',
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DOMAIN]: 'DOMAIN',
  [reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_MONTH]: 'MONTH',
};

const FORMATS: Record<number, Format> = {
  [reporting.ReportFormat.REPORT_FORMAT_JSON]: 'JSON',
  [reporting.ReportFormat.REPORT_FORMAT_CSV]: 'CSV',
  [reporting.ReportFormat.REPORT_FORMAT_MARKDOWN]: 'MARKDOWN',
  [reporting.ReportFormat.REPORT_FORMAT_HTML]: 'HTML',
};

/** Annual figures are for the city's supervisors and report writers, not for agencies. */
function mayReport(p: Principal): void {
  if (!hasRole(p, 'reporting') && !hasRole(p, 'supervisor'))
    throw new DomainError('AUTH.FORBIDDEN', 'FORBIDDEN', 'reporting or supervisor role required');
}

const BASES: Record<number, Basis> = {
  [reporting.AsOfBasis.AS_OF_BASIS_UNSPECIFIED]: 'RECORDED',
  [reporting.AsOfBasis.AS_OF_BASIS_RECORDED]: 'RECORDED',
  [reporting.AsOfBasis.AS_OF_BASIS_OCCURRED]: 'OCCURRED',
};

function basisOf(r: { basis: reporting.AsOfBasis }): Basis {
  const b = BASES[r.basis];
  if (!b) throw invalid('REPORT.BASIS', 'basis', `unknown as-of basis ${r.basis}`);
  return b;
}

/** Which moments the figures were taken at, as the responses say it. */
const moments = (s: AnnualStatistics) => ({
  position: s.position,
  asOf: new Date(s.asOfMs),
  basis:
    s.basis === 'OCCURRED'
      ? reporting.AsOfBasis.AS_OF_BASIS_OCCURRED
      : reporting.AsOfBasis.AS_OF_BASIS_RECORDED,
  recordedThrough: new Date(s.recordedThroughMs),
});

const toStatistics = (f: Figures): reporting.Statistics => ({ ...f });

/** The gRPC adapter of the reporting service. */
export function reportingService(
  reports: Reports,
  verify: Verifier,
  onUnexpected: (e: unknown) => void,
  /** The office that issues the report, named on its title page. */
  issuer = '',
): reporting.ReportingServiceServer {
  const fault = (e: unknown) => toServiceError(e, onUnexpected) as ServiceError;
  const duration = metrics.getMeter('reporting').createHistogram('enforcement.report.duration', {
    description:
      "Time to answer for a year's statistics or its rendered report, by call and outcome",
    unit: 's',
    advice: { explicitBucketBoundaries: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30] },
  });
  const query =
    <Req extends object, Res>(
      name: string,
      run: (r: Req) => Promise<Res>,
      authorize: (p: Principal, r: Req) => void = mayReport,
    ) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const started = performance.now();
      const took = (outcome: string) =>
        duration.record((performance.now() - started) / 1000, { 'rpc.method': name, outcome });
      verify(bearer(call.metadata))
        .then((p) => {
          refuseNul(call.request);
          const r = asStored(call.request);
          authorize(p, r);
          return run(r);
        })
        .then(
          (r) => {
            took('ok');
            callback(null, r);
          },
          (e: unknown) => {
            took('error');
            callback(fault(e));
          },
        );
    };

  return {
    getAnnualStatistics: query(
      'GetAnnualStatistics',
      async (r: reporting.GetAnnualStatisticsRequest) => {
        const grouping = GROUP_BY[r.groupBy];
        if (!grouping)
          throw invalid('REPORT.GROUP_BY', 'group_by', `unknown grouping ${r.groupBy}`);
        const s = await reports.statistics(r.year, r.asOf, basisOf(r), r.recordedThrough, {
          district: r.district,
          agency: r.agencyId,
        });
        return {
          year: s.year,
          overall: toStatistics(s.overall),
          groups: grouping === 'NONE' ? [] : s.groups[grouping].map(toStatistics),
          digest: digestOf(s, grouping),
          ...moments(s),
        };
      },
    ),
    renderAnnualReport: query(
      'RenderAnnualReport',
      async (r: reporting.RenderAnnualReportRequest) => {
        const format = FORMATS[r.format];
        if (!format)
          throw invalid(
            'REPORT.FORMAT',
            'format',
            `must be one of JSON, CSV, MARKDOWN, HTML (got ${reporting.reportFormatToJSON(r.format)})`,
          );
        const s = await reports.statistics(r.year, r.asOf, basisOf(r), r.recordedThrough);
        const out = render(s, format, issuer);
        return {
          content: out.content,
          contentType: out.contentType,
          digest: out.digest,
          ...moments(s),
        };
      },
    ),
    listCases: query(
      'ListCases',
      async (r: reporting.ListCasesRequest) => {
        if (r.pageSize < 0 || r.pageSize > 1000)
          throw invalid('REPORT.PAGE_SIZE', 'page_size', 'must be within 0..1000');
        const at = cursorOf(r.pageToken, 'REPORT.PAGE_TOKEN');
        const size = r.pageSize || 100;
        const { cases, total, more } = await reports.cases(
          r.year,
          {
            agency: r.agencyId,
            unit: r.unitId,
            officer: r.officerId,
            district: r.district,
            about: r.aboutCaseId,
          },
          at,
          size,
        );
        const last = cases.at(-1);
        const when = (ms: number) => (ms > 0 ? new Date(ms) : undefined);
        return {
          cases: cases.map((c) => ({
            caseId: c.caseId,
            agencyId: c.agencyId,
            district: c.district,
            unitId: c.unitId,
            officerIds: c.officerIds,
            registeredAt: when(c.registeredMs),
            concludedAt: when(c.concludedMs),
            dueAt: when(c.dueMs),
            overdue: c.overdue,
            fineFen: c.fineFen,
            discretionAnomaly: c.discretionAnomaly,
            orders: c.orders,
            score: c.score ?? 0,
            evaluated: c.score !== undefined,
            kind: c.kind,
            accepted: c.accepted,
            corrected: c.corrected,
            aboutCaseId: c.about,
          })),
          nextPageToken: last && more ? tokenAfter(last.registeredMs, last.caseId) : '',
          total,
        };
      },
      // An agency lists its own cases; the city's offices list anyone's.
      (p, r) => {
        if (hasRole(p, 'reporting') || hasRole(p, 'supervisor')) return;
        if (!r.agencyId || !actsFor(p, r.agencyId))
          throw new DomainError(
            'AUTH.FORBIDDEN',
            'FORBIDDEN',
            'an agency lists its own cases: name one of its agencies in agency_id',
          );
      },
    ),
  };
}
