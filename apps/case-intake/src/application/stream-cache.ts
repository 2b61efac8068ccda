import type { CaseState } from '../domain/state.js';

/** What a command needs to know about its case, without the events themselves. */
export interface CaseHead {
  readonly state: CaseState;
  readonly version: number;
  readonly headHash: string;
  /** Command ids already on the case, with the fingerprint of what each asked for ('' when not recorded). */
  readonly commandIds: ReadonlyMap<string, string>;
}

/**
 * What a head costs the heap, roughly: its strings at two bytes a character
 * (the state as JSON stands for its fields), and each command id's entry.
 * An estimate to bound the cache by, not a measurement.
 */
export function headBytes(caseId: string, head: CaseHead): number {
  let bytes = 200 + 2 * (caseId.length + head.headHash.length + JSON.stringify(head.state).length);
  for (const [id, fingerprint] of head.commandIds)
    bytes += 64 + 2 * (id.length + fingerprint.length);
  return bytes;
}

/**
 * A bounded LRU of case heads, so a busy case is not reloaded for every
 * command. Never the source of truth: a stale head loses at the store's
 * version check and is dropped. Bounded both by count and by the heads'
 * estimated bytes (`headBytes`), whichever is reached first: a case with a
 * long history costs more than one just registered.
 */
export class HeadCache {
  private readonly heads = new Map<string, { head: CaseHead; bytes: number }>();
  private total = 0;
  constructor(
    private readonly capacity: number,
    private readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  get(caseId: string): CaseHead | undefined {
    const entry = this.heads.get(caseId);
    if (entry) {
      this.heads.delete(caseId);
      this.heads.set(caseId, entry);
    }
    return entry?.head;
  }

  set(caseId: string, head: CaseHead): void {
    this.delete(caseId);
    if (this.capacity <= 0) return;
    const bytes = headBytes(caseId, head);
    this.heads.set(caseId, { head, bytes });
    this.total += bytes;
    // The oldest go first; the newest stays even when it alone is over.
    while (this.heads.size > 1 && (this.heads.size > this.capacity || this.total > this.maxBytes)) {
      const oldest = this.heads.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(caseId: string): void {
    const entry = this.heads.get(caseId);
    if (!entry) return;
    this.heads.delete(caseId);
    this.total -= entry.bytes;
  }

  get size(): number {
    return this.heads.size;
  }

  /** The estimated bytes of the heads held. */
  get bytes(): number {
    return this.total;
  }
}
