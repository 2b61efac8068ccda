import { intake } from '@enforcement/contracts';
import { cityDate } from '@enforcement/reference-data';
import { caseCommands, reviewCommands, type Timed } from './commands.js';
import { MinHeap } from './heap.js';
import { DAY, planCase, planReview, type PlanOptions, type ReviewRole } from './plan.js';
import { Random, seedOf } from './random.js';
import { TruthCounter, type GroundTruth } from './truth.js';

export interface YearOptions {
  /** Same seed, same year: every command identical. */
  readonly seed?: string;
  readonly year?: number;
  /** Enforcement cases registered in the year. */
  readonly cases?: number;
  /** Case ids start with it; defaults to `LZ<year>`. */
  readonly prefix?: string;
  /** Include case evaluations (when no scoring service records them). */
  readonly evaluate?: boolean;
  /** The year's reconsideration figures; the city's 2021 report by default. */
  readonly reconsideration?: {
    readonly accepted: number;
    readonly concluded: number;
    readonly corrected: number;
    /** Filed but not accepted. */
    readonly notAccepted: number;
  };
}

/** Liuzhou's 2021 rule-of-law report: 463 accepted, 403 concluded, 81 corrected. */
export const RECONSIDERATION_2021 = {
  accepted: 463,
  concluded: 403,
  corrected: 81,
  notAccepted: 20,
};

/** The cases a year of the seed's size holds: RECONSIDERATION_2021 belongs to it. */
export const SEED_YEAR_CASES = 10_000;

/**
 * Reconsiderations in the seed's proportions (463 accepted : 403 concluded :
 * 81 corrected : 20 not accepted), `accepted` of them.
 */
export function reconsiderationsOf(accepted: number): Required<YearOptions>['reconsideration'] {
  if (!Number.isInteger(accepted) || accepted < 0)
    throw new RangeError(`reconsiderations must be a whole number, got ${accepted}`);
  const r = accepted / RECONSIDERATION_2021.accepted;
  const concluded = Math.round(RECONSIDERATION_2021.concluded * r);
  return {
    accepted,
    concluded,
    corrected: Math.min(concluded, Math.round(RECONSIDERATION_2021.corrected * r)),
    notAccepted: Math.round(RECONSIDERATION_2021.notAccepted * r),
  };
}

/** The seed's reconsiderations scaled to a year of `cases` cases: 463 at the seed's 10,000. */
export const reconsiderationsForCases = (cases: number): number =>
  Math.round((RECONSIDERATION_2021.accepted * cases) / SEED_YEAR_CASES);

export interface GeneratedYear {
  readonly options: Required<YearOptions>;
  readonly truth: GroundTruth;
  readonly reviews: number;
  /** Commands (= events when all are accepted) the year holds. */
  readonly commands: number;
  /** The year's commands in the order they happen; generated as they are read. */
  stream(): Generator<intake.Command>;
}

/**
 * Plans a year: first every case's outline (to count the ground truth and
 * choose which penalties are challenged), then, when streamed, each case's
 * commands merged in time order. Memory holds the cases in flight, not the year.
 */
export function generateYear(options: YearOptions = {}): GeneratedYear {
  const year = options.year ?? 2021;
  const o: Required<YearOptions> = {
    seed: options.seed ?? 'liuzhou',
    year,
    cases: options.cases ?? 10_000,
    prefix: options.prefix ?? `LZ${year}`,
    evaluate: options.evaluate ?? false,
    reconsideration: options.reconsideration ?? RECONSIDERATION_2021,
  };
  const rc = o.reconsideration;
  if (!Number.isInteger(o.cases) || o.cases < 1)
    throw new RangeError(`cases must be a positive integer, got ${o.cases}`);
  if (rc.corrected > rc.concluded || rc.concluded > rc.accepted)
    throw new RangeError('reconsideration: corrected <= concluded <= accepted');
  const latest = cityDate(year + 1, 7).getTime();
  if (latest > Date.now())
    throw new RangeError(
      `year ${year} is not over long enough: its cases run until ${new Date(latest).toISOString()}`,
    );
  const plan: PlanOptions = o;

  const truth = new TruthCounter(year);
  const yearEnd = cityDate(year + 1).getTime();
  const early: number[] = [];
  const late: number[] = [];
  let commands = 0;
  for (let i = 0; i < o.cases; i++) {
    const p = planCase(plan, i);
    truth.addCase(p);
    commands += caseCommands(p).length;
    if (!p.penalty) continue;
    if (p.concludedAt <= yearEnd - 75 * DAY) early.push(i);
    else if (p.concludedAt >= yearEnd - 60 * DAY && p.concludedAt <= yearEnd - 20 * DAY)
      late.push(i);
  }
  const r = new Random(seedOf(o.seed, year, 'reviews'));
  r.shuffle(early);
  r.shuffle(late);
  const carried = rc.accepted - rc.concluded;
  const wanted: [ReviewRole, number, number[]][] = [
    ['CORRECTED', rc.corrected, early],
    ['NOT_CORRECTED', rc.concluded - rc.corrected, early],
    ['NOT_ACCEPTED', rc.notAccepted, early],
    ['CONCLUDED_NEXT_YEAR', Math.ceil(carried / 2), late],
    ['PENDING', Math.floor(carried / 2), late],
  ];
  // In these proportions, how many reconsiderations the year's penalties can carry.
  const fit = Math.floor(
    Math.min(
      rc.accepted * (early.length / Math.max(1, rc.concluded + rc.notAccepted)),
      carried > 0 ? rc.accepted * (late.length / carried) : Infinity,
    ),
  );
  const roles = new Map<number, ReviewRole>();
  for (const [role, count, pool] of wanted) {
    if (pool.length < count)
      throw new RangeError(
        `${o.cases} cases are too few for ${rc.accepted} reconsiderations: not enough penalized cases to challenge (${role}); at most about ${fit} fit`,
      );
    for (const i of pool.splice(0, count)) roles.set(i, role);
  }
  const reviewOf = new Map<number, { k: number; role: ReviewRole }>();
  [...roles.keys()]
    .sort((a, b) => a - b)
    .forEach((i, k) => reviewOf.set(i, { k: k + 1, role: roles.get(i) as ReviewRole }));
  for (const [i, { k, role }] of reviewOf) {
    const v = planReview(plan, k, role, planCase(plan, i));
    truth.addReview(v);
    commands += reviewCommands(v).length;
  }

  return {
    options: o,
    truth: truth.truth,
    reviews: reviewOf.size,
    commands,
    *stream() {
      // Commands wait in the heap encoded (about a tenth of their size as objects):
      // memory holds the cases in flight, compactly, not the year.
      let seq = 0;
      const heap = new MinHeap<{ at: number; seq: number; bytes: Uint8Array }>(
        (a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq),
      );
      const push = (ts: Timed[]) =>
        ts.forEach((t) =>
          heap.push({ at: t.at, seq: seq++, bytes: intake.Command.encode(t.command).finish() }),
        );
      for (let i = 0; i < o.cases; i++) {
        const p = planCase(plan, i);
        for (let top = heap.peek(); top && top.at <= p.registeredAt; top = heap.peek()) {
          heap.pop();
          yield intake.Command.decode(top.bytes);
        }
        push(caseCommands(p));
        const review = reviewOf.get(i);
        if (review) push(reviewCommands(planReview(plan, review.k, review.role, p)));
      }
      for (let top = heap.pop(); top; top = heap.pop()) yield intake.Command.decode(top.bytes);
    },
  };
}
