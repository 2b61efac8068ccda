import * as enforcement from './decide-enforcement.js';
import * as review from './decide-review.js';
import { MAX_SKEW_MS } from './checks.js';
import { fail } from './errors.js';
import type { CaseState, EnforcementCase, ReviewCase } from './state.js';
import type { Command, DecideContext, EventPayload } from './types.js';

export interface StreamPosition {
  /** Hash of the last stored event (sealed into an archive record). */
  readonly headHash: string;
  readonly version: number;
}

function enforcementCase(s: CaseState): EnforcementCase {
  if (s.type === 'NONE') return fail('CASE.NOT_FOUND', 'no such case; register it first');
  if (s.type !== 'ENFORCEMENT')
    return fail('CASE.WRONG_TYPE', 'this command applies to enforcement cases only');
  if (s.status === 'ARCHIVED')
    return fail('CASE.ARCHIVED', 'the case is archived and accepts nothing more');
  return s;
}

function reviewCase(s: CaseState): ReviewCase {
  if (s.type === 'NONE') return fail('CASE.NOT_FOUND', 'no such review; file it first');
  if (s.type !== 'REVIEW')
    return fail('CASE.WRONG_TYPE', 'this command applies to reconsideration cases only');
  return s;
}

function mustBeNew(s: CaseState): void {
  if (s.type !== 'NONE')
    fail('CASE.ALREADY_EXISTS', 'a case with this id already exists', 'meta.case_id');
}

/**
 * The events a command produces on a case, or a RuleViolation. Pure: the
 * clock, the benchmark table and the stream position come in as arguments.
 */
export function decide(
  command: Command,
  state: CaseState,
  ctx: DecideContext,
  at: StreamPosition,
): EventPayload[] {
  if (ctx.occurredAt.getTime() > ctx.now.getTime() + MAX_SKEW_MS)
    fail('TIME.IN_FUTURE', `${ctx.occurredAt.toISOString()} is in the future`, 'meta.occurred_at');
  if (state.type === 'ENFORCEMENT' && ctx.occurredAt.getTime() < state.registeredAt.getTime())
    fail(
      'TIME.BEFORE_REGISTRATION',
      `is before the case was registered (${state.registeredAt.toISOString()})`,
      'meta.occurred_at',
    );

  switch (command.$case) {
    case 'registerCase':
      mustBeNew(state);
      return enforcement.register(command.value, ctx);
    case 'dispatchCase':
      return enforcement.dispatch(enforcementCase(state), command.value);
    case 'recordProgress':
      return enforcement.recordProgress(enforcementCase(state), command.value, ctx);
    case 'decidePenalty':
      return enforcement.decidePenalty(enforcementCase(state), command.value, ctx);
    case 'concludeCase':
      return enforcement.conclude(enforcementCase(state), command.value, ctx);
    case 'openSupervisionOrder':
      return enforcement.openOrder(enforcementCase(state), command.value, ctx);
    case 'answerSupervisionOrder':
      return enforcement.answerOrder(enforcementCase(state), command.value, ctx);
    case 'escalateSupervisionOrder':
      return enforcement.escalateOrder(enforcementCase(state), command.value, ctx);
    case 'recordEvaluation':
      return enforcement.recordEvaluation(enforcementCase(state), command.value, ctx);
    case 'archiveCase':
      return enforcement.archive(enforcementCase(state), at.headHash, at.version, ctx);
    case 'fileReconsideration':
      mustBeNew(state);
      return review.file(command.value);
    case 'acceptReconsideration':
      return review.accept(reviewCase(state), command.value, ctx);
    case 'concludeReconsideration':
      return review.conclude(reviewCase(state), command.value, ctx);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}
