import { invalid, precondition } from '@enforcement/errors';
import { StatisticsFold, type AnnualStatistics, type Basis } from '../domain/statistics.js';
import {
  listingOrder,
  matches,
  overdueAt,
  pastCursor,
  summaryOf,
  type CaseCursor,
  type CaseFilter,
  type CaseSummary,
} from '../domain/case-list.js';
import type { CaseFacts } from '../domain/facts.js';
import type { FactStore, HighWatermarks } from './ports.js';

export interface Clock {
  now(): Date;
}

/** How many answers are kept, and for how long (ms): pages ask for several groupings of one moment at once. */
const ANSWERS_KEPT = 32;
const ANSWER_TTL_MS = 60_000;

/**
 * Questions asked as of now whose per-partition folds are kept (each holds
 * a tally per group and month per partition, its handling days in an array
 * of up to 16 KB).
 */
const QUESTIONS_FOLDED_PER_PARTITION = 8;

/** One partition's fold of a question as of now, with the partition's mark and the moment it was read at. */
interface PartFold {
  readonly mark: string;
  readonly fromMs: number;
  readonly fold: Promise<StatisticsFold>;
}

/** Whether a case is of the district and the agency asked for (any, when not named). */
const inScope = (
  facts: CaseFacts,
  only: { readonly district?: string; readonly agency?: string },
): boolean =>
  (!only.district || facts.district === only.district) &&
  (!only.agency || facts.agency === only.agency);

/** The earliest and latest years a report may be asked for. */
const YEARS = { min: 1990, max: 2999 };

/**
 * Answers for a year's statistics, as of a moment. The figures as of T count
 * the facts recorded at or before T; T may not be later than the moment up to
 * which every partition has been applied, so the same T gives the same figures
 * on every run.
 */
export class Reports {
  constructor(
    private readonly store: FactStore,
    private readonly highWatermarks: HighWatermarks,
    private readonly clock: Clock,
    /** Events reach Kafka a little after intake records them: a caught-up partition is complete up to now minus this. */
    private readonly settleMs: number,
  ) {}

  /** The highest moment answered so far; undefined until read back from the store. */
  private highest: number | undefined;

  /**
   * Every event recorded at or before this moment has been applied (ms). It
   * never goes back: once an as-of has been accepted it stays accepted, also
   * across restarts (the moment is stored before it is answered), and the
   * figures as of it are those of the facts already stored.
   */
  async completeThrough(): Promise<number> {
    this.highest ??= await this.store.loadCompleteThrough();
    const computed = await this.computeCompleteThrough();
    if (computed > this.highest) {
      await this.store.saveCompleteThrough(computed);
      this.highest = computed;
    }
    return this.highest;
  }

  private async computeCompleteThrough(): Promise<number> {
    const now = this.clock.now().getTime() - this.settleMs;
    const [high, progress] = await Promise.all([this.highWatermarks(), this.store.progress()]);
    const applied = new Map(progress.map((p) => [p.partition, p]));
    let through = now;
    for (const [partition, next] of high) {
      if (next === 0) continue;
      const p = applied.get(partition);
      const caughtUp = p !== undefined && p.offset + 1 >= next;
      // A partition still being applied holds every event that reached Kafka
      // before its last one applied, which was recorded at `recordedMs` and got
      // there no earlier: so every event recorded more than `settleMs` before
      // that moment. Not every one recorded at it: intake records a group of
      // commands at once and the chunk may have ended inside the group, and
      // instances of intake publish side by side.
      through = Math.min(
        through,
        caughtUp ? now : Math.max(0, (p?.recordedMs ?? 0) - this.settleMs - 1),
      );
    }
    return through;
  }

  /**
   * The year's statistics as of a moment. RECORDED (the default) counts what
   * had been recorded by `asOf`. OCCURRED counts what had happened by `asOf`,
   * as recorded up to `recordedThrough` (default: as far as every partition
   * is applied), so the same pair gives the same figures on every run.
   * `only` narrows the count to one district's or one agency's cases.
   */
  async statistics(
    year: number,
    asOf?: Date,
    basis: Basis = 'RECORDED',
    recordedThrough?: Date,
    only: { readonly district?: string; readonly agency?: string } = {},
  ): Promise<AnnualStatistics> {
    if (!Number.isInteger(year) || year < YEARS.min || year > YEARS.max)
      throw invalid(
        'REPORT.YEAR',
        'year',
        `must be a year between ${YEARS.min} and ${YEARS.max}, got ${year}`,
      );
    if (basis === 'RECORDED' && recordedThrough)
      throw invalid(
        'REPORT.RECORDED_THROUGH',
        'recorded_through',
        'applies to the OCCURRED basis only (on the RECORDED basis it is as_of itself)',
      );
    const through = await this.completeThrough();
    const asOfMs = this.checked(asOf, 'as_of', through) ?? through;
    const recordedMs =
      basis === 'RECORDED'
        ? asOfMs
        : (this.checked(recordedThrough, 'recorded_through', through) ?? through);
    const key = JSON.stringify([
      year,
      asOfMs,
      basis,
      recordedMs,
      only.district ?? '',
      only.agency ?? '',
    ]);
    const now = this.clock.now().getTime();
    const kept = this.answers.get(key);
    if (kept && now - kept.at < ANSWER_TTL_MS) return kept.answer;
    // Asked as of the moment everything is applied, which moves with the clock.
    const moving = !asOf && (basis === 'RECORDED' || !recordedThrough);
    const answer = moving
      ? this.current(year, through, basis, only)
      : this.folded(new StatisticsFold(year, asOfMs, basis, recordedMs), only).then((fold) =>
          fold.result(),
        );
    this.answers.set(key, { at: now, answer });
    answer.catch(() => this.answers.delete(key));
    while (this.answers.size > ANSWERS_KEPT) {
      const oldest = this.answers.keys().next().value;
      if (oldest === undefined) break;
      this.answers.delete(oldest);
    }
    return answer;
  }

