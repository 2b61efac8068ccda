import { events } from '@enforcement/contracts';

/** A supervision order as the read model keeps it. */
export interface OrderView {
  orderId: string;
  reason: events.SupervisionReason;
  openedAt: string;
  responseDueAt: string;
  /** The deadline the order was opened with (responseDueAt moves on escalation). */
  firstResponseDueAt?: string;
  level: number;
  answeredAt: string | null;
  /** Escalated at least once: its first deadline passed unanswered. */
  escalated: boolean;
  ruleId: string;
  openedEventId: string;
  /** Every escalation, in order: when, to which level, the new deadline, and the command behind it. */
  escalations?: { at: string; level: number; responseDueAt: string; commandId: string }[];
}

/**
 * Everything supervision needs to know about one enforcement case, folded
 * from its events. Plain JSON (dates as ISO strings) so it is stored as is.
 */
export interface CaseView {
  caseId: string;
  kind: 'ENFORCEMENT' | 'REVIEW';
  version: number;
  /**
   * The latest moment the case's own history shows (the greatest
   * `occurred_at` of its events): the moment its live score is taken at.
   * Absent on views stored before it was kept, until their next event.
   */
  lastEventAt?: string;
  agencyId: string;
  district: string;
  domain: events.Domain;
  violationCode: string;
  major: boolean;
  hasOrganizationParty: boolean;
  registeredAt: string;
  registeredEventId: string;
  dueAt: string;
  extensionEventIds: string[];
  /** The statutory deadline over time: set at registration, then moved by each extension. */
  deadlines?: { at: string; dueAt: string }[];
  unitId: string;
  officerIds: string[];
  dispatchedEventId: string;
  evidence: { eventId: string; at: string; digest: boolean }[];
  notice: { eventId: string; at: string; hearingOffered: boolean } | null;
  hearing: { eventId: string; at: string } | null;
  legalReview: { eventId: string; at: string; approved: boolean } | null;
  penalty: {
    eventId: string;
    at: string;
    fineFen: number;
    /** The benchmark range the decision names (absent in records stored before 2026-12-05). */
    benchmarkMinFen?: number;
    benchmarkMaxFen?: number;
    discretionAnomaly: boolean;
    anomalyReason: string;
    grounds: string;
    major: boolean;
  } | null;
  concluded: { eventId: string; at: string; conclusion: events.Conclusion } | null;
  orders: OrderView[];
  evaluatedEventId: string;
  /** Command ids of the evaluations recorded (the rules' own are `evaluate:<model>:<case>`). */
  evaluationCommandIds?: string[];
  archived: boolean;
  archivedAt?: string;
  /** Reconsideration or litigation corrected the decision (review case ids). */
  correctedBy: string[];
  /** For a review case: the enforcement case it challenges and its outcome. */
  review: {
    enforcementCaseId: string;
    outcome: events.ReviewOutcome;
    corrected: boolean;
    eventId: string;
  } | null;
}

export function emptyView(caseId: string): CaseView {
  return {
    caseId,
    kind: 'ENFORCEMENT',
    version: 0,
    agencyId: '',
    district: '',
    domain: 0,
    violationCode: '',
    major: false,
    hasOrganizationParty: false,
    registeredAt: '',
    registeredEventId: '',
    dueAt: '',
    extensionEventIds: [],
    unitId: '',
    officerIds: [],
    dispatchedEventId: '',
    evidence: [],
    notice: null,
    hearing: null,
    legalReview: null,
    penalty: null,
    concluded: null,
    orders: [],
    evaluatedEventId: '',
    archived: false,
    correctedBy: [],
    review: null,
  };
}

const iso = (d: Date | undefined) => (d ?? new Date(0)).toISOString();

