import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { events } from '@enforcement/contracts';
import { BENCHMARKS_2021 } from '@enforcement/reference-data';
import { MAX_SKEW_MS } from './checks.js';
import { decide } from './decide.js';
import { RuleViolation } from './errors.js';
import { caseUpTo, cmd, day, fact, given, T0 } from './given.test-support.js';
import { evolve, initialState, type CaseState } from './state.js';
import type { Command } from './types.js';

const MINUTE = 60_000;
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);
const before = (d: Date, ms: number) => new Date(d.getTime() - ms);
/** An item of evidence collected at `collectedAt`, not yet on the case. */
const laterEvidence = (collectedAt: Date): Command =>
  cmd.progress({
    $case: 'evidence',
    value: {
      evidenceId: 'ev-late',
      kind: 'photo',
      sha256: 'b'.repeat(64),
      collectedBy: 'off-1',
      collectedAt,
      description: '',
    },
  });

describe('a step dated before the step it follows', () => {
  it('refuses a decision dated before the dispatch, and takes one at the same moment', () => {
    const history = caseUpTo('noticed'); // registered day 0, dispatched day 1
    given(history)
      .when(cmd.penalty(), before(day(1), 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the case was dispatched');
    given(history).when(cmd.penalty(), day(1)).thenProduces('penaltyDecided');
  });

  it('refuses a conclusion dated before the penalty decision it concludes', () => {
    const history = caseUpTo('decided'); // decided on day 5
    given(history)
      .when(cmd.conclude(), before(day(5), MINUTE))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the penalty decision (2021-03-06T09:00:00.000Z)');
    given(history).when(cmd.conclude(), day(5)).thenProduces('caseConcluded');
  });

  it('refuses evidence recorded after the decision dated at or before it, and takes it dated after it', () => {
    const history = caseUpTo('decided'); // decided on day 5, after evidence on day 2
    for (const when of [before(day(5), 1), day(5)])
      given(history)
        .when(laterEvidence(day(1)), when)
        .thenThrows(
          'TIME.BEFORE_PREVIOUS_STEP',
          'is not after the penalty decision (2021-03-06T09:00:00.000Z)',
        );
    // Collected before the decision, recorded after it: taken, dated as recorded.
    given(history)
      .when(laterEvidence(day(1)), new Date(day(5).getTime() + 1))
      .thenProduces('evidenceRecorded');
    given(history)
      .when(laterEvidence(day(6)), day(6))
      .thenProduces('evidenceRecorded');
  });

  it('refuses a case concluded without a penalty before it was dispatched', () => {
    given(caseUpTo('dispatched'))
      .when(cmd.conclude(events.Conclusion.CONCLUSION_NO_PENALTY), before(day(1), 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the case was dispatched');
  });

  it('refuses an answer dated before its order was opened, beyond another clock’s five minutes', () => {
    const history = [...caseUpTo('dispatched'), [fact.orderOpened(), day(2)] as const];
    given(history)
      .when(cmd.answer(), before(day(2), MAX_SKEW_MS + 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'order o-1 was opened');
    given(history)
      .when(cmd.answer(), before(day(2), MAX_SKEW_MS))
      .thenProduces('supervisionOrderAnswered');
  });

  it('refuses an escalation dated before the order was opened, but not before another escalation', () => {
    const opened = [...caseUpTo('dispatched'), [fact.orderOpened(), day(2)] as const];
    given(opened)
      .when(cmd.escalate(), before(day(2), MAX_SKEW_MS + 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'order o-1 was opened');
    // A supervisor escalated on day 4; the rules escalate at the deadline
    // that passed on day 3, and may send it after.
    const escalated = [...opened, [fact.orderEscalated(), day(4)] as const];
    given(escalated).when(cmd.escalate(), day(3)).thenProduces('supervisionOrderEscalated');
  });

  it('refuses an evaluation dated before the conclusion, beyond another clock’s five minutes', () => {
    const history = caseUpTo('concluded'); // concluded on day 6
    given(history)
      .when(cmd.evaluate(), before(day(6), MAX_SKEW_MS + 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the case was concluded');
    given(history)
      .when(cmd.evaluate(), before(day(6), MAX_SKEW_MS))
      .thenProduces('caseEvaluated');
  });

  it('refuses an archive dated before any event of the history it seals', () => {
    // An order answered after the evaluation: the latest event is the answer.
    const history = [
      ...caseUpTo('evaluated'),
      [fact.orderOpened(), day(8)] as const,
      [fact.orderAnswered(), day(9)] as const,
    ];
    given(history)
      .when(cmd.archive(), before(day(9), MAX_SKEW_MS + 1))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the latest event of the case');
    given(history).when(cmd.archive(), day(9)).thenProduces('caseArchived');
  });

  it('refuses a reconsideration accepted before it was filed, or concluded before it was accepted', () => {
    given([[fact.reviewFiled(), day(3)]])
      .when(cmd.accept(), day(2))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the review was filed');
    const accepted = [
      [fact.reviewFiled(), day(3)] as const,
      [fact.reviewAccepted(), day(4)] as const,
    ];
    given(accepted)
      .when(cmd.concludeReview(events.ReviewOutcome.REVIEW_OUTCOME_UPHELD), day(3))
      .thenThrows('TIME.BEFORE_PREVIOUS_STEP', 'the review was accepted');
    given(accepted)
      .when(cmd.concludeReview(events.ReviewOutcome.REVIEW_OUTCOME_UPHELD), day(4))
      .thenProduces('reconsiderationConcluded');
  });
});

/**
 * The loop as the law orders it, and what each step must not precede: the
 * steps it follows, and how much another party's clock may differ (the
 * agency's steps are on one clock; the evaluation and the archive are not).
 */
const LOOP: readonly {
  name: string;
  command: Command;
  follows: string[];
  skew: number;
  /** The steps after it do not need it taken. */
  optional?: true;
  /** Dated after the steps it follows, not merely no earlier. */
  strictly?: true;
  /** The steps it needs taken before it is taken at all: every earlier one that is not optional unless told. */
  needs?: string[];
}[] = [
  { name: 'register', command: cmd.register(), follows: [], skew: 0 },
  { name: 'dispatch', command: cmd.dispatch(), follows: ['register'], skew: 0 },
  {
    name: 'notice',
    command: cmd.progress({
      $case: 'notice',
      value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 30_000_000 },
    }),
    follows: ['register'],
    skew: 0,
  },
  {
    name: 'hearing',
    command: cmd.progress({
      $case: 'hearing',
      value: { presidedBy: '', summary: '', waived: true },
    }),
    follows: ['register'],
    skew: 0,
  },
  { name: 'decide', command: cmd.penalty(), follows: ['register', 'dispatch'], skew: 0 },
  {
    // Evidence recorded after the decision (its status is DECIDED by now).
    name: 'evidence after the decision',
    command: laterEvidence(at(0)),
    follows: ['decide'],
    skew: 0,
    optional: true,
    strictly: true,
    needs: ['register', 'dispatch'],
  },
  {
    name: 'conclude',
    command: cmd.conclude(),
    follows: ['register', 'dispatch', 'decide'],
    skew: 0,
  },
  { name: 'evaluate', command: cmd.evaluate(), follows: ['register', 'conclude'], skew: -1 },
  { name: 'archive', command: cmd.archive(), follows: ['*'], skew: -1 },
];

describe('the loop, dated at random', () => {
  it('takes each step exactly when it is dated no earlier than every step it follows', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), {
          minLength: LOOP.length,
          maxLength: LOOP.length,
        }),
        (minutes) => {
          let state: CaseState = initialState();
          let version = 0;
          const taken = new Map<string, number>();
          for (const [i, step] of LOOP.entries()) {
            const when = at(minutes[i] ?? 0);
            // The oracle: registration bounds every step exactly; the
            // others bound it within the skew another party's clock has.
            const bounds = step.follows.flatMap((f) =>
              f === '*' ? [...taken.values()] : (taken.get(f) ?? []),
            );
            const tolerance = step.skew < 0 ? MAX_SKEW_MS : 0;
            const inTime =
              when.getTime() >= (taken.get('register') ?? -Infinity) &&
              bounds.every((b) =>
                step.strictly ? when.getTime() > b - tolerance : when.getTime() >= b - tolerance,
              );
            let outcome: string;
            try {
              const produced = decide(
                step.command,
                state,
                { now: at(1_000), occurredAt: when, benchmarks: BENCHMARKS_2021 },
                { headHash: 'h'.repeat(64), version },
              );
              for (const payload of produced) {
                state = evolve(state, { occurredAt: when, payload });
                version++;
              }
              taken.set(step.name, when.getTime());
              outcome = 'taken';
            } catch (e) {
              if (!(e instanceof RuleViolation)) throw e;
              outcome = e.code;
            }
            const needs =
              step.needs ?? LOOP.slice(0, i).flatMap((x) => (x.optional ? [] : [x.name]));
            if (needs.some((n) => !taken.has(n))) {
              // After a step the loop lost, refused.
              expect(outcome, step.name).not.toBe('taken');
              continue;
            }
            if (inTime) expect(outcome, step.name).toBe('taken');
            else expect(outcome, step.name).toMatch(/^TIME\.BEFORE_(REGISTRATION|PREVIOUS_STEP)$/);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('takes an order’s answer and escalation exactly when neither precedes the opening by more than five minutes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 30 }),
        (open, escalate, answer) => {
          const history = [...caseUpTo('dispatched'), [fact.orderOpened(), at(open)] as const];
          const opened = at(open).getTime();
          const escalated = at(escalate).getTime() >= opened - MAX_SKEW_MS;
          const escalation = given(history).when(cmd.escalate(), at(escalate), at(1_000));
          if (escalated) escalation.thenProduces('supervisionOrderEscalated');
          else escalation.thenThrows('TIME.BEFORE_PREVIOUS_STEP');
          const answering = given(history).when(cmd.answer(), at(answer), at(1_000));
          if (at(answer).getTime() >= opened - MAX_SKEW_MS)
            answering.thenProduces('supervisionOrderAnswered');
          else answering.thenThrows('TIME.BEFORE_PREVIOUS_STEP');
        },
      ),
      { numRuns: 500 },
    );
  });
});
