import { createHash } from 'node:crypto';
import type { reporting } from '@enforcement/contracts';
import { cityDate, cityDaysBetween } from '@enforcement/reference-data';
import { forEachDate, type CaseFacts, type Stamp } from './facts.js';

export type Grouping = 'NONE' | 'AGENCY' | 'DISTRICT' | 'DOMAIN' | 'MONTH';
export const GROUPINGS: readonly Grouping[] = ['NONE', 'AGENCY', 'DISTRICT', 'DOMAIN', 'MONTH'];

/** One row of the annual statistics, as the contract defines it. */
export type Figures = reporting.Statistics;

/**
 * Which clock the as-of moment is read on. RECORDED: what had been recorded
 * by then. OCCURRED: what had happened by then, as recorded up to
 * `recordedThroughMs` (acts reported late are put back where they happened).
 */
export type Basis = 'RECORDED' | 'OCCURRED';

export interface AnnualStatistics {
  year: number;
  /** The moment the figures are taken at (ms since epoch), on `basis`'s clock. */
  asOfMs: number;
  basis: Basis;
  /** Facts recorded at or before this moment are counted; `asOfMs` on the RECORDED basis. */
  recordedThroughMs: number;
  /** The highest event position among the facts counted. */
  position: number;
  overall: Figures;
  groups: Record<Exclude<Grouping, 'NONE'>, Figures[]>;
}

const DOMAIN_KEYS: Record<number, string> = {
  1: 'ENVIRONMENT',
  2: 'PUBLIC_SECURITY',
  3: 'HEALTH',
  4: 'AGRICULTURE',
  5: 'WATER',
  6: 'MARKET_REGULATION',
  7: 'URBAN_MANAGEMENT',
  8: 'TRANSPORT',
  9: 'NATURAL_RESOURCES',
};
export const domainKey = (domain: number): string => DOMAIN_KEYS[domain] ?? 'UNSPECIFIED';

/** Handling days counted in an array, per tally: more (a case open for over ten years) are counted apart. */
const DAYS_HELD = 4_000;

/** Integer counters: sums are exact, so the figures do not depend on the order facts arrive in. */
class Tally {
  registered = 0;
  registeredConcluded = 0;
  registeredConcludedInYear = 0;
  concluded = 0;
  concludedOnTime = 0;
  /**
   * How many concluded cases took each number of days (index: days), so the
   * mean and the 90th percentile need no list of them; `daysBeyond` holds
   * any count outside the array's reach (a case concluded over DAYS_HELD
   * days after it was registered).
   */
  private daysTaken = new Uint32Array(0);
  private readonly daysBeyond = new Map<number, number>();
  private handled = 0;
  private handlingDaysSum = 0;
  overdue = 0;
  penalties = 0;
  penaltyTotalFen = 0;
  anomalies = 0;
  ordersOpened = 0;
  ordersOnTime = 0;
  ordersEscalated = 0;
  ordersAwaiting = 0;
  reconsiderationsAccepted = 0;
  reconsiderationsConcluded = 0;
  reconsiderationsCorrected = 0;
  evaluated = 0;
  scoreHundredths = 0;

  /** `n` cases concluded in the year after `days` days (whole days: the sum is exact). */
  handledIn(days: number, n = 1): void {
    this.handled += n;
    this.handlingDaysSum += days * n;
    if (Number.isInteger(days) && days >= 0 && days < DAYS_HELD) {
      if (days >= this.daysTaken.length) {
        const grown = new Uint32Array(
          Math.min(DAYS_HELD, Math.max(64, days + 1, 2 * this.daysTaken.length)),
        );
        grown.set(this.daysTaken);
        this.daysTaken = grown;
      }
      this.daysTaken[days] = (this.daysTaken[days] ?? 0) + n;
    } else this.daysBeyond.set(days, (this.daysBeyond.get(days) ?? 0) + n);
  }

