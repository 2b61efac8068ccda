import { actsFor, hasRole, type Principal } from '@enforcement/auth';
import { events, scoring } from '@enforcement/contracts';
import { DomainError, invalid } from '@enforcement/errors';
import { cursorOf, tokenAfter } from '@enforcement/grpc-kit';
import { isPeriod, type PeriodKind } from '../domain/periods.js';
import { listKeyOf, type GroupBy } from '../domain/rollups.js';
import type { CaseView, OrderView } from '../domain/case-view.js';
import { unwarrantedOn } from '../domain/rules.js';
import type { CaseOrders } from './ports.js';
import type { CaseScoreResult } from '../domain/scoring-model.js';

/**
 * An order as the order list holds it: its case, its agency, the case's
 * version it stands at, and its actions the case's history no longer calls
 * for (`unwarrantedOn`; absent: none, or stored before they were kept).
 */
export type ListedOrder = OrderView & {
  caseId: string;
  agencyId: string;
  caseVersion?: number;
  unwarrantedActions?: readonly string[];
};

/** One of a case's orders that moved, as the order list holds it. */
export function listedOrderOf(c: Omit<CaseOrders, 'orders'>, o: OrderView): ListedOrder {
  const unwarranted = unwarrantedOn(o, c.unwarranted ?? []);
  return {
    ...o,
    caseId: c.caseId,
    agencyId: c.agencyId,
    caseVersion: c.caseVersion,
    ...(unwarranted.length > 0 ? { unwarrantedActions: unwarranted } : {}),
  };
}

/**
 * Which orders a listing wants, each field an equality the store filters on
 * (`unanswered`: not answered yet, open or escalated).
 */
export interface OrderFilter {
  readonly agencyId?: string;
  readonly caseId?: string;
  readonly status?: scoring.OrderStatus;
  readonly reason?: events.SupervisionReason;
  readonly escalated?: true;
  readonly unanswered?: true;
  /** With an action its case's history no longer calls for. */
  readonly unwarranted?: true;
}

export interface ScoreReader {
  caseScore(caseId: string): Promise<{ view: CaseView; score: CaseScoreResult | null } | null>;
  rollups(listKey: string): Promise<readonly RollupRow[]>;
  /**
   * The orders matching `filter` by the week they were opened in (UTC; four
   * to a month), the latest weeks first, a week's in any order: the latest
   * few weeks one at a time, then the earlier ones together. A listing stops
   * reading once it holds its page. With `openedThrough` (ms), the weeks
   * after the one holding that moment are not read.
   */
  orderWeeks(filter: OrderFilter, openedThrough?: number): AsyncIterable<readonly ListedOrder[]>;
  /** Every order not answered yet (open or escalated), for the operators' gauge. */
  unansweredOrders(): Promise<readonly ListedOrder[]>;
}

export interface RollupRow {
  readonly key: string;
  readonly agencyId: string;
  readonly district: string;
  readonly domain: number;
  readonly scoreSum: number;
  readonly cases: number;
  readonly corrected: number;
  /** Sum of points per indicator. */
  readonly indicators: Readonly<Record<string, number>>;
}

const forbidden = (m: string) => new DomainError('AUTH.FORBIDDEN', 'FORBIDDEN', m);
const notFound = (m: string) => new DomainError('SCORE.NOT_FOUND', 'NOT_FOUND', m);

const GROUPS: Record<number, GroupBy> = {
  [scoring.GroupBy.GROUP_BY_OFFICER]: 'OFFICER',
  [scoring.GroupBy.GROUP_BY_UNIT]: 'UNIT',
  [scoring.GroupBy.GROUP_BY_AGENCY]: 'AGENCY',
  [scoring.GroupBy.GROUP_BY_DISTRICT]: 'DISTRICT',
  [scoring.GroupBy.GROUP_BY_DOMAIN]: 'DOMAIN',
};
const KINDS: Record<number, PeriodKind> = {
  [scoring.PeriodKind.PERIOD_KIND_MONTH]: 'MONTH',
  [scoring.PeriodKind.PERIOD_KIND_QUARTER]: 'QUARTER',
  [scoring.PeriodKind.PERIOD_KIND_YEAR]: 'YEAR',
};
const FORMAT: Record<PeriodKind, string> = { YEAR: 'YYYY', QUARTER: 'YYYY-Qn', MONTH: 'YYYY-MM' };

/** The agency an agency-role caller is confined to; undefined for supervisors and reporting. */
function scopeOf(p: Principal, requested: string): string | undefined {
  if (hasRole(p, 'supervisor') || hasRole(p, 'reporting')) return requested || undefined;
  const own = p.agencies.filter((a) => a !== '*');
  if (requested) {
    if (!actsFor(p, requested)) throw forbidden(`${p.subject} may not see agency ${requested}`);
    return requested;
  }
  if (p.agencies.includes('*')) return undefined;
  if (own.length !== 1)
    throw invalid('QUERY.AGENCY_REQUIRED', 'agency_id', 'name the agency to list');
  return own[0];
}

