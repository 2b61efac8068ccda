import type { CaseView } from './case-view.js';
import { periodsOf, type PeriodKind } from './periods.js';
import type { CaseScoreResult } from './scoring-model.js';

export type GroupBy = 'OFFICER' | 'UNIT' | 'AGENCY' | 'DISTRICT' | 'DOMAIN';
export const PERIOD_KINDS: readonly PeriodKind[] = ['MONTH', 'QUARTER', 'YEAR'];

/** What one scored case adds to every group it belongs to. */
export interface Contribution {
  readonly concludedAt: string;
  readonly groups: readonly {
    groupBy: GroupBy;
    key: string;
    agencyId: string;
    district: string;
    domain: number;
  }[];
  readonly values: Readonly<Record<string, number>>;
}

/** The value fields of a rollup: sums and counts only, so means are sum / count. */
export function contributionOf(v: CaseView, s: CaseScoreResult | undefined): Contribution | null {
  if (!s || !v.concluded) return null;
  const values: Record<string, number> = {
    scoreSum: s.score,
    cases: 1,
    corrected: v.correctedBy.length > 0 ? 1 : 0,
  };
  for (const i of s.indicators) values[`ind_${i.indicator}`] = i.points;
  const attrs = { agencyId: v.agencyId, district: v.district, domain: v.domain };
  return {
    concludedAt: v.concluded.at,
    groups: [
      ...v.officerIds.map((key) => ({ groupBy: 'OFFICER' as const, key, ...attrs })),
      ...(v.unitId ? [{ groupBy: 'UNIT' as const, key: v.unitId, ...attrs }] : []),
      { groupBy: 'AGENCY', key: v.agencyId, ...attrs },
      { groupBy: 'DISTRICT', key: v.district, ...attrs },
      { groupBy: 'DOMAIN', key: String(v.domain), ...attrs },
    ],
    values,
  };
}

export interface RollupDelta {
  readonly rollupId: string;
  /** The listing a rollup belongs to: groupBy, period kind, period. */
  readonly listKey: string;
  readonly groupBy: GroupBy;
  readonly key: string;
  readonly periodKind: PeriodKind;
  readonly period: string;
  readonly agencyId: string;
  readonly district: string;
  readonly domain: number;
  readonly inc: Record<string, number>;
}

export const listKeyOf = (groupBy: GroupBy, kind: PeriodKind, period: string) =>
  `${groupBy}|${kind}|${period}`;

function expand(c: Contribution, sign: 1 | -1): RollupDelta[] {
  const periods = periodsOf(new Date(c.concludedAt));
  const out: RollupDelta[] = [];
  for (const g of c.groups) {
    for (const kind of PERIOD_KINDS) {
      const period = periods[kind];
      const listKey = listKeyOf(g.groupBy, kind, period);
      const inc: Record<string, number> = {};
      for (const [k, n] of Object.entries(c.values)) inc[k] = sign * n;
      out.push({
        rollupId: `${listKey}|${g.key}`,
        listKey,
        groupBy: g.groupBy,
        key: g.key,
        periodKind: kind,
        period,
        agencyId: g.agencyId,
        district: g.district,
        domain: g.domain,
        inc,
      });
    }
  }
  return out;
}

/**
 * The same contribution: the same moment, groups in the same order and the
 * same values. Most events of a concluded case (an evaluation, an archive, an
 * order answered) leave it so, and then no rollup moves.
 */
function sameContribution(a: Contribution, b: Contribution): boolean {
  if (a.concludedAt !== b.concludedAt || a.groups.length !== b.groups.length) return false;
  for (let i = 0; i < a.groups.length; i++) {
    const g = a.groups[i];
    const h = b.groups[i];
    if (
      !g ||
      !h ||
      g.groupBy !== h.groupBy ||
      g.key !== h.key ||
      g.agencyId !== h.agencyId ||
      g.district !== h.district ||
      g.domain !== h.domain
    )
      return false;
  }
  const keys = Object.keys(a.values);
  return (
    keys.length === Object.keys(b.values).length && keys.every((k) => a.values[k] === b.values[k])
  );
}

