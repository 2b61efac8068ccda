/**
 * A case held in a partition of the submissions topic: a submission of it
 * (at offset `from`) was refused ABORTED (it expected a version the case is
 * no longer at, or other writers kept changing the case), and every later
 * submission of the case, or challenging it, was meant to follow that one.
 * None runs until the refused command comes again, by its id; that one
 * runs, and releases the hold (`until`, its offset).
 */
export interface CaseHold {
  readonly commandId: string;
  readonly from: number;
  /** The offset of the submission that released it; undefined while it holds. */
  readonly until?: number;
}

/**
 * The holds of the partitions an ingress reads. A hold is kept by offsets,
 * not by the order submissions happen to be processed in: read again after
 * a failure or a rebalance, from an earlier offset, each submission meets
 * the hold it met the first time (one before `from`, or from `until` on,
 * runs; one between them is refused). So a case keeps each of its holds,
 * released ones too, until the partition's committed offset passes its end
 * (`prune`).
 */
export class CaseHolds {
  /** Partition → case → its holds, by where they start. */
  private readonly byPartition = new Map<number, Map<string, CaseHold[]>>();

  /**
   * What is known of `partition` now (from the ledger, at a join); replaces
   * what this instance knew. A case and a command are named as stored,
   * without the white space at their ends; holds recorded by an earlier
   * version named them as sent, and are the trimmed case's and command's.
   */
  load(partition: number, holds: ReadonlyMap<string, readonly CaseHold[]>): void {
    const cases = new Map<string, CaseHold[]>();
    for (const [caseId, hs] of holds) {
      const id = caseId.trim();
      const trimmed = hs.map((h) => ({ ...h, commandId: h.commandId.trim() }));
      cases.set(
        id,
        [...(cases.get(id) ?? []), ...trimmed].sort((a, b) => a.from - b.from),
      );
    }
    this.byPartition.set(partition, cases);
  }

  /** Drops the partitions not in `mine` (another instance reads them now). */
  keepOnly(mine: ReadonlySet<number>): void {
    for (const p of this.byPartition.keys()) if (!mine.has(p)) this.byPartition.delete(p);
  }

  /** Drops the released holds of `partition` that no submission from `committed` on can meet. */
  prune(partition: number, committed: number): void {
    const cases = this.byPartition.get(partition);
    if (!cases) return;
    for (const [caseId, hs] of cases) {
      const kept = hs.filter((h) => h.until === undefined || h.until >= committed);
      if (kept.length > 0) cases.set(caseId, kept);
      else cases.delete(caseId);
    }
  }

  /** The case's hold that started last at or before `offset` (`strictly`: before it). */
  private latest(partition: number, caseId: string, offset: number, strictly: boolean) {
    const hs = this.byPartition.get(partition)?.get(caseId) ?? [];
    let found: CaseHold | undefined;
    for (const h of hs) if (h.from < offset || (!strictly && h.from === offset)) found = h;
    return found;
  }

  /**
   * The case and hold that keep the submission at `offset` of `caseId`
   * (challenging `target`, for a reconsideration) from running; undefined
   * when it runs. The held command itself, come again, runs.
   */
  holding(
    partition: number,
    offset: number,
    caseId: string,
    target: string,
    commandId: string,
  ): { caseId: string; hold: CaseHold } | undefined {
    for (const id of [caseId, target]) {
      const hold = id ? this.latest(partition, id, offset, true) : undefined;
      if (!hold || (hold.until !== undefined && offset >= hold.until)) continue;
      if (id === caseId && commandId === hold.commandId) continue;
      return { caseId: id, hold };
    }
    return undefined;
  }

  /**
   * A submission of `caseId` at `offset` ran: refused ABORTED (`aborted`) or
   * not. Returns the case's holds this submission decides (to record): a
   * refusal holds the case from it (the held command refused again ends the
   * hold there and starts another), and the held command taken, or the
   * refused submission read again and taken, releases it. Read again, it
   * returns them again, changed or not: the record of its first reading
   * may have failed, and the hold would be lost to the ledger.
   */
  ran(
    partition: number,
    offset: number,
    caseId: string,
    commandId: string,
    aborted: boolean,
  ): CaseHold[] {
    let cases = this.byPartition.get(partition);
    if (!cases) this.byPartition.set(partition, (cases = new Map()));
    const hs = cases.get(caseId) ?? [];
    const hold = this.latest(partition, caseId, offset, false);
    const open = hold !== undefined && hold.until === undefined;
    const set = (h: CaseHold) => {
      const i = hs.findIndex((x) => x.from === h.from);
      if (i >= 0) hs[i] = h;
      else hs.push(h);
    };
    if (hold?.from === offset) {
      // The refused submission read again: refused again, it holds as it did.
      if (!aborted && open) set({ ...hold, until: offset });
    } else if (aborted) {
      if (open) set({ ...hold, until: offset });
      set({ commandId, from: offset });
    } else if (open && hold.commandId === commandId) set({ ...hold, until: offset });
    hs.sort((a, b) => a.from - b.from);
    if (hs.length > 0) cases.set(caseId, hs);
    return hs.filter((h) => h.from === offset || h.until === offset);
  }
}

const OFFSET_DIGITS = 16;

/**
 * Where a hold ends and what it waits for, as one string that sorts as a
 * hold of a given start changes (`$max` in the ledger): open before released.
 */
export function encodeHold(h: CaseHold): string {
  return `${h.until === undefined ? '-' : String(h.until).padStart(OFFSET_DIGITS, '0')}|${h.commandId}`;
}

/** The encoded states (`encodeHold`) of holds released before `offset`: from `lowest` on, below `below`. */
export function releasedBefore(offset: number): { lowest: string; below: string } {
  // Open holds begin with '-', which sorts before every digit.
  return { lowest: '0'.repeat(OFFSET_DIGITS), below: String(offset).padStart(OFFSET_DIGITS, '0') };
}

/** The hold starting at `from` that `encodeHold` gave `s`. */
export function decodeHold(from: number, s: string): CaseHold | undefined {
  const m = /^(-|\d+)\|(.*)$/s.exec(s);
  if (!m) return undefined;
  const [, until, commandId] = m;
  return { commandId: commandId ?? '', from, ...(until === '-' ? {} : { until: Number(until) }) };
}