  /** Every number of days and how many cases took it, fewest days first. */
  private *daysCounted(): Generator<[days: number, cases: number]> {
    const beyond = [...this.daysBeyond].sort(([a], [b]) => a - b);
    let b = 0;
    for (; b < beyond.length && (beyond[b]?.[0] ?? 0) < 0; b++) yield beyond[b] as [number, number];
    for (let days = 0; days < this.daysTaken.length; days++) {
      const n = this.daysTaken[days] ?? 0;
      if (n > 0) yield [days, n];
    }
    for (; b < beyond.length; b++) yield beyond[b] as [number, number];
  }

  /** Nearest rank: the smallest number of days at or above 90% of the cases. */
  private p90HandlingDays(): number {
    const rank = Math.ceil(0.9 * this.handled);
    let seen = 0;
    for (const [days, n] of this.daysCounted()) {
      seen += n;
      if (seen >= rank) return days;
    }
    return 0;
  }

  /** Adds another tally's counts to this one's. */
  absorb(o: Tally): void {
    this.registered += o.registered;
    this.registeredConcluded += o.registeredConcluded;
    this.registeredConcludedInYear += o.registeredConcludedInYear;
    this.concluded += o.concluded;
    this.concludedOnTime += o.concludedOnTime;
    for (const [days, n] of o.daysCounted()) this.handledIn(days, n);
    this.overdue += o.overdue;
    this.penalties += o.penalties;
    this.penaltyTotalFen += o.penaltyTotalFen;
    this.anomalies += o.anomalies;
    this.ordersOpened += o.ordersOpened;
    this.ordersOnTime += o.ordersOnTime;
    this.ordersEscalated += o.ordersEscalated;
    this.ordersAwaiting += o.ordersAwaiting;
    this.reconsiderationsAccepted += o.reconsiderationsAccepted;
    this.reconsiderationsConcluded += o.reconsiderationsConcluded;
    this.reconsiderationsCorrected += o.reconsiderationsCorrected;
    this.evaluated += o.evaluated;
    this.scoreHundredths += o.scoreHundredths;
  }

  figures(key: string): Figures {
    return {
      key,
      casesRegistered: this.registered,
      casesConcluded: this.concluded,
      closureRate: ratio(this.registeredConcluded, this.registered, 4),
      meanHandlingDays: ratio(this.handlingDaysSum, this.handled, 2),
      p90HandlingDays: this.p90HandlingDays(),
      overdueCases: this.overdue,
      penalties: this.penalties,
      penaltyTotalFen: this.penaltyTotalFen,
      discretionAnomalies: this.anomalies,
      ordersOpened: this.ordersOpened,
      ordersAnsweredOnTime: this.ordersOnTime,
      ordersEscalated: this.ordersEscalated,
      reconsiderationsAccepted: this.reconsiderationsAccepted,
      reconsiderationsConcluded: this.reconsiderationsConcluded,
      reconsiderationsCorrected: this.reconsiderationsCorrected,
      correctionRate: ratio(this.reconsiderationsCorrected, this.reconsiderationsConcluded, 4),
      meanScore: ratio(this.scoreHundredths, this.evaluated * 100, 2),
      rank: 0,
      closureRateInYear: ratio(this.registeredConcludedInYear, this.registered, 4),
      onTimeRate: ratio(this.concludedOnTime, this.concluded, 4),
      ordersAwaiting: this.ordersAwaiting,
    };
  }
}

function ratio(n: number, d: number, digits: number): number {
  if (d === 0) return 0;
  const f = 10 ** digits;
  return Math.round((n / d) * f) / f;
}

/**
 * Folds case facts into one year's statistics as of a moment. Definitions
 * (docs/reporting.md): a fact counts when it was recorded at or before the
 * moment and happened in the year, on the city's calendar; each figure falls
 * in the month of the date that defines it.
 */
export class StatisticsFold {
  /** Each grouping's tallies by key (the overall one under NONE, by ''). */
  private readonly tallies: Record<Grouping, Map<string, Tally>> = {
    NONE: new Map(),
    AGENCY: new Map(),
    DISTRICT: new Map(),
    DOMAIN: new Map(),
    MONTH: new Map(),
  };
  private position = 0;
  /** Local midnight of January 1 of each month of the year, and of the next year: month m is [bounds[m], bounds[m+1]). */
  private readonly bounds: number[];
  private readonly monthTallies: Tally[];

