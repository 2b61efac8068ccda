import { metrics, trace, type Counter } from '@opentelemetry/api';
import { events, ruleCommandKind, type intake } from '@enforcement/contracts';
import type { Principal } from '@enforcement/auth';
import type { BenchmarkTable } from '@enforcement/reference-data';
import { decide } from '../domain/decide.js';
import { DomainError } from '@enforcement/errors';
import { feedOf } from '@enforcement/messaging';
import { fail } from '../domain/errors.js';
import type { CaseState } from '../domain/state.js';
import type { Command } from '../domain/types.js';
import { authorizeCommand, authorizeKind } from './authorize.js';
import type { CaseTurns } from './case-turns.js';
import { eventIdFor, hashEvent, verifyChain } from './chain.js';
import type { ChainKeys } from './chain-keys.js';
import {
  VersionConflict,
  type AccessLog,
  type CaseEvent,
  type Checkpoints,
  type Clock,
  type Commit,
  type EventStore,
  type Publisher,
} from './ports.js';
import { forCaller } from './privacy.js';
import {
  checkEventSizes,
  checkId,
  checkValues,
  fingerprintOf,
  withIdsTrimmed,
} from './admission.js';
import type { CaseHead, HeadCache } from './stream-cache.js';
import { stateOf } from './to-domain.js';

export interface IntakeDeps {
  readonly store: EventStore;
  readonly publisher: Publisher;
  readonly clock: Clock;
  readonly benchmarks: BenchmarkTable;
  readonly heads: HeadCache;
  /** Commands of one case in this instance, one at a time. */
  readonly turns: CaseTurns;
  readonly chainKeys: ChainKeys;
  readonly checkpoints: Checkpoints;
  readonly accessLog: AccessLog;
  /** Largest encoded event the case-events topic takes (its max.message.bytes, less headers). */
  readonly maxEventBytes: number;
  /** The most bytes of events a GetCase answer carries. */
  readonly historyBytes: number;
}

export const SCHEMA_VERSION = 1;
/**
 * How often a command without an expected version is decided again when
 * another writer (another instance) stored first. Each loss waits a little longer, with jitter, so a busy case's
 * writers stop colliding; only then is the command refused (ABORTED).
 */
const ATTEMPTS = 8;
const backoff = (attempt: number) =>
  new Promise((r) => setTimeout(r, Math.random() * 10 * 2 ** Math.min(attempt, 5)));
const tracer = trace.getTracer('case-intake');
let acceptedCounter: Counter | undefined;
/** Made on first use, so a meter provider registered after this module loaded still gets it. */
const accepted = () =>
  (acceptedCounter ??= metrics.getMeter('case-intake').createCounter('enforcement.intake.events', {
    description: 'Case events accepted and stored (the ingest rate), by command',
  }));
let brokenCounter: Counter | undefined;
export const brokenHistories = () =>
  (brokenCounter ??= metrics
    .getMeter('case-intake')
    .createCounter('enforcement.intake.broken_histories', {
      description:
        'Commands refused because their case history failed its chain or checkpoint check (tampering, or a lost write)',
    }));

const caseTypeOf = (s: CaseState, c: Command): events.CaseType =>
  s.type === 'REVIEW' || c.$case === 'fileReconsideration'
    ? events.CaseType.CASE_TYPE_REVIEW
    : events.CaseType.CASE_TYPE_ENFORCEMENT;

async function loadHead(deps: IntakeDeps, caseId: string): Promise<CaseHead> {
  const cached = deps.heads.get(caseId);
  if (cached) return cached;
  return loadFresh(deps, caseId);
}

/** The case as the store has it now (and so in the cache). */
async function loadFresh(deps: IntakeDeps, caseId: string): Promise<CaseHead> {
  // The checkpoint as it stands before the history is read: one taken after
  // could name a commit stored (and published) while the read was under
  // way, which the read need not see, and an intact history would look cut.
  const checkpoint = deps.checkpoints.get(caseId);
  const stream = await deps.store.load(caseId, checkpoint?.version);
  // Never append onto a history that does not verify: the new event would
  // chain onto whatever the database now says.
  const check = verifyChain(stream, deps.chainKeys, checkpoint);
  if (!check.valid) {
    brokenHistories().add(1);
    fail(
      'CASE.HISTORY_BROKEN',
      `the history of case ${caseId} fails verification at version ${check.firstBadVersion}: ${check.problem}`,
    );
  }
  const head: CaseHead = {
    state: stateOf(stream.events),
    version: stream.version,
    headHash: stream.events.at(-1)?.hash ?? '',
    commandIds: new Map(stream.commits.map((c) => [c.commandId, c.fingerprint])),
  };
  deps.heads.set(caseId, head);
  return head;
}

async function duplicateResult(
  deps: IntakeDeps,
  principal: Principal,
  caseId: string,
  commandId: string,
): Promise<intake.CommandResult> {
  const stream = await deps.store.load(caseId, deps.checkpoints.get(caseId)?.version);
  const first = stream.commits.find((c) => c.commandId === commandId);
  const evs = (first?.events ?? []).map((e) => forCaller(principal, e));
  // The answer the command got the first time: the version it brought the
  // case to, whatever was written after it. A retry (or a submission read
  // again after a crash) is then answered as the first try was.
  return { caseId, version: first?.toVersion ?? stream.version, events: evs, duplicate: true };
}

