import {
  AGENCIES,
  BENCHMARKS_2021,
  DISTRICTS,
  GRADES,
  cityDate,
  judgeFine,
  statutoryDueAt,
  type Agency,
  type Grade,
} from '@enforcement/reference-data';
import { Random, seedOf } from './random.js';

export const DAY = 86_400_000;
const HOUR = 3_600_000;

export type Conclusion = 'PENALIZED' | 'NO_PENALTY' | 'DROPPED';

export interface OrderPlan {
  readonly orderId: string;
  readonly reason: 'COMPLAINT' | 'OVERDUE' | 'OTHER';
  readonly openedAt: number;
  readonly responseDueAt: number;
  /** Escalated when its first deadline passed unanswered, with a new deadline. */
  readonly escalation: { readonly at: number; readonly responseDueAt: number } | null;
  readonly answeredAt: number;
}

export interface PenaltyPlan {
  readonly at: number;
  readonly grade: Grade;
  readonly fineFen: number;
  readonly grounds: string;
  /** Outside the benchmark range of its grade (the grounds are stated). */
  readonly anomaly: boolean;
}

/** Everything that will happen to one enforcement case, decided up front. */
export interface CasePlan {
  readonly index: number;
  readonly caseId: string;
  readonly agency: Agency;
  readonly district: string;
  readonly violationCode: string;
  readonly organization: boolean;
  readonly registeredMajor: boolean;
  readonly registeredAt: number;
  readonly dispatchedAt: number;
  readonly officers: readonly [string, string];
  readonly unitId: string;
  readonly inspectionAt: number;
  readonly evidenceAt: readonly number[];
  readonly noticeAt: number;
  readonly hearing: { readonly at: number; readonly waived: boolean } | null;
  readonly legalReviewAt: number | null;
  readonly extension: { readonly at: number; readonly newDueAt: number } | null;
  /** The statutory deadline in force at the end: 90 days, or the extended one. */
  readonly dueAt: number;
  readonly penalty: PenaltyPlan | null;
  readonly conclusion: Conclusion;
  readonly concludedAt: number;
  readonly orders: readonly OrderPlan[];
  /** Set when the plan includes evaluations (no scoring service doing them). */
  readonly evaluation: { readonly at: number; readonly score: number } | null;
}

export interface PlanOptions {
  readonly seed: string;
  readonly year: number;
  readonly cases: number;
  readonly prefix: string;
  readonly evaluate: boolean;
}

const GRADE_WEIGHT: Record<Grade, number> = {
  MINOR: 30,
  GENERAL: 40,
  SERIOUS: 20,
  VERY_SERIOUS: 10,
};

/** A fine strictly inside [min, max], rounded to a unit that keeps it there. */
function fineWithin(r: Random, minFen: number, maxFen: number): number {
  for (const unit of [10_000, 1_000, 100, 1]) {
    const raw = minFen + (maxFen - minFen) * (0.15 + 0.7 * r.next());
    const fine = Math.round(raw / unit) * unit;
    if (fine > minFen && fine < maxFen) return fine;
  }
  return Math.round((minFen + maxFen) / 2);
}

function planPenalty(r: Random, code: string, at: number): PenaltyPlan {
  const entry = BENCHMARKS_2021.entries.get(code);
  if (!entry) throw new Error(`violation code ${code} is not in ${BENCHMARKS_2021.version}`);
  const grade = r.weighted(GRADES, (g) => GRADE_WEIGHT[g]);
  const band = entry.grades[grade];
  if (r.chance(0.04)) {
    // Outside its grade's band but inside the statutory range: a discretion anomaly, grounds stated.
    const above = grade !== 'VERY_SERIOUS';
    const fine = above
      ? fineWithin(r, band.maxFen, entry.statutory.maxFen)
      : fineWithin(r, entry.statutory.minFen, band.minFen);
    const verdict = judgeFine(BENCHMARKS_2021, code, grade, fine);
    if (verdict.kind === 'OUTSIDE_BENCHMARK')
      return { at, grade, fineFen: fine, grounds: '当事人拒不改正，情节较重', anomaly: true };
  }
  return {
    at,
    grade,
    fineFen: fineWithin(r, band.minFen, band.maxFen),
    grounds: '',
    anomaly: false,
  };
}

