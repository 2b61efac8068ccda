import type { events } from '@enforcement/contracts';
import type { Action } from '../domain/rules.js';
import type { CaseView, OrderView } from '../domain/case-view.js';
import type { RollupPageRow } from '../domain/rollups.js';

export type { RollupPageRow };
import type { CaseScoreResult } from '../domain/scoring-model.js';

/**
 * A case as its partition's writer stores it: the view its events give, and
 * what the writer needs to go on. Nothing the scoring model works out from
 * the view is stored (layout 12): its score and its rollup contribution are
 * worked out again when needed.
 */
export interface CaseRecord {
  _id: string;
  rev: number;
  view: CaseView;
  pending: unknown[];
  parked: boolean;
  parkReason: string;
  held: string[];
  /**
   * The end of the case's partition (Kafka's high watermark) when an
   * operator last released the case from a park: its messages at offsets
   * below it may have been held by a try whose rollup pages landed, so
   * applied after the release they count by version (`released`), not on
   * the partition's pages by offset.
   */
  releasedBelow?: number;
  /**
   * The shares of the case's messages that counted by version (a release's,
   * and those below `releasedBelow`): their sum per rollup page key, and
   * the latest version among them. It rides on the partition's correction
   * pages as the case's release part (see `releasePartIdOf`).
   */
  released?: { v: number; rows: Record<string, RollupPageRow[]> };
  /**
   * The offsets of the case's undecodable messages already dead-lettered:
   * a redelivery of one (a chunk whose offsets were not committed, replayed
   * after a crash or after the case's release) is a duplicate, not a new
   * poison that parks the case again.
   */
  deadLettered?: number[];
  /**
   * The highest of the case's own versions that a poison was (an event
   * this version of scoring cannot decode whole or apply): it never reaches
   * the case from the partition, so the case's release fills it, and what
   * follows it, from intake's history, even when nothing held waits for it.
   */
  lacks?: number;
  /** When the supervision rules next have something to do on the case (ms); null: nothing. */
  timer?: number | null;
  /**
   * The rules' actions in the case's history that it no longer calls for
   * (`unwarrantedActions`: late data took their condition away), as of the
   * record; each is reported once, when it first appears.
   */
  unwarranted?: string[];
  /** The page that holds the record (set by the store; absent: not stored yet). */
  page?: string;
  /** When the record was last written. */
  updatedAt?: Date;
}

/** Where projections live; the MongoDB adapter implements it. */
export interface ProjectionStore {
  /** The stored records of these cases; absent ones are left out. */
  getCases(caseIds: readonly string[]): Promise<Map<string, CaseRecord>>;
  /**
   * The records of these cases of a partition, as its writer holds them
   * (the one consumer of the partition); absent ones are left out.
   */
  casesForWrite(partition: number, caseIds: readonly string[]): Promise<Map<string, CaseRecord>>;
  /**
   * Writes a partition's changed records, together; throws a conflict error
   * when what they were read from changed meanwhile (and forgets what it held).
   * `rolled` names the page keys whose rollup or correction pages of the
   * partition the batch wrote, or would have written but for what they
   * already held (a replay after a crash between the writes): their
   * partition's rolled mark moves, which tells readers to read those pages
   * again. It is written after the pages, so a reader that sees it move
   * reads pages at least as new.
   */
  writeCases(
    partition: number,
    records: readonly CaseRecord[],
    rolled?: readonly string[],
  ): Promise<void>;
  /** Whatever the store holds for the writer may be stale: read again. */
  forget(): void;
  /** These rollup pages as stored; absent ones are left out. */
  rollupPages(ids: readonly { id: string; listKey: string }[]): Promise<Map<string, RollupPage>>;
  /**
   * Writes each page whole, provided it still holds the mark it was read
   * with (`fromMark`; -1 for a new page); throws a conflict error when one
   * moved meanwhile.
   */
  writeRollupPages(writes: readonly RollupPageWrite[]): Promise<void>;
  /**
   * Puts corrected cases' parts on the partition's correction pages (page
   * key → parts; `correctionPageIdOf`): each part replaces the case's part
   * the page holds at an earlier version, and is left where the page holds
   * the case at its version or a later one. Throws a conflict error when a
   * page moved while it was read and written.
   */
  writeCorrections(
    partition: number,
    parts: ReadonlyMap<string, readonly CorrectionPart[]>,
  ): Promise<void>;
  /**
   * Stores these orders as they now are (each by case and order id), in one
   * round trip; an order already stored from a later version of its case
   * keeps that state (a writer that lost the partition, a replay).
   */
  upsertOrders(writes: readonly CaseOrders[]): Promise<void>;
  /** Leaves corrections for the partitions that own their cases (idempotent, by review id). */
  requestCorrections(requests: readonly CorrectionRequest[]): Promise<void>;
  /** The corrections waiting for this partition's consumer. */
  correctionsFor(partition: number): Promise<CorrectionRequest[]>;
  /** Corrections applied: their requests go. */
  correctionsDone(reviewIds: readonly string[]): Promise<void>;
  /**
   * A left release refused for a reason that names a rule: noted on its
   * request for the instance that asked to answer, and no longer handed out
   * by `correctionsFor`.
   */
  correctionRefused(id: string, refusal: Refusal): Promise<void>;
}