  constructor(
    readonly year: number,
    readonly asOfMs: number,
    readonly basis: Basis = 'RECORDED',
    readonly recordedThroughMs: number = asOfMs,
    /** Whether to keep `changesAt`. */
    private readonly watching = false,
  ) {
    this.bounds = Array.from({ length: 13 }, (_, m) => cityDate(year, m + 1).getTime());
    this.monthTallies = Array.from({ length: 12 }, (_, m) =>
      this.tally('MONTH', `${year}-${String(m + 1).padStart(2, '0')}`),
    );
  }

  /** Whether a fact counts at the as-of moment: recorded by then, or happened by then and recorded since. */
  private known = (s: Stamp | undefined): s is Stamp =>
    s !== undefined &&
    s[1] <= this.recordedThroughMs &&
    (this.basis === 'RECORDED' || s[0] <= this.asOfMs);

  private inYear = (at: number): boolean =>
    at >= (this.bounds[0] ?? 0) && at < (this.bounds[12] ?? 0);

  private see(s: Stamp): void {
    if (s[2] > this.position) this.position = s[2];
  }

  private tally(grouping: Grouping, key: string): Tally {
    const held = this.tallies[grouping];
    let t = held.get(key);
    if (!t) held.set(key, (t = new Tally()));
    return t;
  }

  /** The case's tallies: overall and its group under each grouping but the month. */
  private groupsOf(f: CaseFacts): Tally[] {
    return [
      this.tally('NONE', ''),
      this.tally('AGENCY', f.agency),
      this.tally('DISTRICT', f.district),
      this.tally('DOMAIN', domainKey(f.domain)),
    ];
  }

  /** The tallies a figure dated `at` (in the year) adds to: the case's groups and the month. */
  private into(groups: Tally[], at: number): Tally[] {
    let m = 11;
    while (m > 0 && at < (this.bounds[m] ?? 0)) m--;
    const month = this.monthTallies[m];
    return month ? [...groups, month] : groups;
  }

  /**
   * Whether a fact of the case recorded by the moment is dated in the year
   * (the pages a year's cases are read from are found by every date applied).
   * A case with none counts in no figure of the year, nor in its `position`,
   * whichever page it shares. A fact recorded later does not count: it would
   * make the answer for a moment depend on what was recorded after it (a
   * review of a 2020 case concluded in 2021 put the case's 2020 stamps into
   * the 2021 position as of moments before the conclusion was recorded).
   */
  private dated(f: CaseFacts): boolean {
    let found = false;
    forEachDate(f, (at, recordedMs) => {
      found ||= recordedMs <= this.recordedThroughMs && this.inYear(at);
    });
    return found;
  }

  /**
   * The earliest moment after this fold's at which a fact it was given could
   * change its answer; Infinity while none could. Asked as of any moment
   * from `asOfMs` and `recordedThroughMs` up to (not at) it, the same facts
   * give the same figures: every figure compares a fact's occurrence or
   * recording, a deadline (a case is overdue once past it) or an order's
   * response deadline with those two moments, so it can only change when one
   * of them reaches such a moment. Kept only when the fold was made with
   * `watch` (it reads every case's moments once more).
   */
  get changesAt(): number {
    return this.nextChange;
  }

  private nextChange = Infinity;

