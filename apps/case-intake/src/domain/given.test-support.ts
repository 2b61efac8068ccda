import { expect } from 'vitest';
import { events, type intake } from '@enforcement/contracts';
import { BENCHMARKS_2021 } from '@enforcement/reference-data';
import { fullTimeliness } from '../test-support/commands.js';
import { decide } from './decide.js';
import { RuleViolation, type RuleCode } from './errors.js';
import { fold } from './state.js';
import type { Command, DomainEvent, EventPayload } from './types.js';

export const T0 = new Date('2021-03-01T09:00:00Z');
export const day = (n: number) => new Date(T0.getTime() + n * 86_400_000);

const meta = (): intake.CommandMeta => ({ commandId: 'cmd', caseId: 'case-1' });

/** given([...facts]).when(command, at).then... : the domain, as a reader sees it. */
export function given(history: ReadonlyArray<readonly [EventPayload, Date]> = []) {
  const evs: DomainEvent[] = history.map(([payload, occurredAt]) => ({ payload, occurredAt }));
  const state = fold(evs);
  return {
    when(command: Command, at: Date = day(history.length), now: Date = at) {
      const run = () =>
        decide(
          command,
          state,
          { now, occurredAt: at, benchmarks: BENCHMARKS_2021 },
          { headHash: 'h'.repeat(64), version: evs.length },
        );
      return {
        then(expected: EventPayload[]) {
          expect(run()).toEqual(expected);
        },
        thenProduces(name: EventPayload['$case'], check?: (value: never) => void) {
          const out = run();
          expect(out.map((e) => e.$case)).toEqual([name]);
          if (check && out[0]) check(out[0].value as never);
        },
        thenThrows(code: RuleCode, messagePart?: string) {
          let caught: unknown;
          try {
            run();
          } catch (e) {
            caught = e;
          }
          expect(caught, `expected ${code}`).toBeInstanceOf(RuleViolation);
          expect((caught as RuleViolation).code).toBe(code);
          if (messagePart) expect((caught as RuleViolation).message).toContain(messagePart);
        },
      };
    },
  };
}

// Commands, with sensible defaults a test overrides where it matters.
export const cmd = {
  register: (o: Partial<intake.RegisterCaseRequest> = {}): Command => ({
    $case: 'registerCase',
    value: {
      meta: meta(),
      agencyId: 'lz-eeb',
      district: '柳南区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: '《大气污染防治法》第九十九条',
      source: events.CaseSource.CASE_SOURCE_INSPECTION,
      parties: [
        {
          kind: events.PartyKind.PARTY_KIND_ORGANIZATION,
          name: '某化工有限公司',
          identifier: '91450200MA5K',
        },
      ],
      title: '超标排放',
      major: false,
      ...o,
    },
  }),
  dispatch: (officers = twoOfficers, unitId = 'lz-eeb-unit-1'): Command => ({
    $case: 'dispatchCase',
    value: { meta: meta(), unitId, officers },
  }),
  progress: (step: NonNullable<intake.RecordProgressRequest['step']>): Command => ({
    $case: 'recordProgress',
    value: { meta: meta(), step },
  }),
  penalty: (o: Partial<intake.DecidePenaltyRequest> = {}): Command => ({
    $case: 'decidePenalty',
    value: {
      meta: meta(),
      violationCode: 'ENV-AIR-001',
      grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
      fineFen: 30_000_000,
      grounds: '',
      otherMeasures: [],
      ...o,
    },
  }),
  conclude: (conclusion = events.Conclusion.CONCLUSION_PENALIZED): Command => ({
    $case: 'concludeCase',
    value: { meta: meta(), conclusion, summary: '' },
  }),
  openOrder: (
    orderId = 'o-1',
    due = day(60),
    reason = events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
  ): Command => ({
    $case: 'openSupervisionOrder',
    value: { meta: meta(), orderId, reason, note: '', responseDueAt: due, ruleId: '' },
  }),
  answer: (orderId = 'o-1', answer = 'corrected'): Command => ({
    $case: 'answerSupervisionOrder',
    value: { meta: meta(), orderId, answer },
  }),
  escalate: (orderId = 'o-1'): Command => ({
    $case: 'escalateSupervisionOrder',
    value: { meta: meta(), orderId, reason: 'no answer', responseDueAt: undefined },
  }),
  evaluate: (score = 88): Command => ({
    $case: 'recordEvaluation',
    value: {
      meta: meta(),
      score,
      modelVersion: 'v1',
      indicators: fullTimeliness(),
    },
  }),
  archive: (): Command => ({ $case: 'archiveCase', value: { meta: meta() } }),
  file: (o: Partial<intake.FileReconsiderationRequest> = {}): Command => ({
    $case: 'fileReconsideration',
    value: {
      meta: meta(),
      kind: events.ReviewKind.REVIEW_KIND_RECONSIDERATION,
      enforcementCaseId: 'case-1',
      respondentAgencyId: 'lz-eeb',
      applicant: '某化工有限公司',
      district: '柳南区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      claims: '',
      ...o,
    },
  }),
  accept: (): Command => ({
    $case: 'acceptReconsideration',
    value: { meta: meta(), handledBy: '市司法局' },
  }),
  concludeReview: (outcome: events.ReviewOutcome): Command => ({
    $case: 'concludeReconsideration',
    value: { meta: meta(), outcome, summary: '' },
  }),
};

