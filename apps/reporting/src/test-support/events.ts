import { events } from '@enforcement/contracts';
import { cityDate } from '@enforcement/reference-data';
import { applyFact, emptyFacts, type CaseFacts } from '../domain/facts.js';

type Payload = NonNullable<events.CaseEvent['payload']>;

/** A local date-time in the city, e.g. at(2021, 3, 5) or at(2021, 3, 5, 14). */
export const at = (year: number, month: number, day: number, hour = 10): Date =>
  new Date(cityDate(year, month, day).getTime() + hour * 3_600_000);

let position = 0;

/**
 * One case's history, each event recorded `lagMs` after it happened unless
 * `recordedAt` says otherwise; `facts()` folds it.
 */
export class History {
  private readonly list: events.CaseEvent[] = [];

  constructor(
    readonly caseId: string,
    readonly agencyId = 'lz-eeb',
    readonly lagMs = 60_000,
  ) {}

  add(
    occurredAt: Date,
    payload: Payload,
    recordedAt = new Date(occurredAt.getTime() + this.lagMs),
  ): this {
    this.list.push(
      events.CaseEvent.fromPartial({
        eventId: `${this.caseId}-${this.list.length + 1}`,
        caseId: this.caseId,
        version: this.list.length + 1,
        position: ++position,
        occurredAt,
        recordedAt,
        agencyId: this.agencyId,
        payload,
      }),
    );
    return this;
  }

  register(on: Date, o: { district?: string; domain?: number; dueAt?: Date } = {}): this {
    return this.add(on, {
      $case: 'caseRegistered',
      value: events.CaseRegistered.fromPartial({
        agencyId: this.agencyId,
        district: o.district ?? '城中区',
        domain: o.domain ?? events.Domain.DOMAIN_ENVIRONMENT,
        violationCode: 'ENV-AIR-001',
        dueAt: o.dueAt ?? new Date(on.getTime() + 90 * 86_400_000),
      }),
    });
  }

  penalty(on: Date, fineFen: number, anomaly = false): this {
    return this.add(on, {
      $case: 'penaltyDecided',
      value: events.PenaltyDecided.fromPartial({ fineFen, discretionAnomaly: anomaly }),
    });
  }

  conclude(on: Date): this {
    return this.add(on, {
      $case: 'caseConcluded',
      value: events.CaseConcluded.fromPartial({
        conclusion: events.Conclusion.CONCLUSION_PENALIZED,
      }),
    });
  }

  extend(on: Date, newDueAt: Date): this {
    return this.add(on, {
      $case: 'deadlineExtended',
      value: events.DeadlineExtended.fromPartial({ newDueAt }),
    });
  }

  openOrder(on: Date, orderId: string, responseDueAt: Date): this {
    return this.add(on, {
      $case: 'supervisionOrderOpened',
      value: events.SupervisionOrderOpened.fromPartial({ orderId, responseDueAt }),
    });
  }

  answerOrder(on: Date, orderId: string): this {
    return this.add(on, {
      $case: 'supervisionOrderAnswered',
      value: events.SupervisionOrderAnswered.fromPartial({ orderId }),
    });
  }

  escalateOrder(on: Date, orderId: string): this {
    return this.add(on, {
      $case: 'supervisionOrderEscalated',
      value: events.SupervisionOrderEscalated.fromPartial({ orderId, level: 2 }),
    });
  }

  evaluate(on: Date, score: number): this {
    return this.add(on, {
      $case: 'caseEvaluated',
      value: events.CaseEvaluated.fromPartial({ score }),
    });
  }

  file(
    on: Date,
    enforcementCaseId: string,
    kind = events.ReviewKind.REVIEW_KIND_RECONSIDERATION,
  ): this {
    return this.add(on, {
      $case: 'reconsiderationFiled',
      value: events.ReconsiderationFiled.fromPartial({
        kind,
        enforcementCaseId,
        respondentAgencyId: this.agencyId,
        district: '城中区',
        domain: events.Domain.DOMAIN_ENVIRONMENT,
      }),
    });
  }

  accept(on: Date): this {
    return this.add(on, { $case: 'reconsiderationAccepted', value: { handledBy: 'justice' } });
  }

  concludeReview(on: Date, corrected: boolean): this {
    return this.add(on, {
      $case: 'reconsiderationConcluded',
      value: events.ReconsiderationConcluded.fromPartial({
        outcome: corrected
          ? events.ReviewOutcome.REVIEW_OUTCOME_REVOKED
          : events.ReviewOutcome.REVIEW_OUTCOME_UPHELD,
        corrected,
      }),
    });
  }

  get events(): readonly events.CaseEvent[] {
    return this.list;
  }

  facts(): CaseFacts {
    return this.list.reduce(applyFact, emptyFacts(this.caseId));
  }
}