  /** Notes the moments at which the case's facts could change the answer (see `changesAt`). */
  private watch(f: CaseFacts): void {
    const from = Math.min(this.asOfMs, this.recordedThroughMs);
    // Plain loops, not forEachStamp's callbacks: this runs for every case of every fold as of now.
    let next = this.nextChange;
    const at = (s: Stamp | undefined) => {
      if (!s) return;
      if (s[0] > from && s[0] < next) next = s[0];
      if (s[1] > from && s[1] < next) next = s[1];
    };
    at(f.reg);
    at(f.concluded);
    at(f.penalty?.at);
    at(f.accepted);
    at(f.reviewConcluded?.at);
    if (f.due)
      for (const d of f.due) {
        // Its stamp (as dueStamp reads it), and overdue once past it (`due < asOf`).
        const occurred = d[3] ?? d[1];
        if (occurred > from && occurred < next) next = occurred;
        if (d[1] > from && d[1] < next) next = d[1];
        if (d[0] + 1 > from && d[0] + 1 < next) next = d[0] + 1;
      }
    if (f.orders)
      for (const o of f.orders) {
        at(o.opened);
        at(o.answered);
        at(o.escalated);
        // Awaiting its answer while before its response deadline (`dueMs > asOf`).
        if (o.dueMs > from && o.dueMs < next) next = o.dueMs;
      }
    if (f.evaluations) for (const e of f.evaluations) at(e.at);
    this.nextChange = next;
  }

  /**
   * Adds another fold's counts to this one's. Folds of disjoint sets of
   * cases, of one year and basis, each as of a moment its answer still
   * stands at (up to its `changesAt`), absorbed into one give what one fold
   * of all the cases as of that moment gives.
   */
  absorb(o: StatisticsFold): void {
    if (o.year !== this.year || o.basis !== this.basis)
      throw new Error('a fold absorbs folds of its own year and basis only');
    for (const g of GROUPINGS) for (const [key, t] of o.tallies[g]) this.tally(g, key).absorb(t);
    if (o.position > this.position) this.position = o.position;
    if (o.nextChange < this.nextChange) this.nextChange = o.nextChange;
  }

  add(f: CaseFacts): void {
    if (this.watching) this.watch(f);
    if (!this.known(f.reg) || !this.dated(f)) return;
    forEachStamp(f, (s) => {
      if (this.known(s)) this.see(s);
    });
    // The case's group tallies are made when it first counts in the year.
    let g: Tally[] | undefined;
    const groups = () => (g ??= this.groupsOf(f));
    if (f.kind === 'E') this.addEnforcement(f, f.reg, groups);
    else if (f.kind === 'R') this.addReconsideration(f, groups);
  }

  private addEnforcement(f: CaseFacts, reg: Stamp, groups: () => Tally[]): void {
    const concluded = this.known(f.concluded) ? f.concluded : undefined;
    // The deadline in force as of the moment.
    const due = (f.due ?? []).filter((d) => this.known(dueStamp(d))).at(-1)?.[0];
    if (this.inYear(reg[0]))
      for (const t of this.into(groups(), reg[0])) {
        t.registered++;
        if (concluded) t.registeredConcluded++;
        if (concluded && this.inYear(concluded[0])) t.registeredConcludedInYear++;
      }
    if (concluded && this.inYear(concluded[0])) {
      const evaluation = (f.evaluations ?? []).filter((e) => this.known(e.at)).at(-1);
      const onTime = due === undefined || concluded[0] <= due;
      const days = cityDaysBetween(reg[0], concluded[0]);
      for (const t of this.into(groups(), concluded[0])) {
        t.concluded++;
        if (onTime) t.concludedOnTime++;
        t.handledIn(days);
        if (evaluation) {
          t.evaluated++;
          t.scoreHundredths += evaluation.scoreHundredths;
        }
      }
    }
    // Overdue once the deadline passed without a conclusion before it.
    if (
      due !== undefined &&
      this.inYear(due) &&
      (concluded ? concluded[0] > due : due < this.asOfMs)
    )
      for (const t of this.into(groups(), due)) t.overdue++;
    const penalty = f.penalty;
    if (penalty && this.known(penalty.at) && this.inYear(penalty.at[0]))
      for (const t of this.into(groups(), penalty.at[0])) {
        t.penalties++;
        t.penaltyTotalFen += penalty.fineFen;
        if (penalty.anomaly) t.anomalies++;
      }
    for (const o of f.orders ?? []) {
      if (!this.known(o.opened) || !this.inYear(o.opened[0])) continue;
      const escalated = this.known(o.escalated);
      const answered = this.known(o.answered) ? o.answered : undefined;
      const onTime = !escalated && answered !== undefined && answered[0] <= o.dueMs;
      // Still in its response window: neither on time nor late yet (as the live score reads it).
      const awaiting = !escalated && answered === undefined && o.dueMs > this.asOfMs;
      for (const t of this.into(groups(), o.opened[0])) {
        t.ordersOpened++;
        if (escalated) t.ordersEscalated++;
        if (onTime) t.ordersOnTime++;
        if (awaiting) t.ordersAwaiting++;
      }
    }
  }