/** A reconsideration must challenge a case intake knows, decided by the agency it names. */
async function checkReviewTarget(
  deps: IntakeDeps,
  c: intake.FileReconsiderationRequest,
): Promise<void> {
  const id = c.enforcementCaseId;
  const respondent = c.respondentAgencyId;
  if (!id) return; // the domain names the missing field
  const target = (await loadHead(deps, id)).state;
  if (target.type !== 'ENFORCEMENT')
    return fail('REVIEW.UNKNOWN_CASE', `no enforcement case ${id}`, 'enforcement_case_id');
  if (target.agencyId !== respondent)
    fail(
      'FIELD.INVALID',
      `case ${id} belongs to ${target.agencyId}, not ${respondent}`,
      'respondent_agency_id',
    );
}

function envelope(
  c: Command,
  head: CaseHead,
  payloads: ReturnType<typeof decide>,
  ctx: {
    caseId: string;
    commandId: string;
    occurredAt: Date;
    now: Date;
    actor: string;
    feedFloor: FeedFloor | undefined;
  },
  keys: ChainKeys,
): CaseEvent[] {
  const agencyId =
    head.state.type !== 'NONE'
      ? head.state.agencyId
      : c.$case === 'registerCase'
        ? c.value.agencyId
        : c.$case === 'fileReconsideration'
          ? c.value.respondentAgencyId
          : '';
  const caseType = caseTypeOf(head.state, c);
  const feedFloor = ctx.feedFloor?.(ctx.occurredAt, feedOf(agencyId, caseType));
  let prev = head.headHash;
  return payloads.map((payload, i) => {
    const e: CaseEvent = {
      eventId: eventIdFor(ctx.caseId, ctx.commandId, i),
      caseId: ctx.caseId,
      version: head.version + i + 1,
      position: 0,
      occurredAt: ctx.occurredAt,
      recordedAt: ctx.now,
      commandId: ctx.commandId,
      actor: ctx.actor,
      agencyId,
      caseType,
      prevHash: prev,
      hash: '',
      schemaVersion: SCHEMA_VERSION,
      chainKeyId: keys.current,
      feedFloor,
      payload,
    };
    e.hash = hashEvent(e, prev, keys);
    prev = e.hash;
    return e;
  });
}

/** How far a stream has stored an event's feed, given when the event happened and its feed. */
export type FeedFloor = (occurredAt: Date, feed: string) => Date;

/**
 * Runs one command: authorize (the role before anything is looked up, the
 * case's agency before the command id is), check idempotency and the expected version,
 * decide, append atomically, hand to the publisher. A concurrent writer makes
 * the append lose; without an expected version the command is decided again
 * on the fresh state, with one it fails with CASE.VERSION_CONFLICT.
 */
export async function executeCommand(
  deps: IntakeDeps,
  principal: Principal,
  command: intake.Command,
  /** For a command from a SubmitEvents stream: how far the stream has stored the event's feed (see CaseEvent.feed_floor). */
  feedFloor?: FeedFloor,
): Promise<intake.CommandResult> {
  try {
    return await execute(deps, principal, command, feedFloor);
  } catch (e) {
    // Refusals by their rule (VALIDATION.*, CASE.*, AUTH.*…), for the operators' dashboards.
    if (e instanceof DomainError)
      rejected().add(1, { code: e.code, command: command.kind?.$case ?? 'none' });
    throw e;
  }
}

let rejectedCounter: Counter | undefined;
const rejected = () =>
  (rejectedCounter ??= metrics
    .getMeter('case-intake')
    .createCounter('enforcement.intake.rejected', {
      description: 'Commands refused, by the rule that refused them (code) and command',
    }));

/**
 * The case a command names, its id, and the case it challenges (a
 * reconsideration's; `''` for any other), as intake stores them: without
 * the white space at their ends. Whatever keeps a case's commands in order
 * (a stream's line, a partition's line, a hold) goes by these, so `" x"`
 * and `"x"` are one case there as in the store.
 */
export function caseKeysOf(kind: intake.Command['kind']): {
  caseId: string;
  commandId: string;
  target: string;
} {
  const meta = kind?.value.meta;
  return {
    caseId: (meta?.caseId ?? '').trim(),
    commandId: (meta?.commandId ?? '').trim(),
    target: kind?.$case === 'fileReconsideration' ? kind.value.enforcementCaseId.trim() : '',
  };
}