/** The plan of enforcement case `index`; depends only on the options and the index. */
export function planCase(o: PlanOptions, index: number): CasePlan {
  const r = new Random(seedOf(o.seed, o.year, 'case', index));
  const yearStart = cityDate(o.year).getTime();
  const yearMs = cityDate(o.year + 1).getTime() - yearStart;
  // Registrations spread over the year, strictly increasing with the index.
  const registeredAt = Math.floor(yearStart + ((index + 0.05 + 0.9 * r.next()) / o.cases) * yearMs);
  const agency = r.weighted(AGENCIES, (a) => a.weight);
  const district = r.pick(DISTRICTS);
  const violationCode = r.pick(agency.violationCodes);
  const organization = r.chance(0.6);
  const registeredMajor = r.chance(0.05);

  // How long the case runs: most well inside the deadline, some extended, some late.
  const roll = r.next();
  const late = roll < 0.08;
  const extended = !late && roll < 0.13;
  const days = late ? r.int(95, 150) : extended ? r.int(92, 115) : r.int(12, 80);
  const concludedAt = registeredAt + days * DAY + r.int(1, 8) * HOUR;
  const at = (fraction: number) =>
    registeredAt + Math.floor(days * fraction * DAY) + r.int(1, 50) * 60_000;

  const conclusionRoll = r.next();
  const conclusion: Conclusion =
    conclusionRoll < 0.92 ? 'PENALIZED' : conclusionRoll < 0.98 ? 'NO_PENALTY' : 'DROPPED';
  const penalty = conclusion === 'PENALIZED' ? planPenalty(r, violationCode, at(0.86)) : null;
  const entry = BENCHMARKS_2021.entries.get(violationCode);
  const hearingFrom = organization
    ? BENCHMARKS_2021.hearingFromFen.organization
    : BENCHMARKS_2021.hearingFromFen.person;
  const hearingDue = penalty !== null && (penalty.fineFen >= hearingFrom || r.chance(0.15));
  const major =
    registeredMajor ||
    (penalty !== null && entry !== undefined && penalty.fineFen >= entry.majorFromFen);

  const due = statutoryDueAt(registeredAt).getTime();
  // Extended while the case is still in progress: after the notice, before the decision (at 0.86).
  const extension = extended ? { at: at(0.7), newDueAt: registeredAt + 120 * DAY } : null;
  const dueAt = extension ? extension.newDueAt : due;

  const unitNo = DISTRICTS.indexOf(district as (typeof DISTRICTS)[number]);
  const staff = 6 + agency.weight * 2;
  const first = r.int(0, staff - 1);
  const second = (first + r.int(1, staff - 1)) % staff;
  const officerId = (n: number) => `${agency.id}-o${String(n).padStart(3, '0')}`;

  const orders: OrderPlan[] = [];
  const orderOutcome = (openedAt: number, n: number, reason: OrderPlan['reason']): OrderPlan => {
    const responseDueAt = openedAt + 10 * DAY;
    const outcome = r.next();
    const orderId = `${o.prefix}-${String(index).padStart(6, '0')}-D${n}`;
    if (outcome < 0.65)
      return {
        orderId,
        reason,
        openedAt,
        responseDueAt,
        escalation: null,
        answeredAt: openedAt + r.int(2, 9) * DAY,
      };
    if (outcome < 0.82)
      return {
        orderId,
        reason,
        openedAt,
        responseDueAt,
        escalation: null,
        answeredAt: responseDueAt + r.int(1, 4) * DAY,
      };
    const escalation = { at: responseDueAt + DAY, responseDueAt: responseDueAt + 6 * DAY };
    return {
      orderId,
      reason,
      openedAt,
      responseDueAt,
      escalation,
      answeredAt: responseDueAt + r.int(2, 5) * DAY,
    };
  };
  if (r.chance(0.07)) orders.push(orderOutcome(at(0.3), 1, r.chance(0.7) ? 'COMPLAINT' : 'OTHER'));
  if (late) orders.push(orderOutcome(due + 2 * DAY, orders.length + 1, 'OVERDUE'));

  const evaluation = o.evaluate
    ? {
        at: concludedAt + r.int(1, 3) * DAY,
        score:
          Math.round(
            (72 +
              r.next() * 28 -
              (late ? 15 : 0) -
              (penalty?.anomaly ? 10 : 0) -
              orders.length * 3) *
              100,
          ) / 100,
      }
    : null;

  return {
    index,
    caseId: `${o.prefix}-${String(index).padStart(6, '0')}`,
    agency,
    district,
    violationCode,
    organization,
    registeredMajor,
    registeredAt,
    dispatchedAt: at(0.02),
    officers: [officerId(first), officerId(second)],
    unitId: `${agency.id}-u${unitNo}`,
    inspectionAt: at(0.08),
    evidenceAt: r.chance(0.5) ? [at(0.15), at(0.3)] : [at(0.2)],
    noticeAt: at(0.5),
    hearing: hearingDue ? { at: at(0.65), waived: r.chance(0.6) } : null,
    legalReviewAt: major ? at(0.75) : null,
    extension,
    dueAt,
    penalty,
    conclusion,
    concludedAt,
    orders,
    evaluation,
  };
}