  /**
   * The answer as of `through` when no moment is given (as of the moment
   * every partition is applied, which moves with the clock). The figures
   * are folded per partition of the topic, and each partition's fold is
   * kept with the partition's mark it was read at: a call reads again only
   * the partitions whose mark moved or whose fold has reached its next
   * moment (`StatisticsFold.changesAt`: a fact's occurrence or recording, a
   * deadline or a response window passing), and adds the others' folds as
   * they are. A year whose events stopped coming is read again only when
   * one of its deadlines or response windows passes; while events trickle
   * in, only the partitions they reached.
   */
  private async current(
    year: number,
    through: number,
    basis: Basis,
    only: { readonly district?: string; readonly agency?: string },
  ): Promise<AnnualStatistics> {
    const key = JSON.stringify([year, basis, only.district ?? '', only.agency ?? '']);
    // Read before the facts: a chunk applied after it moves a mark.
    const { marks } = await this.storeMarks();
    const kept = this.latest.get(key);
    const parts = new Map<number, PartFold>();
    const moved: number[] = [];
    for (const [partition, mark] of marks) {
      const was = kept?.get(partition);
      const fold =
        was && was.mark === mark && was.fromMs <= through
          ? await was.fold.catch(() => undefined)
          : undefined;
      if (was && fold && through < fold.changesAt) parts.set(partition, was);
      else moved.push(partition);
    }
    if (moved.length > 0) {
      const folds = new Map(
        moved.map((p) => [p, new StatisticsFold(year, through, basis, through, true)]),
      );
      const read = this.store.forEachCaseOfYear(
        year,
        (facts, partition) => {
          if (inScope(facts, only)) folds.get(partition)?.add(facts);
        },
        moved,
      );
      for (const [partition, fold] of folds) {
        const done = read.then(() => fold);
        // A read that fails is this call's error; the next call reads the partition again.
        done.catch(() => undefined);
        parts.set(partition, { mark: marks.get(partition) ?? '', fromMs: through, fold: done });
      }
    }
    this.latest.delete(key);
    this.latest.set(key, parts);
    while (this.latest.size > QUESTIONS_FOLDED_PER_PARTITION) {
      const oldest = this.latest.keys().next().value;
      if (oldest === undefined) break;
      this.latest.delete(oldest);
    }
    const whole = new StatisticsFold(year, through, basis, through);
    for (const part of parts.values()) whole.absorb(await part.fold);
    return whole.result();
  }

  /**
   * Per question (year, basis, district, agency), least recently asked
   * first: each partition's fold as of the moving moment.
   */
  private readonly latest = new Map<string, Map<number, PartFold>>();

  /**
   * Answers already given, by their moments: every fact recorded up to a
   * moment that has been answered is applied (completeThrough), so the same
   * moments always give the same figures, and asking again, or asking for
   * another grouping of the same moment, need not read the facts again.
   */
  private readonly answers = new Map<string, { at: number; answer: Promise<AnnualStatistics> }>();

  /** `fold` given every case of its year (of the district or agency only, when named). */
  private async folded(
    fold: StatisticsFold,
    only: { readonly district?: string; readonly agency?: string },
  ): Promise<StatisticsFold> {
    await this.store.forEachCaseOfYear(fold.year, (facts) => {
      if (inScope(facts, only)) fold.add(facts);
    });
    return fold;
  }

