import type { CaseFacts } from '../domain/facts.js';

/** A page of one partition's case facts: the cases whose first event fell in one month. */
export interface FactPage {
  readonly id: string;
  readonly month: string;
  readonly years: number[];
  readonly cases: CaseFacts[];
}

/** How far the projection has applied one partition of the case-events topic. */
export interface Progress {
  readonly partition: number;
  /** Offset of the last message applied. */
  readonly offset: number;
  /** Recording time of the last event applied (ms). */
  readonly recordedMs: number;
  /**
   * Cases of the partition whose later events wait for an earlier version
   * that has not arrived, each with when intake recorded the earliest of
   * them (ms); absent when none waits.
   */
  readonly waiting?: Readonly<Record<string, number>>;
}

/** The reporting read model: pages of case facts, written by one partition's consumer each. */
export interface FactStore {
  loadPartition(partition: number): Promise<FactPage[]>;
  loadPage(partition: number, id: string): Promise<FactPage | undefined>;
  writePages(partition: number, pages: FactPage[]): Promise<void>;
  saveProgress(p: Progress): Promise<void>;
  progress(): Promise<Progress[]>;
  /** The latest moment ever reported complete (ms), kept so a restart never lowers it. */
  loadCompleteThrough(): Promise<number>;
  saveCompleteThrough(ms: number): Promise<void>;
  /** The partitions that have pages of facts, in order. */
  partitionsWithFacts(): Promise<number[]>;
  /**
   * Calls `each` with every case that has a fact dated in the year, and the
   * partition whose pages hold it, in no particular order; only the cases of
   * `partitions` when given (none for an empty list).
   */
  forEachCaseOfYear(
    year: number,
    each: (facts: CaseFacts, partition: number) => void,
    partitions?: readonly number[],
  ): Promise<void>;
  drop(): Promise<void>;
}

export interface DeadLetters {
  send(key: string | null, value: Buffer | null, reason: string): Promise<void>;
}

/** Topic high watermarks: the offset the next message of each partition will get. */
export type HighWatermarks = () => Promise<Map<number, number>>;
