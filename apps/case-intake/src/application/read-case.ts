import type { intake } from '@enforcement/contracts';
import { events, intake as api } from '@enforcement/contracts';
import type { Principal } from '@enforcement/auth';
import { fail } from '../domain/errors.js';
import type { CaseState } from '../domain/state.js';
import { authorizeRead, authorizeReadAll } from './authorize.js';
import { verifyChain, type Checkpoint } from './chain.js';
import type { ChainKeys } from './chain-keys.js';
import {
  UnreadableCommitError,
  type AccessLog,
  type CaseEvent,
  type Checkpoints,
  type EventStore,
  type LoadedStream,
  type UnreadableCommit,
} from './ports.js';
import { carriesIdentifiers, forCaller, seesIdentifiers } from './privacy.js';
import { stateOf } from './to-domain.js';

/** What the read use cases need. */
export interface ReadDeps {
  readonly store: EventStore;
  readonly chainKeys: ChainKeys;
  readonly checkpoints: Checkpoints;
  readonly accessLog: AccessLog;
  /** The most bytes of encoded events GetCase answers with (GET_CASE_HISTORY_BYTES); ReadStream serves the rest. */
  readonly historyBytes: number;
}

/**
 * The events as `p` may see them; a read that hands out identifiers in full
 * is recorded first, so the record exists whatever happens to the answer.
 */
async function served(
  deps: ReadDeps,
  p: Principal,
  call: string,
  evs: readonly CaseEvent[],
): Promise<CaseEvent[]> {
  const exposed = new Set(
    evs.filter((e) => carriesIdentifiers(e) && seesIdentifiers(p, e)).map((e) => e.caseId),
  );
  const at = new Date();
  await deps.accessLog.record(
    [...exposed].map((caseId) => ({ subject: p.subject, caseId, call, at })),
  );
  return evs.map((e) => forCaller(p, e));
}

const S = api.CaseStatus;
const statusOf: Record<CaseState['status'], api.CaseStatus> = {
  NEW: S.CASE_STATUS_UNSPECIFIED,
  REGISTERED: S.CASE_STATUS_REGISTERED,
  DISPATCHED: S.CASE_STATUS_DISPATCHED,
  IN_PROGRESS: S.CASE_STATUS_IN_PROGRESS,
  DECIDED: S.CASE_STATUS_DECIDED,
  CONCLUDED: S.CASE_STATUS_CONCLUDED,
  EVALUATED: S.CASE_STATUS_EVALUATED,
  ARCHIVED: S.CASE_STATUS_ARCHIVED,
  REVIEW_FILED: S.CASE_STATUS_REVIEW_FILED,
  REVIEW_ACCEPTED: S.CASE_STATUS_REVIEW_ACCEPTED,
  REVIEW_CONCLUDED: S.CASE_STATUS_REVIEW_CONCLUDED,
};

/** A case's history, with its checkpoint as it stood before the history was read (see loadFresh). */
type CheckedStream = LoadedStream & { readonly checkpoint: Checkpoint | undefined };

/**
 * The case a read asks for, by its id as a command names it (white space at
 * either end is not part of it: execute-command), with its checkpoint.
 */
async function checkedStream(
  deps: ReadDeps,
  caseId: string,
): Promise<{ id: string; stream: CheckedStream }> {
  const id = caseId.trim();
  if (!id) fail('FIELD.REQUIRED', 'is required', 'case_id');
  const checkpoint = deps.checkpoints.get(id);
  return { id, stream: { ...(await deps.store.load(id, checkpoint?.version)), checkpoint } };
}

async function readableStream(
  deps: ReadDeps,
  p: Principal,
  caseId: string,
): Promise<CheckedStream> {
  const { id, stream } = await checkedStream(deps, caseId);
  const first = stream.events[0];
  if (!first) {
    if (!stream.unreadable) return fail('CASE.NOT_FOUND', `no case ${id}`, 'case_id');
    // Whose case it is cannot be read: only who may read every case learns why.
    authorizeReadAll(p);
    return unreadable(stream.unreadable);
  }
  authorizeRead(p, first.agencyId);
  return stream;
}

/** Refuses a read that meets a stored commit it cannot read, naming where. */
const unreadable = (c: UnreadableCommit): never =>
  fail(
    'CASE.HISTORY_BROKEN',
    `the history of case ${c.caseId} cannot be read at version ${c.version} (position ${c.position}): ${c.problem}`,
  );

