import type { CaseFacts } from './facts.js';

/** Which cases a listing asks for; every field given must match. */
export interface CaseFilter {
  readonly agency?: string;
  readonly unit?: string;
  readonly officer?: string;
  readonly district?: string;
  /** Instead: the reviews about this enforcement case. */
  readonly about?: string;
}

/** One enforcement case as a listing shows it, as it stands now. */
export interface CaseSummary {
  readonly caseId: string;
  readonly agencyId: string;
  readonly district: string;
  readonly unitId: string;
  readonly officerIds: string[];
  readonly registeredMs: number;
  readonly concludedMs: number;
  readonly dueMs: number;
  readonly overdue: boolean;
  readonly fineFen: number;
  readonly discretionAnomaly: boolean;
  readonly orders: number;
  readonly score: number | undefined;
  readonly kind: 'ENFORCEMENT' | 'RECONSIDERATION' | 'LITIGATION';
  readonly accepted: boolean;
  readonly corrected: boolean;
  readonly about: string;
}

export const matches = (c: CaseSummary, q: CaseFilter): boolean =>
  (q.about ? c.kind !== 'ENFORCEMENT' && c.about === q.about : c.kind === 'ENFORCEMENT') &&
  (!q.agency || c.agencyId === q.agency) &&
  (!q.district || c.district === q.district) &&
  (!q.unit || c.unitId === q.unit) &&
  (!q.officer || c.officerIds.includes(q.officer));

/**
 * Where a page of a listing starts. A listing runs in order of registration,
 * then case id; a page starts after the last case of the page before, so
 * cases the year gains meanwhile never move a walk back or forward (one
 * registered behind the walk's place is not shown to it). `offset` is a
 * token issued before cursors: still taken, as a position in the listing.
 */
export type CaseCursor =
  { readonly afterMs: number; readonly afterId: string } | { readonly offset: number };

/** The listing's order: registration, then case id. */
export const listingOrder = (
  a: Pick<CaseSummary, 'registeredMs' | 'caseId'>,
  b: Pick<CaseSummary, 'registeredMs' | 'caseId'>,
): number => a.registeredMs - b.registeredMs || a.caseId.localeCompare(b.caseId);

/** Whether a case comes after the cursor's place in the listing. */
export const pastCursor = (
  c: Pick<CaseSummary, 'registeredMs' | 'caseId'>,
  at: CaseCursor,
): boolean =>
  'offset' in at || listingOrder(c, { registeredMs: at.afterMs, caseId: at.afterId }) > 0;

const KINDS = { E: 'ENFORCEMENT', R: 'RECONSIDERATION', L: 'LITIGATION' } as const;

/** Overdue at `nowMs`: concluded after its deadline, or open past it. */
export const overdueAt = (c: Pick<CaseSummary, 'dueMs' | 'concludedMs'>, nowMs: number): boolean =>
  c.dueMs > 0 && (c.concludedMs > 0 ? c.concludedMs > c.dueMs : nowMs > c.dueMs);

/** The case as listed at `nowMs`: its deadline as last extended, overdue if concluded after it or open past it. */
export function summaryOf(f: CaseFacts, nowMs: number): CaseSummary {
  const dueMs = f.due?.at(-1)?.[0] ?? 0;
  const concludedMs = (f.kind === 'E' ? f.concluded : f.reviewConcluded?.at)?.[0] ?? 0;
  const overdue = overdueAt({ dueMs, concludedMs }, nowMs);
  const last = f.evaluations?.at(-1);
  return {
    caseId: f.id,
    agencyId: f.agency,
    district: f.district,
    unitId: f.unit ?? '',
    officerIds: f.officers ?? [],
    registeredMs: f.reg?.[0] ?? 0,
    concludedMs,
    dueMs,
    overdue,
    fineFen: f.penalty?.fineFen ?? 0,
    discretionAnomaly: f.penalty?.anomaly ?? false,
    orders: f.orders?.length ?? 0,
    score: last ? last.scoreHundredths / 100 : undefined,
    kind: KINDS[f.kind],
    accepted: f.accepted !== undefined,
    corrected: f.reviewConcluded?.corrected ?? false,
    about: f.about ?? '',
  };
}