/** Why a left release was refused: a rule's code and its words. */
export interface Refusal {
  readonly code: string;
  readonly message: string;
}

/**
 * A review corrected a decision of another case. The review's partition may
 * not write that case's record (its own partition's consumer does, alone),
 * so it leaves this for it.
 */
export interface CorrectionRequest {
  /** The review case that corrected the decision. */
  readonly _id: string;
  readonly target: string;
  /** The case-events partition the target's events go to. */
  readonly partition: number;
  /**
   * Not a correction: a release of the parked target, asked of an instance
   * that does not apply its partition (`_id` is `release/<case id>`).
   */
  readonly release?: boolean;
  /** A release the applying instance refused, and why (see `correctionRefused`). */
  readonly refused?: Refusal;
}

/**
 * One writer's rows of every listing of a period (officers, units,
 * agencies, districts, domains): `<kind>|<period>|p<n>`. Only that writer
 * (a partition's consumer) writes it, whole, once per chunk, with the
 * highest offset it applied (`hw`): a replayed offset is not counted
 * again. A partition's correction page of a page key holds what its
 * corrected cases' corrections change (each as of a version of the case);
 * its `hw` counts its writes. Readers add the writers' rows up.
 */
export interface RollupPage {
  readonly _id: string;
  readonly listKey: string;
  readonly hw: number;
  readonly rows: RollupPageRow[];
}

/** What the corrections of a case change on one page key's rollups, as of a version of the case. */
export interface CorrectionPart {
  readonly caseId: string;
  readonly version: number;
  readonly rows: readonly RollupPageRow[];
}

export interface RollupPageWrite {
  readonly page: RollupPage;
  readonly fromMark: number;
}

export interface DeadLetters {
  send(key: string | null, value: Buffer | null, reason: string): Promise<void>;
}

/** A case's orders that moved, as they stand at the case's `caseVersion`. */
export interface CaseOrders {
  readonly caseId: string;
  readonly agencyId: string;
  readonly caseVersion: number;
  readonly orders: readonly OrderView[];
  /**
   * The rules' actions in the case's history that it no longer calls for
   * (`unwarrantedActions`), on these orders or others; absent: none.
   */
  readonly unwarranted?: readonly string[];
}

/** Where a chunk's changes go for live watchers: each list together, once the chunk is written. */
export interface ScoreSink {
  changed(scores: readonly (readonly [CaseView, CaseScoreResult])[]): void;
  /** Orders opened, escalated or answered, per case, as they stand now. */
  ordersChanged(changes: readonly CaseOrders[]): void;
}

/** One rule action on one case; an evaluation carries its score. */
export interface SupervisionItem {
  readonly caseId: string;
  readonly action: Action;
  readonly score?: CaseScoreResult;
  /**
   * The case's version the action was judged on: intake refuses it (ABORTED)
   * when the case holds events the rules have not seen, recorded but not yet
   * published or applied; the next pass judges again with them.
   */
  readonly expectedVersion: number;
}

/** What intake said of one item: done (accepted, or there already), or refused with its code. */
export type ItemOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly retry: boolean; readonly code: string; readonly reason: string };

/** The supervision side of case-intake: the rules close the loop through it. */
export interface IntakeCommands {
  /** Sends the items in order, in one stream; one outcome per item. */
  supervise(items: readonly SupervisionItem[]): Promise<ItemOutcome[]>;
}

/**
 * A case's stored history, to fill a gap when a held case is released; none
 * for a case intake does not hold.
 */
export interface History {
  read(caseId: string, fromVersion: number): Promise<events.CaseEvent[]>;
}

export interface Clock {
  now(): Date;
}