  private addReconsideration(f: CaseFacts, groups: () => Tally[]): void {
    if (this.known(f.accepted) && this.inYear(f.accepted[0]))
      for (const t of this.into(groups(), f.accepted[0])) t.reconsiderationsAccepted++;
    const c = f.reviewConcluded;
    if (c && this.known(c.at) && this.inYear(c.at[0]))
      for (const t of this.into(groups(), c.at[0])) {
        t.reconsiderationsConcluded++;
        if (c.corrected) t.reconsiderationsCorrected++;
      }
  }

  result(): AnnualStatistics {
    const rows = (grouping: Grouping): Figures[] => {
      const held = this.tallies[grouping];
      const keys = [...held.keys()];
      if (grouping === 'MONTH')
        for (let m = 1; m <= 12; m++) keys.push(`${this.year}-${String(m).padStart(2, '0')}`);
      const figures = [...new Set(keys)]
        .filter((k) => grouping !== 'MONTH' || k.startsWith(`${this.year}-`))
        .sort()
        .map((k) => (held.get(k) ?? new Tally()).figures(k));
      return ranked(figures, (id) => held.get(id)?.evaluated ?? 0);
    };
    return {
      year: this.year,
      asOfMs: this.asOfMs,
      basis: this.basis,
      recordedThroughMs: this.recordedThroughMs,
      position: this.position,
      overall: (this.tallies.NONE.get('') ?? new Tally()).figures(''),
      groups: {
        AGENCY: rows('AGENCY'),
        DISTRICT: rows('DISTRICT'),
        DOMAIN: rows('DOMAIN'),
        MONTH: rows('MONTH'),
      },
    };
  }
}

/** Rank 1 is the best mean score; groups nobody evaluated are not ranked (0). Ties share a rank. */
function ranked(rows: Figures[], evaluated: (key: string) => number): Figures[] {
  const scored = rows
    .filter((r) => evaluated(r.key) > 0)
    .sort((a, b) => b.meanScore - a.meanScore || a.key.localeCompare(b.key));
  const rank = new Map<string, number>();
  scored.forEach((r, i) => {
    const prev = scored[i - 1];
    rank.set(r.key, prev && prev.meanScore === r.meanScore ? (rank.get(prev.key) ?? i + 1) : i + 1);
  });
  return rows.map((r) => ({ ...r, rank: rank.get(r.key) ?? 0 }));
}

/** A deadline's setting as a stamp: when it happened (its recording, in facts stored before that was kept). */
const dueStamp = (d: NonNullable<CaseFacts['due']>[number]): Stamp => [d[3] ?? d[1], d[1], d[2]];

function forEachStamp(f: CaseFacts, see: (s: Stamp) => void): void {
  if (f.reg) see(f.reg);
  if (f.due) for (const d of f.due) see(dueStamp(d));
  if (f.concluded) see(f.concluded);
  if (f.penalty) see(f.penalty.at);
  if (f.orders)
    for (const o of f.orders) {
      see(o.opened);
      if (o.answered) see(o.answered);
      if (o.escalated) see(o.escalated);
    }
  if (f.evaluations) for (const e of f.evaluations) see(e.at);
  if (f.accepted) see(f.accepted);
  if (f.reviewConcluded) see(f.reviewConcluded.at);
}

/** SHA-256 over the canonical figures: equal digests, equal figures. */
export function digestOf(s: AnnualStatistics, grouping: Grouping | 'ALL'): string {
  const body =
    grouping === 'ALL'
      ? { year: s.year, overall: s.overall, groups: s.groups }
      : {
          year: s.year,
          grouping,
          overall: s.overall,
          groups: grouping === 'NONE' ? [] : s.groups[grouping],
        };
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}
