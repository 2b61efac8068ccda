import { events } from '@enforcement/contracts';
import type { DomainEvent } from './types.js';

export interface OrderState {
  readonly orderId: string;
  readonly reason: events.SupervisionReason;
  readonly open: boolean;
  readonly level: number;
  readonly openedAt: Date;
  readonly responseDueAt: Date | undefined;
  /** When it was answered (an order is answered once). */
  readonly answeredAt?: Date;
}

export interface PenaltyState {
  readonly fineFen: number;
  readonly grade: events.SeverityGrade;
  readonly discretionAnomaly: boolean;
  readonly major: boolean;
  readonly decidedAt: Date;
}

interface EnforcementBase {
  readonly type: 'ENFORCEMENT';
  readonly agencyId: string;
  readonly district: string;
  readonly domain: events.Domain;
  readonly violationCode: string;
  readonly major: boolean;
  readonly partyKinds: readonly events.PartyKind[];
  readonly registeredAt: Date;
  readonly dispatchedAt: Date | undefined;
  readonly concludedAt: Date | undefined;
  /** The latest time among the case's events. */
  readonly latestAt: Date;
  readonly dueAt: Date;
  readonly unitId: string;
  readonly officers: readonly events.Officer[];
  readonly evidence: Readonly<Record<string, Date>>;
  readonly notice: { readonly at: Date; readonly hearingOffered: boolean } | undefined;
  readonly hearing: { readonly at: Date; readonly waived: boolean } | undefined;
  readonly legalReview: { readonly at: Date; readonly approved: boolean } | undefined;
  readonly penalty: PenaltyState | undefined;
  readonly conclusion: events.Conclusion | undefined;
  readonly orders: Readonly<Record<string, OrderState>>;
  readonly evaluation: { readonly score: number; readonly modelVersion: string } | undefined;
  /** How many of each progress step that may repeat (all but evidence) were recorded. */
  readonly steps: Readonly<Record<RepeatedStep, number>>;
  /** Evaluations recorded. */
  readonly evaluations: number;
}

/** The progress steps a case may record more than once, evidence aside (each item its own). */
export type RepeatedStep = 'inspection' | 'notice' | 'hearing' | 'legalReview' | 'extension';

const NO_STEPS: Readonly<Record<RepeatedStep, number>> = {
  inspection: 0,
  notice: 0,
  hearing: 0,
  legalReview: 0,
  extension: 0,
};

const counted = (s: EnforcementCase, step: RepeatedStep) => ({
  ...s.steps,
  [step]: s.steps[step] + 1,
});

export type EnforcementStatus =
  'REGISTERED' | 'DISPATCHED' | 'IN_PROGRESS' | 'DECIDED' | 'CONCLUDED' | 'EVALUATED' | 'ARCHIVED';

export type EnforcementCase = EnforcementBase & { readonly status: EnforcementStatus };

export interface ReviewCase {
  readonly type: 'REVIEW';
  readonly status: 'REVIEW_FILED' | 'REVIEW_ACCEPTED' | 'REVIEW_CONCLUDED';
  readonly kind: events.ReviewKind;
  readonly agencyId: string;
  readonly enforcementCaseId: string;
  readonly district: string;
  readonly domain: events.Domain;
  readonly filedAt: Date;
  readonly acceptedAt: Date | undefined;
  readonly outcome: events.ReviewOutcome | undefined;
}

export interface NewCase {
  readonly type: 'NONE';
  readonly status: 'NEW';
}

export type CaseState = NewCase | EnforcementCase | ReviewCase;

export const initialState = (): CaseState => ({ type: 'NONE', status: 'NEW' });

const CORRECTIONS = new Set([
  events.ReviewOutcome.REVIEW_OUTCOME_REVOKED,
  events.ReviewOutcome.REVIEW_OUTCOME_CHANGED,
  events.ReviewOutcome.REVIEW_OUTCOME_CONFIRMED_ILLEGAL,
  events.ReviewOutcome.REVIEW_OUTCOME_ORDERED_TO_PERFORM,
]);

export const isCorrection = (o: events.ReviewOutcome): boolean => CORRECTIONS.has(o);

export const openOrders = (s: EnforcementCase): OrderState[] =>
  Object.values(s.orders).filter((o) => o.open);

/** Progress moves a dispatched case into tracking; later statuses stay. */
const tracked = (s: EnforcementCase): EnforcementStatus =>
  s.status === 'DISPATCHED' ? 'IN_PROGRESS' : s.status;