function pageSizeOf(size: number): number {
  if (size < 0 || size > 1000)
    throw invalid('QUERY.PAGE_SIZE', 'page_size', 'must be within 0..1000');
  return size || 50;
}

/**
 * A ranking's page: a position in it, as its tokens are. A ranking is a
 * snapshot by rank, and an entity's mean moves, so a keyset would not hold
 * it still: a keyset token is not one this call issued.
 */
function pageOf(size: number, token: string): { size: number; offset: number } {
  const checked = pageSizeOf(size);
  const at = cursorOf(token, 'QUERY.PAGE_TOKEN');
  if (!('offset' in at))
    throw invalid('QUERY.PAGE_TOKEN', 'page_token', 'not a token this service issued');
  return { size: checked, offset: at.offset };
}

const nextToken = (offset: number, size: number, total: number) =>
  offset + size < total ? Buffer.from(String(offset + size), 'utf8').toString('base64url') : '';

export function toCaseScore(view: CaseView, s: CaseScoreResult): scoring.CaseScore {
  return {
    caseId: view.caseId,
    agencyId: view.agencyId,
    district: view.district,
    domain: view.domain,
    unitId: view.unitId,
    officerIds: [...view.officerIds],
    score: s.score,
    modelVersion: s.modelVersion,
    indicators: s.indicators,
    concludedAt: view.concluded ? new Date(view.concluded.at) : undefined,
    corrected: view.correctedBy.length > 0,
    caseVersion: view.version,
  };
}

export async function getCaseScore(
  r: ScoreReader,
  p: Principal,
  caseId: string,
): Promise<scoring.GetCaseScoreResponse> {
  if (!caseId.trim()) throw invalid('QUERY.CASE_REQUIRED', 'case_id', 'is required');
  const found = await r.caseScore(caseId);
  if (!found || found.view.version === 0) throw notFound(`no case ${caseId}`);
  if (!(hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, found.view.agencyId)))
    throw forbidden(`${p.subject} may not see cases of agency ${found.view.agencyId}`);
  if (!found.score) throw notFound(`case ${caseId} is not concluded yet, so it has no score`);
  return { score: toCaseScore(found.view, found.score) };
}

