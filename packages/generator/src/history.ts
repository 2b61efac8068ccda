import { events, type intake } from '@enforcement/contracts';
import { BENCHMARKS_2021, judgeFine, statutoryDueAt, GRADES } from '@enforcement/reference-data';

const CORRECTING = new Set([
  events.ReviewOutcome.REVIEW_OUTCOME_REVOKED,
  events.ReviewOutcome.REVIEW_OUTCOME_CHANGED,
  events.ReviewOutcome.REVIEW_OUTCOME_CONFIRMED_ILLEGAL,
  events.ReviewOutcome.REVIEW_OUTCOME_ORDERED_TO_PERFORM,
]);

/**
 * Turns generated commands into the events intake would store for them,
 * without intake: for benchmarks and replays that need a large history on
 * the topic quickly. Each event is recorded `recordLagMs` after it happened
 * and gets the next position; versions count per case. No hash chain.
 */
export class SyntheticHistory {
  private position = 0;
  private readonly cases = new Map<
    string,
    { version: number; agencyId: string; type: events.CaseType }
  >();

  constructor(private readonly recordLagMs = 5 * 60_000) {}

  next(command: intake.Command): events.CaseEvent {
    const k = command.kind;
    if (!k) throw new Error('empty command');
    const meta = k.value.meta;
    if (!meta) throw new Error('command without meta');
    const occurredAt = meta.occurredAt ?? new Date();
    let c = this.cases.get(meta.caseId);
    if (!c) {
      const review = k.$case === 'fileReconsideration';
      c = {
        version: 0,
        agencyId:
          k.$case === 'registerCase' ? k.value.agencyId : review ? k.value.respondentAgencyId : '',
        type: review ? events.CaseType.CASE_TYPE_REVIEW : events.CaseType.CASE_TYPE_ENFORCEMENT,
      };
      this.cases.set(meta.caseId, c);
    }
    c.version++;
    this.position++;
    return {
      eventId: `${meta.caseId}/${c.version}`,
      caseId: meta.caseId,
      version: c.version,
      position: this.position,
      occurredAt,
      recordedAt: new Date(occurredAt.getTime() + this.recordLagMs),
      commandId: meta.commandId,
      actor: 'generator',
      agencyId: c.agencyId,
      caseType: c.type,
      prevHash: '',
      hash: '',
      schemaVersion: 1,
      chainKeyId: '',
      payload: payloadOf(k, occurredAt),
    };
  }
}

function payloadOf(
  k: NonNullable<intake.Command['kind']>,
  occurredAt: Date,
): events.CaseEvent['payload'] {
  switch (k.$case) {
    case 'registerCase': {
      const { meta: _meta, ...v } = k.value;
      return {
        $case: 'caseRegistered',
        value: { ...v, dueAt: statutoryDueAt(occurredAt) },
      };
    }
    case 'dispatchCase':
      return {
        $case: 'caseDispatched',
        value: { unitId: k.value.unitId, officers: k.value.officers },
      };
    case 'recordProgress': {
      const s = k.value.step;
      if (!s) throw new Error('progress without a step');
      switch (s.$case) {
        case 'inspection':
          return { $case: 'inspectionRecorded', value: s.value };
        case 'evidence':
          return { $case: 'evidenceRecorded', value: s.value };
        case 'notice':
          return { $case: 'partyNotified', value: s.value };
        case 'hearing':
          return { $case: 'hearingHeld', value: s.value };
        case 'legalReview':
          return { $case: 'legalReviewCompleted', value: s.value };
        case 'extension':
          return { $case: 'deadlineExtended', value: s.value };
      }
      throw new Error('unknown progress step');
    }
    case 'decidePenalty': {
      const v = k.value;
      const grade = GRADES[v.grade - 1] ?? 'MINOR';
      const verdict = judgeFine(BENCHMARKS_2021, v.violationCode, grade, v.fineFen);
      const entry = BENCHMARKS_2021.entries.get(v.violationCode);
      const range =
        verdict.kind === 'INSIDE' || verdict.kind === 'OUTSIDE_BENCHMARK'
          ? verdict.range
          : undefined;
      const anomaly =
        verdict.kind === 'OUTSIDE_BENCHMARK' ||
        (verdict.kind === 'INSIDE' && verdict.atEdge && !v.grounds);
      return {
        $case: 'penaltyDecided',
        value: {
          violationCode: v.violationCode,
          grade: v.grade,
          fineFen: v.fineFen,
          benchmarkVersion: BENCHMARKS_2021.version,
          benchmarkMinFen: range?.minFen ?? 0,
          benchmarkMaxFen: range?.maxFen ?? 0,
          grounds: v.grounds,
          discretionAnomaly: anomaly,
          anomalyReason: anomaly ? 'outside benchmark range for its grade' : '',
          major: entry !== undefined && v.fineFen >= entry.majorFromFen,
          otherMeasures: v.otherMeasures,
        },
      };
    }
    case 'concludeCase':
      return {
        $case: 'caseConcluded',
        value: { conclusion: k.value.conclusion, summary: k.value.summary },
      };
    case 'openSupervisionOrder': {
      const { meta: _meta, ...v } = k.value;
      return { $case: 'supervisionOrderOpened', value: v };
    }
    case 'answerSupervisionOrder':
      return {
        $case: 'supervisionOrderAnswered',
        value: { orderId: k.value.orderId, answer: k.value.answer },
      };
    case 'escalateSupervisionOrder':
      return {
        $case: 'supervisionOrderEscalated',
        value: {
          orderId: k.value.orderId,
          level: 2,
          reason: k.value.reason,
          responseDueAt: k.value.responseDueAt,
        },
      };
    case 'recordEvaluation': {
      const { meta: _meta, ...v } = k.value;
      return { $case: 'caseEvaluated', value: v };
    }
    case 'archiveCase':
      return { $case: 'caseArchived', value: { headHash: '', eventCount: 0 } };
    case 'fileReconsideration': {
      const { meta: _meta, ...v } = k.value;
      return { $case: 'reconsiderationFiled', value: v };
    }
    case 'acceptReconsideration':
      return { $case: 'reconsiderationAccepted', value: { handledBy: k.value.handledBy } };
    case 'concludeReconsideration':
      return {
        $case: 'reconsiderationConcluded',
        value: {
          outcome: k.value.outcome,
          corrected: CORRECTING.has(k.value.outcome),
          summary: k.value.summary,
          enforcementCaseId: '',
        },
      };
  }
}
