import type { reporting } from '@enforcement/contracts';
import type { Figures } from '@enforcement/generator';

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

/** What the report must say for a group, computed from the generator's ground truth alone. */
export function expectedFigures(t: Figures): Partial<reporting.Statistics> {
  const days = [...t.handlingDays].sort((a, b) => a - b);
  return {
    casesRegistered: t.casesRegistered,
    casesConcluded: t.casesConcluded,
    closureRate: t.casesRegistered ? round(t.registeredAndConcluded / t.casesRegistered, 4) : 0,
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
