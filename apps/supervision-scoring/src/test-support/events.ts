import { events } from '@enforcement/contracts';

type Payload = NonNullable<events.CaseEvent['payload']>;

export interface CaseSpec {
  readonly caseId: string;
  readonly agencyId?: string;
  readonly district?: string;
  readonly officers?: [string, string];
  readonly start?: Date;
  readonly concludeAfterDays?: number;
  readonly anomaly?: boolean;
  /**
   * After the conclusion, a supervision order the case lets lapse: opened a
   * day later, due in four days, then the case archived past that, which
   * settles it unanswered. So the case's score moves after its conclusion.
   */
  readonly lapsedOrder?: boolean;
}

/** The events of one enforcement case run by the book, as intake would publish them. */
export function caseEvents(spec: CaseSpec): events.CaseEvent[] {
  const start = spec.start ?? new Date('2021-03-01T02:00:00Z');
  const at = (d: number) => new Date(start.getTime() + d * 86_400_000);
  const agencyId = spec.agencyId ?? 'lz-eeb';
  const [o1, o2] = spec.officers ?? ['off-1', 'off-2'];
  const steps: [Payload, number][] = [
    [
      {
        $case: 'caseRegistered',
        value: {
          agencyId,
          district: spec.district ?? '柳南区',
          domain: events.Domain.DOMAIN_ENVIRONMENT,
          violationCode: 'ENV-AIR-001',
          legalBasis: 'x',
          source: 1,
          parties: [{ kind: 2, name: 'p', identifier: '' }],
          title: '',
          major: false,
          dueAt: at(90),
        },
      },
      0,
    ],
    [
      {
        $case: 'caseDispatched',
        value: {
          unitId: `${agencyId}-u1`,
          officers: [
            { officerId: o1, name: '', credentialNo: '1' },
            { officerId: o2, name: '', credentialNo: '2' },
          ],
        },
      },
      1,
    ],
    [
      {
        $case: 'evidenceRecorded',
        value: {
          evidenceId: 'ev',
          kind: 'k',
          sha256: 'a'.repeat(64),
          collectedBy: o1,
          collectedAt: at(2),
          description: '',
        },
      },
      2,
    ],
    [
      {
        $case: 'partyNotified',
        value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 0 },
      },
      5,
    ],
    [{ $case: 'hearingHeld', value: { presidedBy: 'h', summary: '', waived: true } }, 8],
    [{ $case: 'legalReviewCompleted', value: { reviewer: 'r', approved: true, opinion: '' } }, 9],
    [
      {
        $case: 'penaltyDecided',
        value: {
          violationCode: 'ENV-AIR-001',
          grade: 2,
          fineFen: 30_000_000,
          benchmarkVersion: 'LZ-2021.1',
          benchmarkMinFen: 20_000_000,
          benchmarkMaxFen: 40_000_000,
          grounds: '',
          discretionAnomaly: spec.anomaly ?? false,
          anomalyReason: spec.anomaly
            ? 'at the edge of the benchmark range without stated grounds'
            : '',
          major: true,
          otherMeasures: [],
        },
      },
      10,
    ],
    [
      {
        $case: 'caseConcluded',
        value: { conclusion: events.Conclusion.CONCLUSION_PENALIZED, summary: '' },
      },
      spec.concludeAfterDays ?? 30,
    ],
  ];
  if (spec.lapsedOrder) {
    const concluded = spec.concludeAfterDays ?? 30;
    steps.push(
      [
        {
          $case: 'supervisionOrderOpened',
          value: {
            orderId: `${spec.caseId}-lapsed`,
            reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
            note: '',
            responseDueAt: at(concluded + 5),
            ruleId: '',
          },
        },
        concluded + 1,
      ],
      [{ $case: 'caseArchived', value: { headHash: '', eventCount: 12 } }, concluded + 10],
    );
  }
  return steps.map(([payload, d], i) => ({
    eventId: `${spec.caseId}-e${i + 1}`,
    caseId: spec.caseId,
    version: i + 1,
    position: 0,
    occurredAt: at(d),
    recordedAt: at(d),
    commandId: `${spec.caseId}-c${i + 1}`,
    actor: 'test',
    agencyId,
    caseType: events.CaseType.CASE_TYPE_ENFORCEMENT,
    prevHash: '',
    hash: '',
    schemaVersion: 1,
    chainKeyId: '',
    payload,
  }));
}

/** A later event of the case `first` began, at version `version`, dated `at`. */
export const laterEvent = (
  first: events.CaseEvent,
  version: number,
  at: Date,
  payload: Payload,
): events.CaseEvent => ({
  ...first,
  eventId: `${first.caseId}-e${version}`,
  commandId: `${first.caseId}-c${version}`,
  version,
  occurredAt: at,
  recordedAt: at,
  payload,
});

/**
 * A reconsideration of `target` that corrects its decision, as intake
 * publishes it: filed, accepted and concluded on three days of June 2021
 * from `day` on.
 */
export function correctingReview(reviewId: string, target: string, day = 1): events.CaseEvent[] {
  const payloads: Payload[] = [
    {
      $case: 'reconsiderationFiled',
      value: {
        kind: 1,
        enforcementCaseId: target,
        respondentAgencyId: 'lz-eeb',
        applicant: 'a',
        district: '柳南区',
        domain: events.Domain.DOMAIN_ENVIRONMENT,
        claims: '',
      },
    },
    { $case: 'reconsiderationAccepted', value: { handledBy: 'h' } },
    {
      $case: 'reconsiderationConcluded',
      value: {
        outcome: events.ReviewOutcome.REVIEW_OUTCOME_REVOKED,
        corrected: true,
        summary: '',
        enforcementCaseId: target,
      },
    },
  ];
  return payloads.map((payload, i) => {
    const at = new Date(Date.UTC(2021, 5, day + i, 2));
    return {
      eventId: `${reviewId}-e${i + 1}`,
      caseId: reviewId,
      version: i + 1,
      position: 0,
      occurredAt: at,
      recordedAt: at,
      commandId: `${reviewId}-c${i + 1}`,
      actor: 'test',
      agencyId: 'lz-eeb',
      caseType: events.CaseType.CASE_TYPE_REVIEW,
      prevHash: '',
      hash: '',
      schemaVersion: 1,
      chainKeyId: '',
      payload,
    };
  });
}
