import { events } from '@enforcement/contracts';

/** When a fact happened, when intake recorded it (ms since epoch), and its event position. */
export type Stamp = [occurredMs: number, recordedMs: number, position: number];

export interface OrderFacts {
  id: string;
  opened: Stamp;
  /** The response deadline set when the order was opened. */
  dueMs: number;
  answered?: Stamp;
  escalated?: Stamp;
}

/**
 * What the annual statistics need to know about one case, each fact with
 * the moment it was recorded, so the figures can be taken as of any moment.
 * Plain JSON; arrays keep it small, because the read model holds a year of them.
 */
export interface CaseFacts {
  id: string;
  /** E: enforcement case; R: reconsideration; L: litigation. */
  kind: 'E' | 'R' | 'L';
  /** Last version applied: later deliveries of it or earlier ones change nothing. */
  v: number;
  agency: string;
  district: string;
  domain: number;
  /** Registered (enforcement) or filed (review). */
  reg?: Stamp;
  /** The statutory deadline as set at registration and by each extension (when it happened; absent in facts stored before it was kept). */
  due?: [dueMs: number, recordedMs: number, position: number, occurredMs?: number][];
  concluded?: Stamp;
  penalty?: { at: Stamp; fineFen: number; anomaly: boolean };
  orders?: OrderFacts[];
  /** Each evaluation: when, and the score in hundredths of a point. */
  evaluations?: { at: Stamp; scoreHundredths: number }[];
  accepted?: Stamp;
  reviewConcluded?: { at: Stamp; corrected: boolean };
  /** Who handles it (absent in facts stored before they were kept): for listing an officer's cases, not for the figures. */
  unit?: string;
  officers?: string[];
  /** For a review: the enforcement case it is about. */
  about?: string;
  /** Events that came ahead of a missing version, in version order: applied once it comes. */
  held?: HeldEvent[];
}

/** A `CaseEvent` as JSON (its `toJSON`), which names its version. */
export type HeldEvent = { readonly version: number } & Record<string, unknown>;

export const emptyFacts = (id: string): CaseFacts => ({
  id,
  kind: 'E',
  v: 0,
  agency: '',
  district: '',
  domain: 0,
});

const ms = (d: Date | undefined): number => d?.getTime() ?? 0;

/** The facts after one event, applied in version order. Pure; returns `f` itself when nothing counted changes. */
export function applyFact(f: CaseFacts, e: events.CaseEvent): CaseFacts {
  const p = e.payload;
  if (!p) throw new Error(`event ${e.eventId} has no payload`);
  const stamp: Stamp = [ms(e.occurredAt), ms(e.recordedAt), e.position];
  const next: CaseFacts = { ...f, v: e.version, agency: f.agency || e.agencyId };
  switch (p.$case) {
    case 'caseRegistered':
      return {
        ...next,
        kind: 'E',
        agency: p.value.agencyId || e.agencyId,
        district: p.value.district,
        domain: p.value.domain,
        reg: stamp,
        due: [[ms(p.value.dueAt), stamp[1], stamp[2], stamp[0]]],
      };
    case 'deadlineExtended':
      return {
        ...next,
        due: [...(f.due ?? []), [ms(p.value.newDueAt), stamp[1], stamp[2], stamp[0]]],
      };
    case 'penaltyDecided':
      return {
        ...next,
        penalty: { at: stamp, fineFen: p.value.fineFen, anomaly: p.value.discretionAnomaly },
      };
    case 'caseConcluded':
      return { ...next, concluded: stamp };
    case 'supervisionOrderOpened':
      return {
        ...next,
        orders: [
          ...(f.orders ?? []),
          { id: p.value.orderId, opened: stamp, dueMs: ms(p.value.responseDueAt) },
        ],
      };
    case 'supervisionOrderAnswered':
      return {
        ...next,
        orders: (f.orders ?? []).map((o) =>
          o.id === p.value.orderId && !o.answered ? { ...o, answered: stamp } : o,
        ),
      };
    case 'supervisionOrderEscalated':
      return {
        ...next,
        orders: (f.orders ?? []).map((o) =>
          o.id === p.value.orderId && !o.escalated ? { ...o, escalated: stamp } : o,
        ),
      };
    case 'caseEvaluated':
      return {
        ...next,
        evaluations: [
          ...(f.evaluations ?? []),
          { at: stamp, scoreHundredths: Math.round(p.value.score * 100) },
        ],
      };
    case 'reconsiderationFiled':
      return {
        ...next,
        kind: p.value.kind === events.ReviewKind.REVIEW_KIND_LITIGATION ? 'L' : 'R',
        agency: p.value.respondentAgencyId || e.agencyId,
        district: p.value.district,
        domain: p.value.domain,
        reg: stamp,
        about: p.value.enforcementCaseId,
      };
    case 'reconsiderationAccepted':
      return { ...next, accepted: stamp };
    case 'reconsiderationConcluded':
      return { ...next, reviewConcluded: { at: stamp, corrected: p.value.corrected } };
    case 'caseDispatched':
      return {
        ...next,
        unit: p.value.unitId,
        officers: p.value.officers.map((o) => o.officerId),
      };
    case 'inspectionRecorded':
    case 'evidenceRecorded':
    case 'partyNotified':
    case 'hearingHeld':
    case 'legalReviewCompleted':
    case 'caseArchived':
      return next;
    default: {
      const _exhaustive: never = p;
      return _exhaustive;
    }
  }
}

/**
 * Calls `each` with the moment (ms) of every dated fact of the case, what
 * places it in a year, and when intake recorded that fact.
 */
export function forEachDate(f: CaseFacts, each: (at: number, recordedMs: number) => void): void {
  // A stamp, and a deadline, begin with the moment and when it was recorded.
  const add = (s: readonly [number, number, ...unknown[]] | undefined) => {
    if (s && s[0] > 0) each(s[0], s[1]);
  };
  add(f.reg);
  for (const d of f.due ?? []) add(d);
  add(f.concluded);
  add(f.penalty?.at);
  for (const o of f.orders ?? []) add(o.opened);
  for (const v of f.evaluations ?? []) add(v.at);
  add(f.accepted);
  add(f.reviewConcluded?.at);
}

/** The local-calendar years any dated fact of the case falls in. */
export function yearsOf(f: CaseFacts, yearOf: (ms: number) => number): number[] {
  const years = new Set<number>();
  forEachDate(f, (at) => years.add(yearOf(at)));
  return [...years].sort((a, b) => a - b);
}
