import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { events } from '@enforcement/contracts';
import type { ChainKeys } from './chain-keys.js';

export class UnknownChainKey extends Error {}

/**
 * The hash chain over a case's events. Each event's hash is an HMAC, under
 * the chain key its `chainKeyId` names, of the previous hash and the event's
 * canonical protobuf encoding with `hash` and `position` blanked (position is
 * assigned by the store, after hashing). Without the key nobody can recompute
 * a hash, so an edited, inserted or re-chained event shows. Events with no
 * key id are plain SHA-256 (recorded before chains were keyed).
 */
export function hashEvent(e: events.CaseEvent, prevHash: string, keys: ChainKeys): string {
  const canonical = events.CaseEvent.encode({ ...e, hash: '', position: 0, prevHash }).finish();
  if (!e.chainKeyId)
    return createHash('sha256').update(prevHash, 'utf8').update(canonical).digest('hex');
  const key = keys.keys.get(e.chainKeyId);
  if (!key) throw new UnknownChainKey(e.chainKeyId);
  return createHmac('sha256', key).update(prevHash, 'utf8').update(canonical).digest('hex');
}

/** A MAC over a checkpoint's fields, so nobody without the key can publish one. */
export function checkpointMac(
  c: { caseId: string; version: number; headHash: string },
  keyId: string,
  keys: ChainKeys,
): string {
  const key = keys.keys.get(keyId);
  if (!key) throw new UnknownChainKey(keyId);
  return createHmac('sha256', key)
    .update(`checkpoint\u0000${c.caseId}\u0000${c.version}\u0000${c.headHash}`)
    .digest('hex');
}

export const sameHex = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** A stable UUID-shaped id derived from the command, so a retry yields the same ids. */
export function eventIdFor(caseId: string, commandId: string, index: number): string {
  const h = createHash('sha256').update(`${caseId}\u0000${commandId}\u0000${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** The head a case had when intake last published it: the checkpoint kept outside the database. */
export interface Checkpoint {
  readonly caseId: string;
  readonly version: number;
  readonly headHash: string;
}

/**
 * A stored commit whose events cannot be read back: its bytes do not decode,
 * or they hold other versions, or another command's events, than the commit
 * claims. Nobody wrote that through intake, so it is a broken history,
 * found where it starts.
 */
export interface UnreadableCommit {
  readonly caseId: string;
  /** The commit's first version and position, as its record says. */
  readonly version: number;
  readonly position: number;
  readonly problem: string;
}

export interface ChainCheck {
  readonly valid: boolean;
  readonly firstBadVersion: number;
  readonly firstBadPosition: number;
  readonly problem: string;
  readonly headHash: string;
  readonly archiveSealValid: boolean;
  readonly checkpointVersion: number;
}

/**
 * Recomputes the chain of a stream in version order, checks the archive
 * seal, and compares the head with the case's checkpoint: a history shorter
 * than its checkpoint was cut, one that differs at the checkpointed version
 * was rewritten. A stored commit that cannot be read breaks the history
 * where it starts, after whatever the events before it show; so does an
 * event of another case.
 */
export function verifyChain(
  {
    caseId,
    events: stream,
    unreadable,
  }: {
    readonly caseId: string;
    readonly events: readonly events.CaseEvent[];
    readonly unreadable?: UnreadableCommit;
  },
  keys: ChainKeys,
  checkpoint?: Checkpoint,
): ChainCheck {
  let prev = '';
  let archiveSealValid = false;
  const checkpointVersion = checkpoint?.version ?? 0;
  for (const [i, e] of stream.entries()) {
    const bad = (problem: string): ChainCheck => ({
      valid: false,
      firstBadVersion: i + 1,
      firstBadPosition: e.position,
      problem,
      headHash: prev,
      archiveSealValid: false,
      checkpointVersion,
    });
    if (e.version !== i + 1) return bad(`expected version ${i + 1}, found ${e.version}`);
    // A chain copied whole under another id verifies on its own: the id inside tells.
    if (e.caseId !== caseId)
      return bad(`version ${e.version} is an event of case ${e.caseId}, not of ${caseId}`);
    if (e.prevHash !== prev) return bad(`prev_hash does not match the hash of version ${i}`);
    if (!e.chainKeyId && !keys.acceptUnkeyed)
      return bad(`version ${e.version} has an unkeyed hash, which anyone could have computed`);
    let expected: string;
    try {
      expected = hashEvent(e, prev, keys);
    } catch (err) {
      if (!(err instanceof UnknownChainKey)) throw err;
      return bad(`version ${e.version} names chain key '${e.chainKeyId}', which is not configured`);
    }
    if (!sameHex(expected, e.hash))
      return bad(`content of version ${e.version} does not match its hash`);
    if (e.payload?.$case === 'caseArchived') {
      archiveSealValid = e.payload.value.headHash === prev && e.payload.value.eventCount === i;
      if (!archiveSealValid) return bad('archive record does not seal the chain before it');
    }
    if (checkpoint && e.version === checkpoint.version && !sameHex(e.hash, checkpoint.headHash))
      return bad(`version ${e.version} differs from the checkpoint published for it`);
    prev = e.hash;
  }
  if (unreadable)
    return {
      valid: false,
      firstBadVersion: unreadable.version,
      firstBadPosition: unreadable.position,
      problem: unreadable.problem,
      headHash: prev,
      archiveSealValid: false,
      checkpointVersion,
    };
  if (checkpoint && stream.length < checkpoint.version)
    return {
      valid: false,
      firstBadVersion: stream.length + 1,
      firstBadPosition: 0,
      problem:
        stream.length === 0
          ? `the case is gone from the store, but version ${checkpoint.version} was checkpointed`
          : `history ends at version ${stream.length}, but version ${checkpoint.version} was checkpointed`,
      headHash: prev,
      archiveSealValid: false,
      checkpointVersion,
    };
  return {
    valid: true,
    firstBadVersion: 0,
    firstBadPosition: 0,
    problem: '',
    headHash: prev,
    archiveSealValid,
    checkpointVersion,
  };
}
