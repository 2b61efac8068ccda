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
 * A bounded LRU of case heads, so a busy case is not reloaded for every
 * command. Never the source of truth: a stale head loses at the store's
 * version check and is dropped.
 */
export class HeadCache {
  private readonly heads = new Map<string, CaseHead>();
  constructor(private readonly capacity: number) {}

  get(caseId: string): CaseHead | undefined {
    const head = this.heads.get(caseId);
    if (head) {
      this.heads.delete(caseId);
      this.heads.set(caseId, head);
    }
    return head;
  }

  set(caseId: string, head: CaseHead): void {
    this.heads.delete(caseId);
    this.heads.set(caseId, head);
    if (this.heads.size > this.capacity) {
      const oldest = this.heads.keys().next();
      if (!oldest.done) this.heads.delete(oldest.value);
    }
  }

  delete(caseId: string): void {
    this.heads.delete(caseId);
  }

  get size(): number {
    return this.heads.size;
  }
}