export type ReviewRole =
  'CORRECTED' | 'NOT_CORRECTED' | 'CONCLUDED_NEXT_YEAR' | 'PENDING' | 'NOT_ACCEPTED';

export const CORRECTIONS = [
  'REVOKED',
  'CHANGED',
  'CONFIRMED_ILLEGAL',
  'ORDERED_TO_PERFORM',
] as const;
export const NON_CORRECTIONS = ['UPHELD', 'DISMISSED', 'TERMINATED'] as const;

/** An administrative reconsideration of one penalized case. */
export interface ReviewPlan {
  readonly caseId: string;
  readonly enforcementCase: CasePlan;
  readonly role: ReviewRole;
  readonly filedAt: number;
  readonly acceptedAt: number | null;
  readonly concluded: {
    readonly at: number;
    readonly outcome: (typeof CORRECTIONS)[number] | (typeof NON_CORRECTIONS)[number];
  } | null;
}

export function planReview(
  o: PlanOptions,
  k: number,
  role: ReviewRole,
  target: CasePlan,
): ReviewPlan {
  const r = new Random(seedOf(o.seed, o.year, 'review', k));
  const decidedAt = target.penalty?.at ?? target.concludedAt;
  const filedAt = Math.max(decidedAt, target.concludedAt) + r.int(3, 12) * DAY + r.int(1, 8) * HOUR;
  const acceptedAt = role === 'NOT_ACCEPTED' ? null : filedAt + r.int(2, 5) * DAY;
  const caseId = `${o.prefix}-R${String(k).padStart(5, '0')}`;
  if (acceptedAt === null || role === 'PENDING')
    return { caseId, enforcementCase: target, role, filedAt, acceptedAt, concluded: null };
  const concludedAt =
    role === 'CONCLUDED_NEXT_YEAR'
      ? cityDate(o.year + 1).getTime() + r.int(5, 40) * DAY + r.int(1, 8) * HOUR
      : acceptedAt + r.int(15, 40) * DAY;
  const outcome = role === 'CORRECTED' ? r.pick(CORRECTIONS) : r.pick(NON_CORRECTIONS);
  return {
    caseId,
    enforcementCase: target,
    role,
    filedAt,
    acceptedAt,
    concluded: { at: concludedAt, outcome },
  };
}
