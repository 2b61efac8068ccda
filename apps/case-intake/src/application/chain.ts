import { createHash } from 'node:crypto';
import { events } from '@enforcement/contracts';

/**
 * The hash chain over a case's events. Each event's hash covers the previous
 * hash and the event's canonical protobuf encoding with `hash` and `position`
 * blanked (position is assigned by the store, after hashing).
 */
export function hashEvent(e: events.CaseEvent, prevHash: string): string {
  const canonical = events.CaseEvent.encode({ ...e, hash: '', position: 0, prevHash }).finish();
  return createHash('sha256').update(prevHash, 'utf8').update(canonical).digest('hex');
}

/** A stable UUID-shaped id derived from the command, so a retry yields the same ids. */
export function eventIdFor(caseId: string, commandId: string, index: number): string {
  const h = createHash('sha256').update(`${caseId}\u0000${commandId}\u0000${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export interface ChainCheck {
  readonly valid: boolean;
  readonly firstBadVersion: number;
  readonly problem: string;
  readonly headHash: string;
  readonly archiveSealValid: boolean;
}

/** Recomputes the chain of a stream, in version order, and checks the archive seal. */
export function verifyChain(stream: readonly events.CaseEvent[]): ChainCheck {
  let prev = '';
  let archiveSealValid = false;
  for (const [i, e] of stream.entries()) {
    const bad = (problem: string): ChainCheck => ({
      valid: false,
      firstBadVersion: e.version,
      problem,
      headHash: prev,
      archiveSealValid: false,
    });
    if (e.version !== i + 1) return bad(`expected version ${i + 1}, found ${e.version}`);
    if (e.prevHash !== prev) return bad(`prev_hash does not match the hash of version ${i}`);
    if (hashEvent(e, prev) !== e.hash)
      return bad(`content of version ${e.version} does not match its hash`);
    if (e.payload?.$case === 'caseArchived') {
      archiveSealValid = e.payload.value.headHash === prev && e.payload.value.eventCount === i;
      if (!archiveSealValid) return bad('archive record does not seal the chain before it');
    }
    prev = e.hash;
  }
  return { valid: true, firstBadVersion: 0, problem: '', headHash: prev, archiveSealValid };
}
