import type { FeedMark } from '@enforcement/messaging';
import type { events } from '@enforcement/contracts';
import type { Checkpoint, UnreadableCommit } from './chain.js';
import type { CaseHold } from './case-holds.js';

export type { UnreadableCommit } from './chain.js';

export type CaseEvent = events.CaseEvent;

/** One command's events, written together or not at all. */
export interface Commit {
  readonly caseId: string;
  readonly commandId: string;
  /** SHA-256 of the command as submitted (without expected_version): idempotency compares it. */
  readonly fingerprint: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly events: readonly CaseEvent[];
}

/** A stored commit that cannot be read back, met by a read that cannot go on past it (ReadAll). */
export class UnreadableCommitError extends Error {
  constructor(readonly commit: UnreadableCommit) {
    super(`case ${commit.caseId}: ${commit.problem}`);
    this.name = 'UnreadableCommitError';
  }
}

export interface LoadedStream {
  readonly caseId: string;
  /** The version of the last stored commit. */
  readonly version: number;
  /** The events, in version order, up to the first commit that cannot be read. */
  readonly events: readonly CaseEvent[];
  readonly commits: readonly Commit[];
  /** The first commit that cannot be read, if any: `events` and `commits` stop before it. */
  readonly unreadable?: UnreadableCommit;
}

export class VersionConflict extends Error {
  constructor(
    readonly caseId: string,
    readonly fromVersion: number,
  ) {
    super(`case ${caseId} already has version ${fromVersion}`);
    this.name = 'VersionConflict';
  }
}

export interface EventStore {
  /**
   * The case's history. `knownVersion`, a version the case is known to have
   * reached (its checkpoint), lets the store read it in one go.
   */
  load(caseId: string, knownVersion?: number): Promise<LoadedStream>;
  /**
   * Stores the commit atomically, assigning global positions, or throws
   * VersionConflict when the case moved past `fromVersion - 1` meanwhile.
   * The returned events carry their positions.
   */
  append(commit: Commit): Promise<Commit>;
  /** Events with position > afterPosition, in position order. */
  readAll(afterPosition: number, limit: number): AsyncIterable<CaseEvent>;
  /** Every case's stream, one after another (for the whole-store audit). */
  cases(): AsyncIterable<LoadedStream>;
}

/** The heads intake published for each case, as kept outside the database (see docs/security.md). */
export interface Checkpoints {
  get(caseId: string): Checkpoint | undefined;
  all(): Iterable<Checkpoint>;
}

/** Who was served a case's personal data, when, through which call. */
export interface AccessLog {
  /** Records reads of personal data, one entry per case read, in one write. */
  record(
    entries: readonly { subject: string; caseId: string; call: string; at: Date }[],
  ): Promise<void>;
}

/** Hands stored commits to Kafka (at least once, in order per case). */
export interface Publisher {
  enqueue(commit: Commit): void;
  /**
   * Publishes feed marks once every commit enqueued before the call is on
   * the case-events topic (so a reader that sees a mark and then the topic's
   * ends sees what it covers). Best effort: a mark lost is a clock that waits
   * for the feed's next event.
   */
  mark(marks: readonly FeedMark[]): void;
  /**
   * Resolves once every commit enqueued before the call is on the
   * case-events topic (or parked, never to be published); rejects when the
   * publisher stops first.
   */
  published(): Promise<void>;
}

/**
 * What the Kafka ingress has settled on one partition of the submissions
 * topic: every submission before `offset` is stored or refused, and its
 * events are on the case-events topic; `feeds` holds each feed's latest time
 * stored among them (ms).
 */
export interface SettledPrefix {
  readonly offset: number;
  readonly feeds: ReadonlyMap<string, number>;
  /** Cases held in the partition (see CaseHolds), by case id: each hold recorded replaces the one of the same start. */
  readonly holds: ReadonlyMap<string, readonly CaseHold[]>;
  /** The submissions refused there, by offset (see IngressRefusal). Read by `load`; `raise` leaves them. */
  readonly refusals?: ReadonlyMap<number, IngressRefusal>;
}

/** A submission the ingress refused: which it was (`<case id>|<command id>`, as stored) and its receipt (JSON). */
export interface IngressRefusal {
  readonly key: string;
  readonly receipt: string;
}

/**
 * Each partition's settled prefix, kept where every intake instance reads
 * it: one that takes a partition over marks the feeds another stored there
 * and died before marking (docs/intake.md).
 */
export interface IngressLedger {
  /** The records of these partitions; a partition never recorded is absent. */
  load(partitions: readonly number[]): Promise<Map<number, SettledPrefix>>;
  /** Raises a partition's record: its offset and each feed's time only ever go up. */
  raise(partition: number, prefix: SettledPrefix): Promise<void>;
  /**
   * Records that the submission at `offset` was refused, with its receipt
   * (JSON), before anything later of its case runs: read again after a
   * failure or a rebalance, it is answered so, not decided again on what
   * later submissions have made of its case since.
   */
  refused(partition: number, offset: number, refusal: IngressRefusal): Promise<void>;
  /**
   * Deletes the holds of these partitions released before each one's
   * committed offset (no submission read from there on can meet them; see
   * `CaseHolds.prune`) and last written before `writtenBefore` (ms): an
   * instance that lost a partition may still be finishing a batch, and its
   * write would bring a deleted hold back as that batch knew it, open
   * perhaps. Returns how many went. The refusals recorded before each
   * committed offset go too (none is read again).
   */
  forget(committed: ReadonlyMap<number, number>, writtenBefore: number): Promise<number>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