export function caseView(stream: LoadedStream): intake.CaseView {
  const s = stateOf(stream.events);
  const last = stream.events.at(-1);
  const base: intake.CaseView = {
    caseId: stream.caseId,
    caseType: stream.events[0]?.caseType ?? 0,
    status: statusOf[s.status],
    version: stream.version,
    agencyId: s.type === 'NONE' ? '' : s.agencyId,
    district: s.type === 'NONE' ? '' : s.district,
    domain: s.type === 'NONE' ? 0 : s.domain,
    violationCode: '',
    unitId: '',
    officers: [],
    registeredAt: stream.events[0]?.occurredAt,
    dueAt: undefined,
    orders: [],
    fineFen: 0,
    discretionAnomaly: false,
    score: 0,
    headHash: last?.hash ?? '',
    enforcementCaseId: '',
    reviewOutcome: 0,
  };
  if (s.type === 'ENFORCEMENT') {
    return {
      ...base,
      violationCode: s.violationCode,
      unitId: s.unitId,
      officers: [...s.officers],
      dueAt: s.dueAt,
      orders: Object.values(s.orders).map((o) => ({
        orderId: o.orderId,
        reason: o.reason,
        open: o.open,
        level: o.level,
        responseDueAt: o.responseDueAt,
      })),
      fineFen: s.penalty?.fineFen ?? 0,
      discretionAnomaly: s.penalty?.discretionAnomaly ?? false,
      score: s.evaluation?.score ?? 0,
    };
  }
  if (s.type === 'REVIEW') {
    return { ...base, enforcementCaseId: s.enforcementCaseId, reviewOutcome: s.outcome ?? 0 };
  }
  return base;
}

function integrity(deps: ReadDeps, stream: CheckedStream): intake.VerifyCaseResponse {
  const check = verifyChain(stream, deps.chainKeys, stream.checkpoint);
  return { ...check, eventCount: stream.events.length };
}

/** The case, its history as the caller may see it, and whether that history verifies. */
export async function getCase(
  deps: ReadDeps,
  p: Principal,
  caseId: string,
): Promise<intake.GetCaseResponse> {
  const stream = await readableStream(deps, p, caseId);
  const kept = historyWithin(stream.events, deps.historyBytes);
  return {
    case: caseView(stream),
    history: await served(deps, p, 'GetCase', kept),
    integrity: integrity(deps, stream),
    historyNextVersion: stream.events[kept.length]?.version ?? 0,
  };
}

/**
 * The history from version 1 for as long as it fits in `maxBytes` encoded
 * (as stored, before masking, which only shortens it): an answer a client's
 * default 4 MiB limit takes, whatever the case has gathered.
 */
function historyWithin(evs: readonly CaseEvent[], maxBytes: number): readonly CaseEvent[] {
  let bytes = 0;
  for (const [i, e] of evs.entries()) {
    // The event, its field tag and its length prefix.
    bytes += events.CaseEvent.encode(e).finish().length + 6;
    if (bytes > maxBytes) return evs.slice(0, i);
  }
  return evs;
}

export async function readStream(
  deps: ReadDeps,
  p: Principal,
  caseId: string,
  fromVersion: number,
): Promise<CaseEvent[]> {
  if (fromVersion < 0) fail('FIELD.INVALID', 'must not be negative', 'from_version');
  const stream = await readableStream(deps, p, caseId);
  return served(
    deps,
    p,
    'ReadStream',
    stream.events.filter((e) => e.version >= fromVersion),
  );
}

/**
 * Verifies a case. A case the store no longer holds but a checkpoint
 * remembers is reported as deleted, to anyone who may read every case.
 */
export async function verifyCase(
  deps: ReadDeps,
  p: Principal,
  caseId: string,
): Promise<intake.VerifyCaseResponse> {
  const { id, stream } = await checkedStream(deps, caseId);
  const first = stream.events[0];
  if (first) authorizeRead(p, first.agencyId);
  else if (stream.checkpoint || stream.unreadable) authorizeReadAll(p);
  else return fail('CASE.NOT_FOUND', `no case ${id}`, 'case_id');
  return integrity(deps, stream);
}

async function* fromCommits(deps: ReadDeps, afterPosition: number): AsyncGenerator<CaseEvent> {
  for await (const stream of deps.store.cases()) {
    for (const e of stream.events) if (e.position > afterPosition) yield e;
    if (stream.unreadable) throw new UnreadableCommitError(stream.unreadable);
  }
}

export async function* readAll(
  deps: ReadDeps,
  p: Principal,
  req: intake.ReadAllRequest,
): AsyncGenerator<CaseEvent> {
  authorizeReadAll(p);
  if (req.afterPosition < 0) fail('FIELD.INVALID', 'must not be negative', 'after_position');
  if (req.maxCount < 0) fail('FIELD.INVALID', 'must not be negative', 'max_count');
  const until = req.recordedUntil?.getTime();
  const source = req.fromCommits
    ? fromCommits(deps, req.afterPosition)
    : deps.store.readAll(req.afterPosition, req.maxCount);
  // Served a chunk at a time, so that reads of personal data are recorded
  // with one write per chunk rather than one per case.
  let left = req.maxCount > 0 ? req.maxCount : Infinity;
  let chunk: CaseEvent[] = [];
  try {
    for await (const e of source) {
      if (until !== undefined && (e.recordedAt?.getTime() ?? 0) > until) continue;
      chunk.push(e);
      if (chunk.length >= left) break;
      if (chunk.length >= READ_ALL_CHUNK) {
        yield* await served(deps, p, 'ReadAll', chunk);
        left -= chunk.length;
        chunk = [];
      }
    }
  } catch (e) {
    if (!(e instanceof UnreadableCommitError)) throw e;
    // What was read before it is served; the reader learns where to look.
    yield* await served(deps, p, 'ReadAll', chunk);
    unreadable(e.commit);
  }
  yield* await served(deps, p, 'ReadAll', chunk);
}

/** Events ReadAll serves together. */
const READ_ALL_CHUNK = 100;