  /**
   * A page of the year's enforcement cases matching `filter` (or the reviews
   * about one), as they stand now, in the listing's order from the cursor's
   * place; `more` says whether any follow it, and `total` counts every match
   * of the year.
   */
  async cases(
    year: number,
    filter: CaseFilter,
    at: CaseCursor,
    limit: number,
  ): Promise<{ cases: CaseSummary[]; total: number; more: boolean }> {
    if (!Number.isInteger(year) || year < YEARS.min || year > YEARS.max)
      throw invalid(
        'REPORT.YEAR',
        'year',
        `must be a year between ${YEARS.min} and ${YEARS.max}, got ${year}`,
      );
    const now = this.clock.now().getTime();
    const rows = await this.listingOf(year);
    // The first case past the cursor: the rows are in the listing's order.
    let lo = 0;
    if (!('offset' in at)) {
      let hi = rows.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const row = rows[mid];
        if (row && !pastCursor(row, at)) lo = mid + 1;
        else hi = mid;
      }
    }
    let skip = 'offset' in at ? at.offset : 0;
    const page: CaseSummary[] = [];
    let total = 0;
    let more = false;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!row || !matches(row, filter)) continue;
      total++;
      if (i < lo) continue;
      if (skip > 0) skip--;
      else if (page.length < limit) page.push({ ...row, overdue: overdueAt(row, now) });
      else more = true;
    }
    return { cases: page, total, more };
  }

  /**
   * The year's listing last read: every case of the year summarized, in
   * the listing's order, kept per partition with the partition's progress
   * when it was read (what `overdue` says is worked out per call). Each
   * partition's pages have one writer, which saves the partition's progress
   * after its pages; so while a partition's progress has not moved, its
   * summaries stand, and a call reads again only the partitions that moved
   * (by any instance). Pages walked through a quiet year read it once; while
   * events stream in, a call reads the partitions they reached. One year is
   * kept: at 1,000,000 events (106,383 cases) the service's peak was 364 MiB
   * before any listing was kept, 379 to 418 MiB in the runs since.
   */
  private listing:
    | {
        year: number;
        stamp: string;
        parts: Map<number, { mark: string; rows: CaseSummary[] }>;
        rows: Promise<CaseSummary[]>;
      }
    | undefined;

  /**
   * Each partition's mark (the offset its progress last saved, `-` for one
   * with pages and no progress yet: its first chunk between them), and the
   * whole store's stamp made of them. Each partition's pages have one
   * writer, which saves the partition's progress after its pages: while a
   * partition's mark stands, so do its facts.
   */
  private async storeMarks(): Promise<{ marks: Map<number, string>; stamp: string }> {
    const [progress, present] = await Promise.all([
      this.store.progress(),
      this.store.partitionsWithFacts(),
    ]);
    const marks = new Map(progress.map((p) => [p.partition, String(p.offset)]));
    for (const p of present) if (!marks.has(p)) marks.set(p, '-');
    const stamp = [...marks]
      .sort(([a], [b]) => a - b)
      .map(([p, m]) => `${p}:${m}`)
      .join(',');
    return { marks, stamp };
  }

  private async listingOf(year: number): Promise<CaseSummary[]> {
    const { marks, stamp } = await this.storeMarks();
    let kept = this.listing?.year === year ? this.listing : undefined;
    if (kept && kept.stamp === stamp) return kept.rows;
    // The listing before is held only until its unmoved partitions are taken:
    // a partition read again replaces its rows, not sits beside them.
    let before = kept && { done: kept.rows, parts: kept.parts };
    kept = undefined;
    const parts = new Map<number, { mark: string; rows: CaseSummary[] }>();
    const rows = (async () => {
      let held: Map<number, { mark: string; rows: CaseSummary[] }> | undefined;
      if (before) {
        const { done, parts: old } = before;
        before = undefined;
        // Once read (a failed read holds nothing).
        held = await done.then(
          () => old,
          () => undefined,
        );
      }
      const moved: number[] = [];
      for (const [p, mark] of marks) {
        const was = held?.get(p);
        if (was?.mark === mark) parts.set(p, was);
        else {
          moved.push(p);
          parts.set(p, { mark, rows: [] });
        }
      }
      held = undefined;
      await this.store.forEachCaseOfYear(
        year,
        (facts, p) => parts.get(p)?.rows.push(summaryOf(facts, 0)),
        moved,
      );
      for (const p of moved) parts.get(p)?.rows.sort(listingOrder);
      // Sorted runs, one per partition: the sort merges them.
      return [...parts.values()].flatMap((x) => x.rows).sort(listingOrder);
    })();
    const entry = { year, stamp, parts, rows };
    this.listing = entry;
    rows.catch(() => {
      if (this.listing === entry) this.listing = undefined;
    });
    return rows;
  }

  /** A requested moment: not in the future, and not past what has been applied. */
  private checked(at: Date | undefined, field: string, through: number): number | undefined {
    if (!at) return undefined;
    const ms = at.getTime();
    if (ms > this.clock.now().getTime())
      throw invalid('REPORT.AS_OF_IN_FUTURE', field, `${at.toISOString()} is in the future`);
    if (ms > through)
      throw precondition(
        'REPORT.NOT_CAUGHT_UP',
        `${field} ${at.toISOString()} is later than the events applied so far (complete through ${new Date(through).toISOString()}); ask again shortly`,
      );
    return ms;
  }
}