async function execute(
  deps: IntakeDeps,
  principal: Principal,
  command: intake.Command,
  feedFloor?: FeedFloor,
): Promise<intake.CommandResult> {
  // Authorized, decided, checked and stored with its ids as intake stores
  // them (so a registration's envelope names its agency as every later event
  // of the case does); and a retry is judged by what it asks for so, whatever
  // the white space at its ids' ends (`fingerprintOf`).
  const c = command.kind && withIdsTrimmed(command.kind);
  if (!c) return fail('FIELD.REQUIRED', 'a command is required', 'command');
  const meta = c.value.meta;
  const { caseId, commandId } = caseKeysOf(c);
  if (!commandId) fail('FIELD.REQUIRED', 'is required', 'meta.command_id');
  if (!caseId) fail('FIELD.REQUIRED', 'is required', 'meta.case_id');
  const expected = meta?.expectedVersion;
  checkId(commandId, 'meta.command_id');
  checkId(caseId, 'meta.case_id');
  const fingerprint = fingerprintOf({ kind: c });

  authorizeKind(principal, c.$case);
  const kept = ruleCommandKind(commandId);
  if (kept !== undefined && kept !== c.$case)
    fail(
      'COMMAND.ID_RESERVED',
      `${commandId} is an id of the supervision rules, kept for their ${kept} (docs/scoring.md); choose another`,
      'meta.command_id',
    );

  return tracer.startActiveSpan(`intake ${c.$case}`, async (span) => {
    span.setAttributes({ 'case.id': caseId, 'command.id': commandId });
    try {
      // A case's agency never changes once registered, so a caller who may
      // not act on a case this instance knows is refused before it takes a
      // place in the case's line (where it would wait behind the case's own
      // commands only to be refused).
      const known = deps.heads.get(caseId);
      if (known && known.state.type !== 'NONE') authorizeCommand(principal, c, known.state);
      // The case's commands in this instance take turns (CaseTurns): each is
      // decided on what the one before it stored.
      return await deps.turns.run(caseId, principal.subject, async () => {
        for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
          // Another intake instance may have moved the case since this one
          // cached it. A stale head is harmless where the command is accepted
          // (the append then conflicts and the command is decided again), but
          // a refusal must not rest on it: one decided on a cached head is
          // decided again on the store's, when the store's is newer.
          const cached = deps.heads.get(caseId);
          const head = cached ?? (await loadFresh(deps, caseId));
          let evs: CaseEvent[];
          try {
            authorizeCommand(principal, c, head.state);
            const known = head.commandIds.get(commandId);
            if (known !== undefined) {
              // Commits stored until the night of 2026-12-06 recorded the command as sent.
              if (known && known !== fingerprint && known !== fingerprintOf(command))
                fail(
                  'COMMAND.ID_REUSED',
                  `command id ${commandId} was already used on case ${caseId} for a different command; a retry must repeat it exactly`,
                  'meta.command_id',
                );
              return await duplicateResult(deps, principal, caseId, commandId);
            }
            if (expected !== undefined && expected !== head.version)
              fail(
                'CASE.VERSION_CONFLICT',
                `case is at version ${head.version}, not ${expected}`,
                'meta.expected_version',
              );
            if (c.$case === 'fileReconsideration') await checkReviewTarget(deps, c.value);

            const now = deps.clock.now();
            const occurredAt = meta?.occurredAt ?? now;
            const payloads = decide(
              c,
              head.state,
              { now, occurredAt, benchmarks: deps.benchmarks },
              { headHash: head.headHash, version: head.version },
            );
            checkValues(c);
            evs = envelope(
              c,
              head,
              payloads,
              {
                caseId,
                commandId,
                occurredAt,
                now,
                actor: principal.subject,
                feedFloor,
              },
              deps.chainKeys,
            );
            checkEventSizes(evs, c, deps.maxEventBytes);
          } catch (e) {
            // Who may act on a case rests on its agency, which no writer changes.
            if (
              e instanceof DomainError &&
              e.code !== 'AUTH.FORBIDDEN' &&
              cached &&
              (await loadFresh(deps, caseId)).version !== cached.version
            )
              continue;
            throw e;
          }
          const commit: Commit = {
            caseId,
            commandId,
            fingerprint,
            fromVersion: head.version + 1,
            toVersion: head.version + evs.length,
            events: evs,
          };
          let stored: Commit;
          try {
            stored = await deps.store.append(commit);
          } catch (e) {
            if (!(e instanceof VersionConflict)) throw e;
            deps.heads.delete(caseId);
            if (expected !== undefined)
              fail(
                'CASE.VERSION_CONFLICT',
                `case ${caseId} was changed concurrently`,
                'meta.expected_version',
              );
            await backoff(attempt);
            continue;
          }
          deps.heads.set(caseId, {
            state: stateOf(stored.events, head.state),
            version: stored.toVersion,
            headHash: stored.events.at(-1)?.hash ?? head.headHash,
            commandIds: new Map([...head.commandIds, [commandId, fingerprint]]),
          });
          deps.publisher.enqueue(stored);
          accepted().add(stored.events.length, { command: c.$case });
          const served = stored.events.map((e) => forCaller(principal, e));
          return { caseId, version: stored.toVersion, events: served, duplicate: false };
        }
        return fail('CASE.VERSION_CONFLICT', `case ${caseId} kept changing; retry`);
      });
    } finally {
      span.end();
    }
  });
}