function evolveEnforcement(s: EnforcementCase, e: DomainEvent): EnforcementCase {
  const p = e.payload;
  const at = e.occurredAt;
  switch (p.$case) {
    case 'caseRegistered':
      return s;
    case 'caseDispatched':
      return {
        ...s,
        status: 'DISPATCHED',
        dispatchedAt: at,
        unitId: p.value.unitId,
        officers: p.value.officers,
      };
    case 'inspectionRecorded':
      return { ...s, status: tracked(s), steps: counted(s, 'inspection') };
    case 'evidenceRecorded':
      // Keyed as an id is stored now (trimmed): earlier versions stored it as sent.
      return {
        ...s,
        status: tracked(s),
        evidence: { ...s.evidence, [p.value.evidenceId.trim()]: at },
      };
    case 'partyNotified':
      return {
        ...s,
        status: tracked(s),
        notice: { at, hearingOffered: p.value.hearingOffered },
        steps: counted(s, 'notice'),
      };
    case 'hearingHeld':
      return {
        ...s,
        status: tracked(s),
        hearing: { at, waived: p.value.waived },
        steps: counted(s, 'hearing'),
      };
    case 'legalReviewCompleted':
      return {
        ...s,
        status: tracked(s),
        legalReview: { at, approved: p.value.approved },
        steps: counted(s, 'legalReview'),
      };
    case 'deadlineExtended':
      return {
        ...s,
        status: tracked(s),
        dueAt: p.value.newDueAt ?? s.dueAt,
        steps: counted(s, 'extension'),
      };
    case 'penaltyDecided':
      return {
        ...s,
        status: 'DECIDED',
        penalty: {
          fineFen: p.value.fineFen,
          grade: p.value.grade,
          discretionAnomaly: p.value.discretionAnomaly,
          major: p.value.major,
          decidedAt: at,
        },
      };
    case 'caseConcluded':
      return { ...s, status: 'CONCLUDED', conclusion: p.value.conclusion, concludedAt: at };
    case 'supervisionOrderOpened':
      return {
        ...s,
        orders: {
          ...s.orders,
          [p.value.orderId]: {
            orderId: p.value.orderId,
            reason: p.value.reason,
            open: true,
            level: 1,
            openedAt: at,
            responseDueAt: p.value.responseDueAt,
          },
        },
      };
    case 'supervisionOrderAnswered':
    case 'supervisionOrderEscalated': {
      const order = Object.hasOwn(s.orders, p.value.orderId)
        ? s.orders[p.value.orderId]
        : undefined;
      if (!order) return s;
      const next: OrderState =
        p.$case === 'supervisionOrderAnswered'
          ? { ...order, open: false, answeredAt: at }
          : {
              ...order,
              level: p.value.level,
              responseDueAt: p.value.responseDueAt ?? order.responseDueAt,
            };
      return { ...s, orders: { ...s.orders, [order.orderId]: next } };
    }
    case 'caseEvaluated':
      return {
        ...s,
        status: 'EVALUATED',
        evaluation: { score: p.value.score, modelVersion: p.value.modelVersion },
        evaluations: s.evaluations + 1,
      };
    case 'caseArchived':
      return { ...s, status: 'ARCHIVED' };
    case 'reconsiderationFiled':
    case 'reconsiderationAccepted':
    case 'reconsiderationConcluded':
      return s;
    default: {
      const _exhaustive: never = p;
      return _exhaustive;
    }
  }
}

function evolveReview(s: ReviewCase, e: DomainEvent): ReviewCase {
  const p = e.payload;
  switch (p.$case) {
    case 'reconsiderationAccepted':
      return { ...s, status: 'REVIEW_ACCEPTED', acceptedAt: e.occurredAt };
    case 'reconsiderationConcluded':
      return { ...s, status: 'REVIEW_CONCLUDED', outcome: p.value.outcome };
    default:
      return s;
  }
}

/** The state after `e`. Pure; events were validated when decided. */
export function evolve(state: CaseState, e: DomainEvent): CaseState {
  switch (state.type) {
    case 'NONE': {
      const p = e.payload;
      if (p.$case === 'caseRegistered') {
        const r = p.value;
        return {
          type: 'ENFORCEMENT',
          status: 'REGISTERED',
          agencyId: r.agencyId,
          district: r.district,
          domain: r.domain,
          violationCode: r.violationCode,
          major: r.major,
          partyKinds: r.parties.map((x) => x.kind),
          registeredAt: e.occurredAt,
          dispatchedAt: undefined,
          concludedAt: undefined,
          latestAt: e.occurredAt,
          dueAt: r.dueAt ?? e.occurredAt,
          unitId: '',
          officers: [],
          evidence: {},
          notice: undefined,
          hearing: undefined,
          legalReview: undefined,
          penalty: undefined,
          conclusion: undefined,
          orders: {},
          evaluation: undefined,
          steps: NO_STEPS,
          evaluations: 0,
        };
      }
      if (p.$case === 'reconsiderationFiled') {
        const r = p.value;
        return {
          type: 'REVIEW',
          status: 'REVIEW_FILED',
          kind: r.kind,
          agencyId: r.respondentAgencyId,
          enforcementCaseId: r.enforcementCaseId,
          district: r.district,
          domain: r.domain,
          filedAt: e.occurredAt,
          acceptedAt: undefined,
          outcome: undefined,
        };
      }
      return state;
    }
    case 'ENFORCEMENT': {
      const next = evolveEnforcement(state, e);
      return e.occurredAt > next.latestAt ? { ...next, latestAt: e.occurredAt } : next;
    }
    case 'REVIEW':
      return evolveReview(state, e);
    default: {
      const _exhaustive: never = state;
      return _exhaustive;
    }
  }
}

export const fold = (evs: readonly DomainEvent[], from: CaseState = initialState()): CaseState =>
  evs.reduce(evolve, from);
