import { cityDaysBetween, cityParts } from '@enforcement/reference-data';
import type { CasePlan, ReviewPlan } from './plan.js';

/** The year's figures as the generator planned them; names follow `enforcement.reporting.v1.Statistics`. */
export interface Figures {
  casesRegistered: number;
  casesConcluded: number;
  /** Cases registered in the year that are concluded (at any time). */
  registeredAndConcluded: number;
  /** Cases registered in the year and concluded within it. */
  registeredConcludedInYear: number;
  /** Cases concluded in the year by their deadline. */
  concludedOnTime: number;
  handlingDays: number[];
  overdueCases: number;
  penalties: number;
  penaltyTotalFen: number;
  discretionAnomalies: number;
  ordersOpened: number;
  ordersAnsweredOnTime: number;
  ordersEscalated: number;
  reconsiderationsAccepted: number;
  reconsiderationsConcluded: number;
  reconsiderationsCorrected: number;
  evaluated: number;
  scoreHundredthsTotal: number;
}

export const emptyFigures = (): Figures => ({
  casesRegistered: 0,
  casesConcluded: 0,
  registeredAndConcluded: 0,
  registeredConcludedInYear: 0,
  concludedOnTime: 0,
  handlingDays: [],
  overdueCases: 0,
  penalties: 0,
  penaltyTotalFen: 0,
  discretionAnomalies: 0,
  ordersOpened: 0,
  ordersAnsweredOnTime: 0,
  ordersEscalated: 0,
  reconsiderationsAccepted: 0,
  reconsiderationsConcluded: 0,
  reconsiderationsCorrected: 0,
  evaluated: 0,
  scoreHundredthsTotal: 0,
});

/** Ground truth for one year: overall and by agency, district and domain. */
export interface GroundTruth {
  readonly year: number;
  readonly overall: Figures;
  readonly byAgency: Map<string, Figures>;
  readonly byDistrict: Map<string, Figures>;
  readonly byDomain: Map<number, Figures>;
}

export class TruthCounter {
  readonly truth: GroundTruth;

  constructor(readonly year: number) {
    this.truth = {
      year,
      overall: emptyFigures(),
      byAgency: new Map(),
      byDistrict: new Map(),
      byDomain: new Map(),
    };
  }

  private figures(agency: string, district: string, domain: number): Figures[] {
    const get = <K>(m: Map<K, Figures>, k: K) => {
      let f = m.get(k);
      if (!f) m.set(k, (f = emptyFigures()));
      return f;
    };
    return [
      this.truth.overall,
      get(this.truth.byAgency, agency),
      get(this.truth.byDistrict, district),
      get(this.truth.byDomain, domain),
    ];
  }

  private inYear(at: number | null | undefined): boolean {
    return at !== null && at !== undefined && cityParts(at).year === this.year;
  }

  addCase(p: CasePlan): void {
    for (const f of this.figures(p.agency.id, p.district, p.agency.domain)) {
      if (this.inYear(p.registeredAt)) {
        f.casesRegistered++;
        f.registeredAndConcluded++;
        if (this.inYear(p.concludedAt)) f.registeredConcludedInYear++;
      }
      if (this.inYear(p.concludedAt)) {
        f.casesConcluded++;
        if (p.concludedAt <= p.dueAt) f.concludedOnTime++;
        f.handlingDays.push(cityDaysBetween(p.registeredAt, p.concludedAt));
        if (p.evaluation) {
          f.evaluated++;
          f.scoreHundredthsTotal += Math.round(p.evaluation.score * 100);
        }
      }
      if (this.inYear(p.dueAt) && p.concludedAt > p.dueAt) f.overdueCases++;
      if (p.penalty && this.inYear(p.penalty.at)) {
        f.penalties++;
        f.penaltyTotalFen += p.penalty.fineFen;
        if (p.penalty.anomaly) f.discretionAnomalies++;
      }
      for (const o of p.orders) {
        if (!this.inYear(o.openedAt)) continue;
        f.ordersOpened++;
        if (o.escalation) f.ordersEscalated++;
        else if (o.answeredAt <= o.responseDueAt) f.ordersAnsweredOnTime++;
      }
    }
  }

  addReview(v: ReviewPlan): void {
    const c = v.enforcementCase;
    for (const f of this.figures(c.agency.id, c.district, c.agency.domain)) {
      if (this.inYear(v.acceptedAt)) f.reconsiderationsAccepted++;
      if (v.concluded && this.inYear(v.concluded.at)) {
        f.reconsiderationsConcluded++;
        if (v.role === 'CORRECTED') f.reconsiderationsCorrected++;
      }
    }
  }
}

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * The figures a report must state for a group with this ground truth (the
 * names of `enforcement.reporting.v1.Statistics`): rates to 4 decimals, means
 * to 2, p90 by nearest rank.
 */
export function reportedFigures(t: Figures) {
  const days = [...t.handlingDays].sort((a, b) => a - b);
  return {
    casesRegistered: t.casesRegistered,
    casesConcluded: t.casesConcluded,
    closureRate: t.casesRegistered ? round(t.registeredAndConcluded / t.casesRegistered, 4) : 0,
    closureRateInYear: t.casesRegistered
      ? round(t.registeredConcludedInYear / t.casesRegistered, 4)
      : 0,
    onTimeRate: t.casesConcluded ? round(t.concludedOnTime / t.casesConcluded, 4) : 0,
    meanHandlingDays: days.length ? round(days.reduce((s, d) => s + d, 0) / days.length, 2) : 0,
    p90HandlingDays: days.length ? (days[Math.ceil(days.length * 0.9) - 1] ?? 0) : 0,
    overdueCases: t.overdueCases,
    penalties: t.penalties,
    penaltyTotalFen: t.penaltyTotalFen,
    discretionAnomalies: t.discretionAnomalies,
    ordersOpened: t.ordersOpened,
    ordersAnsweredOnTime: t.ordersAnsweredOnTime,
    ordersEscalated: t.ordersEscalated,
    reconsiderationsAccepted: t.reconsiderationsAccepted,
    reconsiderationsConcluded: t.reconsiderationsConcluded,
    reconsiderationsCorrected: t.reconsiderationsCorrected,
    correctionRate: t.reconsiderationsConcluded
      ? round(t.reconsiderationsCorrected / t.reconsiderationsConcluded, 4)
      : 0,
    meanScore: t.evaluated ? round(t.scoreHundredthsTotal / t.evaluated / 100, 2) : 0,
  };
}