/** Increments that move every rollup from `before` to `after`; zero increments are dropped. */
export function rollupDeltas(
  before: Contribution | null,
  after: Contribution | null,
): RollupDelta[] {
  if (before && after && sameContribution(before, after)) return [];
  const merged = new Map<string, RollupDelta>();
  for (const d of [...(before ? expand(before, -1) : []), ...(after ? expand(after, 1) : [])]) {
    const prev = merged.get(d.rollupId);
    if (!prev) {
      merged.set(d.rollupId, { ...d, inc: { ...d.inc } });
      continue;
    }
    for (const [k, n] of Object.entries(d.inc)) prev.inc[k] = (prev.inc[k] ?? 0) + n;
  }
  return [...merged.values()]
    .map((d) => ({
      ...d,
      inc: Object.fromEntries(Object.entries(d.inc).filter(([, n]) => Math.abs(n) > 1e-9)),
    }))
    .filter((d) => Object.keys(d.inc).length > 0);
}

/**
 * The pages' key of a listing (`<groupBy>|<kind>|<period>`): `<kind>|<period>`.
 * A period's listings share pages: its officers, units, agencies, districts
 * and domains go on one page per writer. A conclusion moves rows of its
 * month, quarter and year, so a chunk writes a page for each period its
 * cases concluded in, where pages per kind of group (and officers over two
 * slots) made it write up to three times as many.
 */
export function pageKeyOf(listKey: string): string {
  return listKey.slice(listKey.indexOf('|') + 1);
}

/** A page key's page as one writer (`guard`: a partition, `p<n>`) holds it: `<pageKey>|<guard>`. */
const writerPageOf = (pageKey: string, guard: string) => `${pageKey}|${guard}`;

/** The page that holds a listing's rows as one writer (`guard`: a partition, `p<n>`) has them. */
export const pageIdOf = (listKey: string, guard: string) => writerPageOf(pageKeyOf(listKey), guard);

/**
 * The page that holds what the corrections of a partition's corrected cases
 * change in the rollups of a page key: `<pageKey>|p<n>|fix`, each case's
 * part as of a version of the case.
 */
export const correctionPageIdOf = (pageKey: string, partition: number) =>
  `${pageKey}|p${partition}|fix`;

/** Every page partition `partition` can hold of a page key's rows, its correction page among them. */
export function pagesOfPartition(pageKey: string, partition: number): string[] {
  return [writerPageOf(pageKey, `p${partition}`), correctionPageIdOf(pageKey, partition)];
}

/** Every page partitions `p0..p<count-1>` can hold of a listing's rows (pagesOfPartition). */
export function partitionPagesOf(listKey: string, partitions: number): string[] {
  const out: string[] = [];
  for (let p = 0; p < partitions; p++) out.push(...pagesOfPartition(pageKeyOf(listKey), p));
  return out;
}

/** One group's sums in one period (a rollup), as one writer holds them on a page. */
export interface RollupPageRow {
  /** The rollup id: `<listKey>|<key>`. */
  readonly id: string;
  readonly key: string;
  readonly agencyId: string;
  readonly district: string;
  readonly domain: number;
  /** scoreSum, cases, corrected and `ind_<indicator>` points. */
  readonly values: Record<string, number>;
}

/** Adds a delta to its row among `rows` (keyed by rollup id), making the row when it is new. */
export function addToRows(rows: Map<string, RollupPageRow>, d: RollupDelta): void {
  const row = rows.get(d.rollupId) ?? {
    id: d.rollupId,
    key: d.key,
    agencyId: d.agencyId,
    district: d.district,
    domain: d.domain,
    values: {},
  };
  for (const [k, n] of Object.entries(d.inc)) row.values[k] = (row.values[k] ?? 0) + n;
  rows.set(d.rollupId, row);
}