export const twoOfficers: events.Officer[] = [
  { officerId: 'off-1', name: '李明', credentialNo: '45020001' },
  { officerId: 'off-2', name: '王芳', credentialNo: '45020002' },
];

const digest = 'a'.repeat(64);

// Facts, as stored.
export const fact = {
  registered: (o: Partial<events.CaseRegistered> = {}): EventPayload => ({
    $case: 'caseRegistered',
    value: {
      agencyId: 'lz-eeb',
      district: '柳南区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: 'x',
      source: events.CaseSource.CASE_SOURCE_INSPECTION,
      parties: [{ kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: 'p', identifier: '' }],
      title: '',
      major: false,
      dueAt: day(90),
      ...o,
    },
  }),
  dispatched: (): EventPayload => ({
    $case: 'caseDispatched',
    value: { unitId: 'u', officers: twoOfficers },
  }),
  evidence: (evidenceId = 'ev-1', collectedAt = T0): EventPayload => ({
    $case: 'evidenceRecorded',
    value: {
      evidenceId,
      kind: 'photo',
      sha256: digest,
      collectedBy: 'off-1',
      collectedAt,
      description: '',
    },
  }),
  notified: (hearingOffered = true): EventPayload => ({
    $case: 'partyNotified',
    value: { facts: 'f', basis: 'b', hearingOffered, proposedFineFen: 0 },
  }),
  hearing: (waived = false): EventPayload => ({
    $case: 'hearingHeld',
    value: { presidedBy: 'h', summary: '', waived },
  }),
  legalReview: (): EventPayload => ({
    $case: 'legalReviewCompleted',
    value: { reviewer: 'r', approved: true, opinion: '' },
  }),
  decided: (): EventPayload => ({
    $case: 'penaltyDecided',
    value: {
      violationCode: 'ENV-AIR-001',
      grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
      fineFen: 30_000_000,
      benchmarkVersion: 'LZ-2021.1',
      benchmarkMinFen: 20_000_000,
      benchmarkMaxFen: 40_000_000,
      grounds: '',
      discretionAnomaly: false,
      anomalyReason: '',
      major: true,
      otherMeasures: [],
    },
  }),
  concluded: (): EventPayload => ({
    $case: 'caseConcluded',
    value: { conclusion: events.Conclusion.CONCLUSION_PENALIZED, summary: '' },
  }),
  orderOpened: (orderId = 'o-1'): EventPayload => ({
    $case: 'supervisionOrderOpened',
    value: {
      orderId,
      reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
      note: '',
      responseDueAt: day(100),
      ruleId: '',
    },
  }),
  orderEscalated: (orderId = 'o-1', level = 2): EventPayload => ({
    $case: 'supervisionOrderEscalated',
    value: { orderId, level, reason: 'no answer', responseDueAt: undefined },
  }),
  extended: (newDueAt: Date): EventPayload => ({
    $case: 'deadlineExtended',
    value: { newDueAt, reason: 'complex', approvedBy: '局长' },
  }),
  inspected: (): EventPayload => ({
    $case: 'inspectionRecorded',
    value: { location: 'x', findings: 'y', officerIds: ['off-1'] },
  }),
  orderAnswered: (orderId = 'o-1'): EventPayload => ({
    $case: 'supervisionOrderAnswered',
    value: { orderId, answer: 'a' },
  }),
  evaluated: (): EventPayload => ({
    $case: 'caseEvaluated',
    value: { score: 90, modelVersion: 'v1', indicators: [] },
  }),
  archived: (): EventPayload => ({
    $case: 'caseArchived',
    value: { headHash: 'h', eventCount: 9 },
  }),
  reviewFiled: (): EventPayload => ({
    $case: 'reconsiderationFiled',
    value: {
      kind: events.ReviewKind.REVIEW_KIND_RECONSIDERATION,
      enforcementCaseId: 'case-1',
      respondentAgencyId: 'lz-eeb',
      applicant: 'a',
      district: 'd',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      claims: '',
    },
  }),
  reviewAccepted: (): EventPayload => ({
    $case: 'reconsiderationAccepted',
    value: { handledBy: 'x' },
  }),
};

/** A case that has gone as far as `step` along the loop, one day per event. */
export function caseUpTo(
  step:
    | 'registered'
    | 'dispatched'
    | 'tracked'
    | 'noticed'
    | 'decided'
    | 'concluded'
    | 'evaluated'
    | 'archived',
): Array<[EventPayload, Date]> {
  const order = [
    ['registered', fact.registered()],
    ['dispatched', fact.dispatched()],
    ['tracked', fact.evidence()],
    ['noticed', fact.notified()],
    ['heard', fact.hearing()],
    ['decided', fact.decided()],
    ['concluded', fact.concluded()],
    ['evaluated', fact.evaluated()],
    ['archived', fact.archived()],
  ] as const;
  const upTo = step === 'noticed' ? 'heard' : step;
  const end = order.findIndex(([name]) => name === upTo);
  return order.slice(0, end + 1).map(([, e], i) => [e, day(i)]);
}
