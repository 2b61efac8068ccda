import { describe, expect, it } from 'vitest';
import { DEFAULT_RULES, pendingActions } from '../domain/rules.js';
import { MODEL_V1 } from '../domain/scoring-model.js';
import { byTheBook, day, p, viewOf } from '../domain/view.test-support.js';
import type { CaseRecord, ItemOutcome, SupervisionItem } from './ports.js';
import { runRules, type RunnerDeps } from './rule-runner.js';

const record = (view: CaseRecord['view']): CaseRecord => ({
  _id: view.caseId,
  rev: 1,
  view,
  pending: [],
  parked: false,
  parkReason: '',
  held: [],
});

/** A pass over one case judged at `time`, against an intake that answers with `answer`. */
function pass(
  rec: CaseRecord,
  time: Date,
  answer: (item: SupervisionItem) => ItemOutcome,
  sent: RunnerDeps['sent'] = new Map(),
) {
  const received: SupervisionItem[] = [];
  const deps: RunnerDeps = {
    // The case's timer, as the projection writes it: at its next action (or a stale day 0 when none).
    timers: async (_until, _limit, after) =>
      after
        ? []
        : [
            {
              _id: rec._id,
              agencyId: 'lz-eeb',
              nextAt: new Date(pendingActions(rec.view, DEFAULT_RULES, MODEL_V1)[0]?.at ?? day(0)),
            },
          ],
    cases: async () => new Map([[rec._id, rec]]),
    timeFor: () => time.getTime(),
    until: time.getTime(),
    intake: {
      supervise: async (items) => {
        received.push(...items);
        return items.map(answer);
      },
    },
    rules: DEFAULT_RULES,
    model: MODEL_V1,
    sent,
    now: () => 0,
    log: () => undefined,
  };
  return { run: () => runRules(deps), received, sent, deps };
}

const accepted = (): ItemOutcome => ({ ok: true });
const open = viewOf([
  [p.registered(), 0],
  [p.dispatched(), 1],
]);

