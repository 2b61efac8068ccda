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
 * About how long the state is as JSON, from its parts: the fixed fields
 * (moments at 24 characters) and the strings and entries that grow with the
 * case, without serializing it on every command.
 */
export function stateChars(s: CaseState): number {
  if (s.type === 'NONE') return 32;
  if (s.type === 'REVIEW')
    return (
      150 +
      s.agencyId.length +
      s.enforcementCaseId.length +
      s.district.length +
      (s.acceptedAt ? 39 : 0)
    );
  let n = 250 + s.agencyId.length + s.district.length + s.violationCode.length + s.unitId.length;
  // The moments the loop's order is checked against.
  n += 37 + (s.dispatchedAt ? 41 : 0) + (s.concludedAt ? 40 : 0);
  // The counts of repeated steps and of evaluations (the case's bounds).
  n += 90;
  n += 2 * s.partyKinds.length;
  if (s.notice) n += 60;
  if (s.hearing) n += 55;
  if (s.legalReview) n += 55;
  if (s.penalty) n += 130;
  if (s.conclusion !== undefined) n += 15;
  if (s.evaluation) n += 50 + s.evaluation.modelVersion.length;
  for (const o of s.officers) n += 40 + o.officerId.length + o.name.length + o.credentialNo.length;
  for (const id of Object.keys(s.evidence)) n += 30 + id.length;
  for (const o of Object.values(s.orders))
    n += 150 + 2 * o.orderId.length + (o.answeredAt ? 40 : 0);
  return n;
}

/**
 * What a head costs the heap, roughly: its strings at two bytes a character
 * (the state's JSON length, estimated, stands for its fields), and each
 * command id's entry. An estimate to bound the cache by, not a measurement.
 */
export function headBytes(caseId: string, head: CaseHead): number {
  let bytes = 200 + 2 * (caseId.length + head.headHash.length + stateChars(head.state));
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