/** The view after one event, applied in version order. Pure. */
export function applyEvent(v: CaseView, e: events.CaseEvent): CaseView {
  const p = e.payload;
  const at = iso(e.occurredAt);
  const next: CaseView = {
    ...v,
    version: e.version,
    lastEventAt: v.lastEventAt && v.lastEventAt > at ? v.lastEventAt : at,
    agencyId: v.agencyId || e.agencyId,
  };
  if (!p) throw new Error(`event ${e.eventId} has no payload`);
  switch (p.$case) {
    case 'caseRegistered':
      return {
        ...next,
        kind: 'ENFORCEMENT',
        agencyId: p.value.agencyId,
        district: p.value.district,
        domain: p.value.domain,
        violationCode: p.value.violationCode,
        major: p.value.major,
        hasOrganizationParty: p.value.parties.some(
          (x) => x.kind === events.PartyKind.PARTY_KIND_ORGANIZATION,
        ),
        registeredAt: at,
        registeredEventId: e.eventId,
        dueAt: iso(p.value.dueAt),
        deadlines: [{ at, dueAt: iso(p.value.dueAt) }],
      };
    case 'caseDispatched':
      return {
        ...next,
        unitId: p.value.unitId,
        officerIds: p.value.officers.map((o) => o.officerId),
        dispatchedEventId: e.eventId,
      };
    case 'inspectionRecorded':
      return next;
    case 'evidenceRecorded':
      return {
        ...next,
        evidence: [
          ...v.evidence,
          { eventId: e.eventId, at, digest: /^[0-9a-f]{64}$/.test(p.value.sha256) },
        ],
      };
    case 'partyNotified':
      return {
        ...next,
        notice: { eventId: e.eventId, at, hearingOffered: p.value.hearingOffered },
      };
    case 'hearingHeld':
      return { ...next, hearing: { eventId: e.eventId, at } };
    case 'legalReviewCompleted':
      return { ...next, legalReview: { eventId: e.eventId, at, approved: p.value.approved } };
    case 'deadlineExtended':
      return {
        ...next,
        dueAt: iso(p.value.newDueAt),
        extensionEventIds: [...v.extensionEventIds, e.eventId],
        deadlines: [...(v.deadlines ?? []), { at, dueAt: iso(p.value.newDueAt) }],
      };
    case 'penaltyDecided':
      return {
        ...next,
        penalty: {
          eventId: e.eventId,
          at,
          fineFen: p.value.fineFen,
          ...(p.value.discretionAnomaly && {
            benchmarkMinFen: p.value.benchmarkMinFen,
            benchmarkMaxFen: p.value.benchmarkMaxFen,
          }),
          discretionAnomaly: p.value.discretionAnomaly,
          anomalyReason: p.value.anomalyReason,
          grounds: p.value.grounds,
          major: p.value.major,
        },
      };
    case 'caseConcluded':
      return { ...next, concluded: { eventId: e.eventId, at, conclusion: p.value.conclusion } };
    case 'supervisionOrderOpened':
      return {
        ...next,
        orders: [
          ...v.orders,
          {
            orderId: p.value.orderId,
            reason: p.value.reason,
            openedAt: at,
            responseDueAt: iso(p.value.responseDueAt),
            firstResponseDueAt: iso(p.value.responseDueAt),
            level: 1,
            answeredAt: null,
            escalated: false,
            ruleId: p.value.ruleId,
            openedEventId: e.eventId,
          },
        ],
      };
    case 'supervisionOrderAnswered':
      return {
        ...next,
        orders: v.orders.map((o) => (o.orderId === p.value.orderId ? { ...o, answeredAt: at } : o)),
      };
    case 'supervisionOrderEscalated':
      return {
        ...next,
        orders: v.orders.map((o) =>
          o.orderId === p.value.orderId
            ? {
                ...o,
                level: p.value.level,
                escalated: true,
                responseDueAt: p.value.responseDueAt ? iso(p.value.responseDueAt) : o.responseDueAt,
                escalations: [
                  ...(o.escalations ?? []),
                  {
                    at,
                    level: p.value.level,
                    responseDueAt: p.value.responseDueAt
                      ? iso(p.value.responseDueAt)
                      : o.responseDueAt,
                    commandId: e.commandId,
                  },
                ],
              }
            : o,
        ),
      };
    case 'caseEvaluated':
      return {
        ...next,
        evaluatedEventId: e.eventId,
        evaluationCommandIds: [...(v.evaluationCommandIds ?? []), e.commandId],
      };
    case 'caseArchived':
      return { ...next, archived: true, archivedAt: at };
    case 'reconsiderationFiled':
      return {
        ...next,
        kind: 'REVIEW',
        agencyId: p.value.respondentAgencyId,
        district: p.value.district,
        domain: p.value.domain,
        registeredAt: at,
        review: {
          enforcementCaseId: p.value.enforcementCaseId,
          outcome: 0,
          corrected: false,
          eventId: e.eventId,
        },
      };
    case 'reconsiderationAccepted':
      return next;
    case 'reconsiderationConcluded':
      return {
        ...next,
        review: {
          enforcementCaseId: p.value.enforcementCaseId || v.review?.enforcementCaseId || '',
          outcome: p.value.outcome,
          corrected: p.value.corrected,
          eventId: e.eventId,
        },
      };
    default: {
      const _exhaustive: never = p;
      return _exhaustive;
    }
  }
}

export const openOrders = (v: CaseView): OrderView[] =>
  v.orders.filter((o) => o.answeredAt === null);