export async function listScores(
  r: ScoreReader,
  p: Principal,
  q: scoring.ListScoresRequest,
): Promise<scoring.ListScoresResponse> {
  const groupBy = GROUPS[q.groupBy];
  if (!groupBy)
    throw invalid(
      'QUERY.GROUP_BY',
      'group_by',
      'must be OFFICER, UNIT, AGENCY, DISTRICT or DOMAIN',
    );
  const kind = KINDS[q.periodKind];
  if (!kind) throw invalid('QUERY.PERIOD_KIND', 'period_kind', 'must be MONTH, QUARTER or YEAR');
  if (!isPeriod(kind, q.period))
    throw invalid(
      'QUERY.PERIOD',
      'period',
      `'${q.period}' is not a ${kind} period (${FORMAT[kind]})`,
    );
  if (q.domain < 0 || (q.domain > 0 && !(q.domain in events.Domain)))
    throw invalid('QUERY.DOMAIN', 'domain', 'unknown domain');
  const { size, offset } = pageOf(q.pageSize, q.pageToken);
  const byAgency = groupBy === 'OFFICER' || groupBy === 'UNIT' || groupBy === 'AGENCY';
  if (q.agencyId && !byAgency)
    throw invalid('QUERY.FILTER', 'agency_id', 'filters OFFICER, UNIT and AGENCY rankings only');
  if (q.district && groupBy !== 'DISTRICT')
    throw invalid('QUERY.FILTER', 'district', 'filters the DISTRICT ranking only');
  if (q.domain && groupBy === 'DISTRICT')
    throw invalid('QUERY.FILTER', 'domain', 'does not filter the DISTRICT ranking');
  const confined = !(hasRole(p, 'supervisor') || hasRole(p, 'reporting'));
  if (confined && !byAgency)
    throw forbidden('district and domain rankings span agencies: supervisors and reporting only');
  const agency = scopeOf(p, q.agencyId);

  const rows = (await r.rollups(listKeyOf(groupBy, kind, q.period)))
    .filter((x) => x.cases > 0)
    .filter((x) => !agency || x.agencyId === agency)
    .filter((x) => !q.district || x.key === q.district)
    .filter((x) => !q.domain || x.domain === q.domain)
    .map((x) => {
      const indicatorMeans: Record<string, number> = {};
      for (const [k, v] of Object.entries(x.indicators)) indicatorMeans[k] = round(v / x.cases);
      return {
        key: x.key,
        label:
          groupBy === 'DOMAIN'
            ? (events.Domain[Number(x.key)] ?? x.key).replace('DOMAIN_', '')
            : x.key,
        meanScore: round(x.scoreSum / x.cases),
        cases: x.cases,
        correctedCases: x.corrected,
        indicatorMeans,
      };
    })
    .sort((a, b) => b.meanScore - a.meanScore || a.key.localeCompare(b.key));
  // Competition ranking on the best-first order: equal means share a rank.
  const ranked = rows.map((row, i) => ({ ...row, rank: 0, i }));
  for (const row of ranked)
    row.rank =
      row.i > 0 && ranked[row.i - 1]?.meanScore === row.meanScore
        ? (ranked[row.i - 1]?.rank ?? 1)
        : row.i + 1;
  const ordered = q.ascending ? [...ranked].reverse() : ranked;
  return {
    rows: ordered.slice(offset, offset + size).map(({ i: _i, ...row }) => row),
    nextPageToken: nextToken(offset, size, ordered.length),
    totalGroups: ordered.length,
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

const STATUS = scoring.OrderStatus;

export async function listOrders(
  r: ScoreReader,
  p: Principal,
  q: scoring.ListSupervisionOrdersRequest,
  now: Date,
): Promise<scoring.ListSupervisionOrdersResponse> {
  if (q.status < 0 || q.status > STATUS.ORDER_STATUS_ESCALATED)
    throw invalid('QUERY.STATUS', 'status', 'unknown status');
  if (q.reason < 0 || (q.reason > 0 && !(q.reason in events.SupervisionReason)))
    throw invalid('QUERY.REASON', 'reason', 'unknown reason');
  const size = pageSizeOf(q.pageSize);
  const at = cursorOf(q.pageToken, 'QUERY.PAGE_TOKEN');
  const agency = scopeOf(p, q.agencyId);
  const filter: OrderFilter = {
    ...(agency ? { agencyId: agency } : {}),
    ...(q.caseId ? { caseId: q.caseId } : {}),
    ...(q.status ? { status: q.status } : {}),
    ...(q.reason ? { reason: q.reason } : {}),
    ...(q.escalatedOnly ? { escalated: true } : {}),
    ...(q.overdueOnly ? { unanswered: true } : {}),
    ...(q.unwarrantedOnly ? { unwarranted: true } : {}),
  };
  // A page starts after the last order of the page before (a keyset), so
  // orders opened or answered meanwhile never show an order twice or skip
  // one; weeks after that order's are not read. A token issued before
  // keysets is a position.
  const from = 'offset' in at ? at.offset : 0;
  const cursor =
    'offset' in at ? undefined : { openedAt: new Date(at.afterMs), orderId: at.afterId };
  // Weeks come latest first, so what was read so far, each part sorted, is
  // the newest orders in order. One order past the page says whether a
  // next page exists.
  const listed: scoring.SupervisionOrder[] = [];
  for await (const week of r.orderWeeks(filter, cursor?.openedAt.getTime())) {
    listed.push(
      ...week
        .map((o) => toSupervisionOrder(o, now))
        .filter((x) => !q.caseId || x.caseId === q.caseId)
        .filter((x) => !q.status || x.status === q.status)
        .filter((x) => !q.reason || x.reason === q.reason)
        .filter((x) => !q.overdueOnly || x.overdue)
        .filter((x) => !q.escalatedOnly || x.escalated)
        .filter((x) => !q.unwarrantedOnly || x.unwarrantedActions.length > 0)
        .filter((x) => !cursor || newestFirst(cursor, x) < 0)
        .sort(newestFirst),
    );
    if (listed.length > from + size) break;
  }
  const orders = listed.slice(from, from + size);
  const last = orders.at(-1);
  return {
    orders,
    nextPageToken:
      last && listed.length > from + size
        ? tokenAfter(last.openedAt?.getTime() ?? 0, last.orderId)
        : '',
  };
}

/** The order list's order: the latest opened first, then by order id. */
const newestFirst = (
  a: Pick<scoring.SupervisionOrder, 'openedAt' | 'orderId'>,
  b: Pick<scoring.SupervisionOrder, 'openedAt' | 'orderId'>,
) =>
  (b.openedAt?.getTime() ?? 0) - (a.openedAt?.getTime() ?? 0) || a.orderId.localeCompare(b.orderId);

/** Where an order stands: answered, else escalated once its first deadline passed, else open. */
export const orderStatusOf = (
  o: Pick<OrderView, 'answeredAt' | 'escalated'>,
): scoring.OrderStatus =>
  o.answeredAt
    ? STATUS.ORDER_STATUS_ANSWERED
    : o.escalated
      ? STATUS.ORDER_STATUS_ESCALATED
      : STATUS.ORDER_STATUS_OPEN;

/** An order as the contract shows it: where it stands now, and whether it is past its deadline at `now`. */
export function toSupervisionOrder(o: ListedOrder, now: Date): scoring.SupervisionOrder {
  return {
    orderId: o.orderId,
    caseId: o.caseId,
    agencyId: o.agencyId,
    reason: o.reason,
    status: orderStatusOf(o),
    level: o.level,
    openedAt: new Date(o.openedAt),
    responseDueAt: new Date(o.responseDueAt),
    answeredAt: o.answeredAt ? new Date(o.answeredAt) : undefined,
    overdue: !o.answeredAt && new Date(o.responseDueAt).getTime() < now.getTime(),
    ruleId: o.ruleId,
    escalated: o.escalated,
    caseVersion: o.caseVersion ?? 0,
    unwarrantedActions: [...(o.unwarrantedActions ?? [])],
  };
}
