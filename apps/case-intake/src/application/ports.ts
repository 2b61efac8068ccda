import type { events } from '@enforcement/contracts';

export type CaseEvent = events.CaseEvent;

/** One command's events, written together or not at all. */
export interface Commit {
  readonly caseId: string;
  readonly commandId: string;
  readonly fromVersion: number;
  readonly toVersion: number;
  readonly events: readonly CaseEvent[];
}

export interface LoadedStream {
  readonly caseId: string;
  readonly version: number;
  readonly events: readonly CaseEvent[];
  readonly commits: readonly Commit[];
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
  load(caseId: string): Promise<LoadedStream>;
  /**
   * Stores the commit atomically, assigning global positions, or throws
   * VersionConflict when the case moved past `fromVersion - 1` meanwhile.
   * The returned events carry their positions.
   */
  append(commit: Commit): Promise<Commit>;
  /** Events with position > afterPosition, in position order. */
  readAll(afterPosition: number, limit: number): AsyncIterable<CaseEvent>;
}

/** Hands stored commits to Kafka (at least once, in order per case). */
export interface Publisher {
  enqueue(commit: Commit): void;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