describe('the rule runner', () => {
  it('mends a timer its case no longer calls for, and sends nothing for it', async () => {
    const evaluated = viewOf([
      ...byTheBook(30),
      [
        {
          $case: 'caseEvaluated',
          value: { score: 100, modelVersion: 'supervision-score/v1', indicators: [] },
        },
        30,
        'evaluate:supervision-score/v1:c1',
      ],
    ]);
    const r = pass(record(evaluated), day(40), accepted);
    const mended: [string, number | null][] = [];
    await runRules({
      ...r.deps,
      mend: async (caseId, _seen, at) => void mended.push([caseId, at]),
    });
    expect(r.received).toEqual([]);
    expect(mended).toEqual([['c1', null]]);
  });

  it('leaves a timer alone while its case’s record is behind it (the projection writes the timer first)', async () => {
    // The record before the evaluation: by it, the timer at the evaluation looks stale.
    const concluded = viewOf(byTheBook(30));
    const r = pass(record(concluded), day(40), accepted);
    const mended: [string, number | null][] = [];
    await runRules({
      ...r.deps,
      // The projection has already moved the timer for the version after it.
      timers: async (_until, _limit, after) =>
        after
          ? []
          : [{ _id: 'c1', agencyId: 'lz-eeb', nextAt: day(35), version: concluded.version + 1 }],
      mend: async (caseId, _seen, at) => void mended.push([caseId, at]),
    });
    expect(mended).toEqual([]);
    expect(r.received).toEqual([]);
  });

  it('sends what is due by the case’s time, in order, each expecting the version the one before makes', async () => {
    const r = pass(record(open), day(91), accepted);
    await r.run();
    expect(r.received.map((i) => [i.action.commandId, i.expectedVersion])).toEqual([
      ['approaching:c1', 2],
      ['escalate:auto-approaching:c1:1', 3],
      ['overdue:c1', 4],
    ]);
  });

  it('acts strictly before the watermark: the feed may still send a fact dated at it', async () => {
    const first = pendingActions(open, DEFAULT_RULES, MODEL_V1)[0];
    expect(first?.commandId).toBe('approaching:c1');
    const at = first?.at ?? 0;
    const atIt = pass(record(open), new Date(at), accepted);
    await atIt.run();
    expect(atIt.received).toEqual([]);
    const past = pass(record(open), new Date(at + 1), accepted);
    await past.run();
    expect(past.received.map((i) => i.action.commandId)).toEqual(['approaching:c1']);
  });

  it('judges only the cases this instance owns, so several instances send each action once', async () => {
    const mine = pass(record(open), day(91), accepted);
    await runRules({ ...mine.deps, owns: (caseId) => caseId === 'c1' });
    expect(mine.received.map((i) => i.action.commandId)).toEqual([
      'approaching:c1',
      'escalate:auto-approaching:c1:1',
      'overdue:c1',
    ]);
    const other = pass(record(open), day(91), accepted);
    const mended: string[] = [];
    await runRules({
      ...other.deps,
      owns: () => false,
      mend: async (caseId) => void mended.push(caseId),
    });
    expect(other.received).toEqual([]);
    // Nor does it touch the timers of cases it does not own.
    expect(mended).toEqual([]);
  });

  it('leaves a case alone while an action it sent is not back in the read model', async () => {
    const r = pass(record(open), day(91), accepted);
    await r.run();
    r.received.length = 0;
    await r.run();
    expect(r.received).toEqual([]);
  });

  it('judges the case again after intake says it holds events the rules have not seen', async () => {
    const r = pass(record(open), day(91), () => ({
      ok: false,
      retry: true,
      code: 'CASE.VERSION_CONFLICT',
      reason: 'at version 3',
    }));
    const first = await r.run();
    expect(first).toMatchObject({ sent: 0, failed: 3 });
    await r.run();
    expect(r.received).toHaveLength(6);
  });

  it('says why intake did not take the actions when it could not, but not for a version conflict', async () => {
    const unreachable = pass(record(open), day(91), accepted);
    const down = await runRules({
      ...unreachable.deps,
      intake: {
        supervise: () => Promise.reject(new Error('14 UNAVAILABLE: No connection established')),
      },
    });
    expect(down).toEqual({
      sent: 0,
      refused: 0,
      failed: 3,
      trouble: 'case-intake did not take 3 action(s): 14 UNAVAILABLE: No connection established',
    });
    const storeDown = pass(record(open), day(91), () => ({
      ok: false,
      retry: true,
      code: 'SERVICE.UNAVAILABLE',
      reason: 'a store or broker this service needs did not answer',
    }));
    expect((await storeDown.run()).trouble).toBe(
      'case-intake did not take 3 action(s): SERVICE.UNAVAILABLE: a store or broker this service needs did not answer',
    );
    // A token without the supervisor's role (PERMISSION_DENIED, which the client sends again later).
    const wrongRole = pass(record(open), day(91), () => ({
      ok: false,
      retry: true,
      code: 'AUTH.FORBIDDEN',
      reason: 'supervisor role required',
    }));
    const forbidden = await wrongRole.run();
    expect(forbidden).toMatchObject({ refused: 0, failed: 3 });
    expect(forbidden.trouble).toBe(
      'case-intake did not take 3 action(s): AUTH.FORBIDDEN: supervisor role required',
    );
    // Refused for what it says (the order exists): intake's judgement, not trouble.
    const duplicate = pass(record(open), day(91), () => ({
      ok: false,
      retry: false,
      code: 'ORDER.DUPLICATE',
      reason: 'exists',
    }));
    expect((await duplicate.run()).trouble).toBeUndefined();
    const movedOn = pass(record(open), day(91), () => ({
      ok: false,
      retry: true,
      code: 'CASE.VERSION_CONFLICT',
      reason: 'meta.expected_version: case is at version 3, not 2',
    }));
    const conflict = await movedOn.run();
    expect(conflict.failed).toBe(3);
    expect(conflict.trouble).toBeUndefined();
  });

  it('never acts past an action intake refused: what follows waits, in the plan’s order', async () => {
    let first = true;
    const r = pass(record(open), day(91), () => {
      if (!first) return { ok: true };
      first = false;
      return { ok: false, retry: false, code: 'ORDER.DUPLICATE', reason: 'exists' };
    });
    await r.run();
    expect([...r.sent].filter(([, s]) => s.refused).map(([id]) => id)).toEqual(['approaching:c1']);
    r.received.length = 0;
    await r.run();
    expect(r.received).toEqual([]);
  });

  it('records the evaluation only once the orders dated before the conclusion are in the history', async () => {
    const late = viewOf(byTheBook(95));
    const r = pass(record(late), day(96), accepted);
    await r.run();
    expect(r.received.map((i) => i.action.kind)).not.toContain('EVALUATE');
  });
});
