import type { intake } from '@enforcement/contracts';
import { intake as api } from '@enforcement/contracts';
import type { Principal } from '@enforcement/auth';
import { fail } from '../domain/errors.js';
import type { CaseState } from '../domain/state.js';
import { authorizeRead, authorizeReadAll } from './authorize.js';
import { verifyChain } from './chain.js';
import type { CaseEvent, EventStore, LoadedStream } from './ports.js';
import { stateOf } from './to-domain.js';

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

async function readableStream(
  store: EventStore,
  p: Principal,
  caseId: string,
): Promise<LoadedStream> {
  if (!caseId.trim()) fail('FIELD.REQUIRED', 'is required', 'case_id');
  const stream = await store.load(caseId);
  const first = stream.events[0];
  if (!first) return fail('CASE.NOT_FOUND', `no case ${caseId}`, 'case_id');
  authorizeRead(p, first.agencyId);
  return stream;
}

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

export async function getCase(
  store: EventStore,
  p: Principal,
  caseId: string,
): Promise<intake.GetCaseResponse> {
  const stream = await readableStream(store, p, caseId);
  return { case: caseView(stream), history: [...stream.events] };
}

export async function readStream(
  store: EventStore,
  p: Principal,
  caseId: string,
  fromVersion: number,
): Promise<CaseEvent[]> {
  if (fromVersion < 0) fail('FIELD.INVALID', 'must not be negative', 'from_version');
  const stream = await readableStream(store, p, caseId);
  return stream.events.filter((e) => e.version >= fromVersion);
}

export async function verifyCase(
  store: EventStore,
  p: Principal,
  caseId: string,
): Promise<intake.VerifyCaseResponse> {
  const stream = await readableStream(store, p, caseId);
  const check = verifyChain(stream.events);
  return { ...check, eventCount: stream.events.length };
}

export async function* readAll(
  store: EventStore,
  p: Principal,
  req: intake.ReadAllRequest,
): AsyncGenerator<CaseEvent> {
  authorizeReadAll(p);
  if (req.afterPosition < 0) fail('FIELD.INVALID', 'must not be negative', 'after_position');
  if (req.maxCount < 0) fail('FIELD.INVALID', 'must not be negative', 'max_count');
  const until = req.recordedUntil?.getTime();
  let sent = 0;
  for await (const e of store.readAll(req.afterPosition, req.maxCount)) {
    if (until !== undefined && (e.recordedAt?.getTime() ?? 0) > until) continue;
    yield e;
    if (req.maxCount > 0 && ++sent >= req.maxCount) return;
  }
}
