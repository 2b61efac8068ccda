import { events } from '@enforcement/contracts';
import { applyEvent, emptyView, type CaseView } from './case-view.js';

export const T0 = new Date('2021-03-01T02:00:00Z');
export const day = (n: number) => new Date(T0.getTime() + n * 86_400_000);
type Payload = NonNullable<events.CaseEvent['payload']>;

/** Builds a case view from payloads, one event per [payload, day, command id?]. */
export function viewOf(steps: Array<[Payload, number, string?]>, caseId = 'c1'): CaseView {
  return viewAt(
    steps.map(([payload, d, commandId]) => [payload, day(d), commandId]),
    caseId,
  );
}

/** Builds a case view from payloads, one event per [payload, moment, command id?]. */
export function viewAt(steps: Array<[Payload, Date, string?]>, caseId = 'c1'): CaseView {
  return steps.reduce<CaseView>(
    (v, [payload, at, commandId], i) =>
      applyEvent(v, {
        eventId: `e${i + 1}`,
        caseId,
        version: i + 1,
        position: i + 1,
        occurredAt: at,
        recordedAt: at,
        commandId: commandId ?? `c${i + 1}`,
        actor: 't',
        agencyId: 'lz-eeb',
        caseType: events.CaseType.CASE_TYPE_ENFORCEMENT,
        prevHash: '',
        hash: '',
        schemaVersion: 1,
        chainKeyId: '',
        payload,
      }),
    emptyView(caseId),
  );
}

export const p = {
  registered: (major = false): Payload => ({
    $case: 'caseRegistered',
    value: {
      agencyId: 'lz-eeb',
      district: '柳南区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: 'x',
      source: 1,
      parties: [{ kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: 'p', identifier: '' }],
      title: '',
      major,
      dueAt: day(90),
    },
  }),
  dispatched: (n = 2): Payload => ({
    $case: 'caseDispatched',
    value: {
      unitId: 'u1',
      officers: Array.from({ length: n }, (_, i) => ({
        officerId: `o${i + 1}`,
        name: '',
        credentialNo: 'x',
      })),
    },
  }),
  evidence: (sha = 'a'.repeat(64)): Payload => ({
    $case: 'evidenceRecorded',
    value: {
      evidenceId: 'ev',
      kind: 'k',
      sha256: sha,
      collectedBy: 'o1',
      collectedAt: undefined,
      description: '',
    },
  }),
  notified: (hearingOffered = true): Payload => ({
    $case: 'partyNotified',
    value: { facts: 'f', basis: 'b', hearingOffered, proposedFineFen: 0 },
  }),
  hearing: (): Payload => ({
    $case: 'hearingHeld',
    value: { presidedBy: 'h', summary: '', waived: true },
  }),
  review: (): Payload => ({
    $case: 'legalReviewCompleted',
    value: { reviewer: 'r', approved: true, opinion: '' },
  }),
  decided: (o: Partial<events.PenaltyDecided> = {}): Payload => ({
    $case: 'penaltyDecided',
    value: {
      violationCode: 'ENV-AIR-001',
      grade: 2,
      fineFen: 30_000_000,
      benchmarkVersion: 'v',
      benchmarkMinFen: 0,
      benchmarkMaxFen: 0,
      grounds: '',
      discretionAnomaly: false,
      anomalyReason: '',
      major: true,
      otherMeasures: [],
      ...o,
    },
  }),
  concluded: (): Payload => ({
    $case: 'caseConcluded',
    value: { conclusion: events.Conclusion.CONCLUSION_PENALIZED, summary: '' },
  }),
  order: (id = 'o-1', dueDay = 40): Payload => ({
    $case: 'supervisionOrderOpened',
    value: {
      orderId: id,
      reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
      note: '',
      responseDueAt: day(dueDay),
      ruleId: '',
    },
  }),
  escalated: (id = 'o-1', level = 2, dueDay = 50): Payload => ({
    $case: 'supervisionOrderEscalated',
    value: { orderId: id, level, reason: 'r', responseDueAt: day(dueDay) },
  }),
  extended: (dueDay: number): Payload => ({
    $case: 'deadlineExtended',
    value: { newDueAt: day(dueDay), reason: 'complex', approvedBy: 'head' },
  }),
  answered: (id = 'o-1'): Payload => ({
    $case: 'supervisionOrderAnswered',
    value: { orderId: id, answer: 'a' },
  }),
};

/** A case done by the book: registered, dispatched, evidence, notice, hearing, review, decided, concluded. */
export const byTheBook = (concludeDay = 30): Array<[Payload, number]> => [
  [p.registered(), 0],
  [p.dispatched(), 1],
  [p.evidence(), 2],
  [p.notified(), 5],
  [p.hearing(), 8],
  [p.review(), 9],
  [p.decided(), 10],
  [p.concluded(), concludeDay],
];
