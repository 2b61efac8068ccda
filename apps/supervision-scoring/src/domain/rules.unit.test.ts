import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events, MAX_ID_LENGTH, ruleCommandKind } from '@enforcement/contracts';
import {
  asOf,
  boundedId,
  DEFAULT_RULES,
  evaluationAt,
  evaluationMoment,
  nextActionAt,
  pendingActions,
  supervisionPlan,
  unwarrantedActions,
  unwarrantedOn,
  type Action,
} from './rules.js';
import { MODEL_V1, scoreCase } from './scoring-model.js';
import { byTheBook, day, p, viewOf } from './view.test-support.js';

const R = events.SupervisionReason;
type Steps = Parameters<typeof viewOf>[0];
const plan = (steps: Steps) => supervisionPlan(viewOf(steps), DEFAULT_RULES, MODEL_V1);
/** The plan as [command id, day]: what the rules do and when the condition first held. */
const when = (steps: Steps) =>
  plan(steps).map((a: Action) => [a.commandId, (a.at - day(0).getTime()) / 86_400_000]);
const open: Steps = [
  [p.registered(), 0],
  [p.dispatched(), 1],
];
const auto = 'auto-';

describe('the supervision plan: which actions must exist, dated when their condition first held', () => {
  it('on an open case: the deadline warning ten days before it, the overdue order at it, and their escalations', () => {
    expect(when(open)).toEqual([
      ['approaching:c1', 80],
      ['escalate:auto-approaching:c1:1', 87],
      ['overdue:c1', 90],
      ['escalate:auto-approaching:c1:2', 92],
      ['escalate:auto-overdue:c1:1', 97],
      ['escalate:auto-overdue:c1:2', 102],
    ]);
    expect(plan(open)[0]).toMatchObject({
      kind: 'OPEN_ORDER',
      reason: R.SUPERVISION_REASON_APPROACHING_DEADLINE,
      orderId: `${auto}approaching:c1`,
      responseDueAt: day(87).getTime(),
    });
  });

  it('nothing on a case concluded in time, however long after the history reaches its deadline', () => {
    const inTime = viewOf(byTheBook(30));
    expect(supervisionPlan(inTime, DEFAULT_RULES, MODEL_V1).map((a) => a.kind)).toEqual([
      'EVALUATE',
    ]);
  });

  it('a case concluded on its deadline day is in time; one concluded after it was overdue at the deadline', () => {
    expect(when(byTheBook(90)).map(([id]) => id)).toEqual([
      'approaching:c1',
      'escalate:auto-approaching:c1:1',
      'evaluate:supervision-score/v1:c1',
      // the warning was never answered: it escalates whether or not the case is done
      'escalate:auto-approaching:c1:2',
    ]);
    expect(when(byTheBook(95))).toEqual([
      ['approaching:c1', 80],
      ['escalate:auto-approaching:c1:1', 87],
      ['overdue:c1', 90],
      ['escalate:auto-approaching:c1:2', 92],
      // the overdue order was open at the conclusion: evaluated once its deadline passed unanswered
      ['escalate:auto-overdue:c1:1', 97],
      ['evaluate:supervision-score/v1:c1', 97],
      ['escalate:auto-overdue:c1:2', 102],
    ]);
  });

  it('an extension granted before the deadline moves both orders; one granted after it does not undo the overdue order', () => {
    const extended = when([...open, [p.extended(150), 85]]).filter(
      ([id]) => !String(id).startsWith('escalate'),
    );
    expect(extended).toEqual([
      ['approaching:c1', 80],
      ['overdue:c1', 150],
    ]);
    const late = when([...open, [p.extended(150), 95]]).filter(
      ([id]) => !String(id).startsWith('escalate'),
    );
    expect(late).toEqual([
      ['approaching:c1', 80],
      ['overdue:c1', 90],
    ]);
    // Granted with less than ten days left, the warning comes with it.
    expect(when([...open, [p.extended(100), 30], [p.extended(95), 88]])[0]).toEqual([
      'approaching:c1',
      88,
    ]);
  });

  it('flags at the decision: a discretion anomaly, a major decision without legal review before it, a decision without evidence before it', () => {
    const v: Steps = [
      [p.registered(), 0],
      [p.dispatched(), 1],
      [p.notified(), 2],
      [p.decided({ discretionAnomaly: true, anomalyReason: 'edge' }), 3],
      [p.evidence(), 4],
      [p.review(), 4],
      [p.concluded(), 6],
    ];
    expect(when(v).filter(([id]) => !String(id).startsWith('escalate'))).toEqual([
      ['discretion:c1', 3],
      ['legal-review:c1', 3],
      ['evidence:c1', 3],
      // concluded on day 6 with the three orders open, due on day 10 and never answered
      ['evaluate:supervision-score/v1:c1', 10],
    ]);
  });

  it('takes every action under an id intake keeps for the kind of command it is sent as', () => {
    // Intake refuses those ids to any other command (COMMAND.ID_RESERVED), so
    // an agency cannot take one first and have the rules' action refused.
    const sentAs = {
      OPEN_ORDER: 'openSupervisionOrder',
      ESCALATE: 'escalateSupervisionOrder',
      EVALUATE: 'recordEvaluation',
    } as const;
    const flagged: Steps = [
      [p.registered(), 0],
      [p.dispatched(), 1],
      [p.notified(), 2],
      [p.decided({ discretionAnomaly: true, anomalyReason: 'edge' }), 3],
      [p.concluded(), 6],
    ];
    const actions = [open, flagged, [...open, [p.order('o-1', 20), 5]] as Steps].flatMap(plan);
    expect(new Set(actions.map((a) => a.commandId.split(':')[0]))).toEqual(
      new Set([
        'approaching',
        'overdue',
        'escalate',
        'discretion',
        'legal-review',
        'evidence',
        'evaluate',
      ]),
    );
    for (const a of actions) expect(ruleCommandKind(a.commandId), a.commandId).toBe(sentAs[a.kind]);
  });

  it('escalates an order each time its deadline passes unanswered, up to the configured level', () => {
    const v: Steps = [...open, [p.order('o-1', 20), 5]];
    const esc = when(v).filter(([id]) => String(id).includes('o-1'));
    expect(esc).toEqual([
      ['escalate:o-1:1', 20],
      ['escalate:o-1:2', 25],
    ]);
    const deeper = supervisionPlan(
      viewOf(v),
      { ...DEFAULT_RULES, maxEscalationLevel: 4 },
      MODEL_V1,
    );
    expect(deeper.filter((a) => a.kind === 'ESCALATE' && a.orderId === 'o-1')).toHaveLength(3);
  });

  it('an answer in time stops escalation; a late answer stops only what comes after it', () => {
    expect(
      when([...open, [p.order('o-1', 20), 5], [p.answered('o-1'), 20]]).filter(([id]) =>
        String(id).includes('o-1'),
      ),
    ).toEqual([]);
    expect(
      when([...open, [p.order('o-1', 20), 5], [p.answered('o-1'), 22]]).filter(([id]) =>
        String(id).includes('o-1'),
      ),
    ).toEqual([['escalate:o-1:1', 20]]);
  });

  it('an escalation by hand raises the level and moves the deadline the rules wait for', () => {
    const v: Steps = [...open, [p.order('o-1', 20), 5], [p.escalated('o-1', 2, 40), 18]];
    expect(when(v).filter(([id]) => String(id).includes('o-1'))).toEqual([['escalate:o-1:2', 40]]);
  });

  it("recognises its own actions in the history, whoever's pass recorded them", () => {
    const v = viewOf([
      ...open,
      [p.order('o-1', 20), 5],
      [p.escalated('o-1', 2, 25), 20, 'escalate:o-1:1'],
    ]);
    const left = pendingActions(v, DEFAULT_RULES, MODEL_V1).filter((a) =>
      a.commandId.includes('o-1'),
    );
    expect(left.map((a) => a.commandId)).toEqual(['escalate:o-1:2']);
    expect(nextActionAt(v, DEFAULT_RULES, MODEL_V1)).toBe(day(25).getTime());
  });

  it('evaluates at the conclusion, on the case as it stood then', () => {
    const v = viewOf([...byTheBook(30), [p.order('o-1', 40), 31], [p.answered('o-1'), 45]]);
    const [evaluation] = plan([...byTheBook(30)]).filter((a) => a.kind === 'EVALUATE');
    expect(evaluation?.at).toBe(day(30).getTime());
    // A later order, answered late, is not the concluded case's: full marks for supervision response.
    const score = evaluationAt(v, day(30).getTime(), MODEL_V1);
    expect(score?.indicators.find((i) => i.indicator === 'supervision_response')?.points).toBe(
      MODEL_V1.weights.supervisionResponse,
    );
    expect(score?.score).toBe(
      evaluationAt(viewOf(byTheBook(30)), day(30).getTime(), MODEL_V1)?.score,
    );
  });

  it('evaluates a case concluded with an order open once the order is settled, so that an answer in time after the conclusion counts', () => {
    const supervisionResponse = (steps: Steps, at: number) =>
      evaluationAt(viewOf(steps), at, MODEL_V1)?.indicators.find(
        (i) => i.indicator === 'supervision_response',
      )?.points;
    const evaluated = (steps: Steps) =>
      plan(steps).find((a) => a.kind === 'EVALUATE')?.at ?? Number.NaN;
    // An order opened on day 20, due on day 40; the case concluded on day 30.
    const base: Steps = [...byTheBook(30), [p.order('o-1', 40), 20]];
    // Answered on day 35, in time: evaluated then, with full marks for it.
    const inTime: Steps = [...base, [p.answered('o-1'), 35]];
    expect(evaluated(inTime)).toBe(day(35).getTime());
    expect(supervisionResponse(inTime, day(35).getTime())).toBe(
      MODEL_V1.weights.supervisionResponse,
    );
    // At the conclusion the order was still awaiting its answer: it could not count either way yet.
    expect(
      evaluationAt(viewOf(inTime), day(30).getTime(), MODEL_V1)?.indicators.find(
        (i) => i.indicator === 'supervision_response',
      )?.reasons,
    ).toEqual(['1 awaiting its answer, due 2021-04-10']);
    // Never answered (or answered late): evaluated at its deadline, without the marks.
    for (const steps of [base, [...base, [p.answered('o-1'), 45]] as Steps]) {
      expect(evaluated(steps)).toBe(day(40).getTime());
      expect(supervisionResponse(steps, day(40).getTime())).toBe(0);
    }
    // Escalated by hand before its deadline: settled then.
    const escalated: Steps = [...base, [p.escalated('o-1', 2, 50), 33]];
    expect(evaluated(escalated)).toBe(day(33).getTime());
    // An order answered before the conclusion changes nothing: evaluated at the conclusion.
    expect(evaluated([...byTheBook(30), [p.order('o-1', 40), 20], [p.answered('o-1'), 25]])).toBe(
      day(30).getTime(),
    );
  });

  it('evaluates at the first moment from the conclusion at which every order opened by then is settled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.array(
          fc.record({
            openedAt: fc.integer({ min: 0, max: 200 }),
            lasts: fc.integer({ min: 0, max: 50 }),
          }),
          { maxLength: 8 },
        ),
        (concludedAt, raw) => {
          const orders = raw.map((o) => ({
            openedAt: o.openedAt,
            settledAt: o.openedAt + o.lasts,
          }));
          const t = evaluationMoment(concludedAt, orders);
          const settledBy = (x: number) => orders.every((o) => o.openedAt > x || o.settledAt <= x);
          expect(t).toBeGreaterThanOrEqual(concludedAt);
          expect(settledBy(t)).toBe(true);
          // No earlier candidate moment (the conclusion, or an order settling) would do.
          for (const x of [concludedAt, ...orders.map((o) => o.settledAt)])
            if (x >= concludedAt && x < t) expect(settledBy(x)).toBe(false);
        },
      ),
    );
  });

  it('evaluates when no order opened by then awaits its answer, so the evaluation counts every one of them', () => {
    const order = fc.record({
      opened: fc.integer({ min: 3, max: 120 }),
      lasts: fc.integer({ min: 1, max: 30 }),
      answeredAfter: fc.option(fc.integer({ min: 0, max: 40 })),
      escalatedAfter: fc.option(fc.integer({ min: 0, max: 40 })),
    });
    fc.assert(
      fc.property(
        fc.integer({ min: 11, max: 120 }),
        fc.array(order, { maxLength: 5 }),
        (concludeDay, orders) => {
          const steps: Steps = [...byTheBook(concludeDay)];
          orders.forEach((o, i) => {
            const id = `o-${i}`;
            steps.push([p.order(id, o.opened + o.lasts), o.opened]);
            if (o.answeredAfter !== null) steps.push([p.answered(id), o.opened + o.answeredAfter]);
            if (o.escalatedAfter !== null)
              steps.push([p.escalated(id, 2, o.opened + 60), o.opened + o.escalatedAfter]);
          });
          const v = viewOf(steps.sort((a, b) => a[1] - b[1]));
          const evaluation = supervisionPlan(v, DEFAULT_RULES, MODEL_V1).find(
            (a) => a.kind === 'EVALUATE',
          );
          if (!evaluation) return;
          const scored = evaluationAt(v, evaluation.at, MODEL_V1);
          const reasons = scored?.indicators.find(
            (i) => i.indicator === 'supervision_response',
          )?.reasons;
          expect(reasons?.join(' ')).not.toContain('awaiting');
          // Scored as if every unanswered order were due: the same evaluation.
          expect(scored).toEqual(scoreCase(asOf(v, evaluation.at), MODEL_V1, Infinity));
        },
      ),
    );
  });

  it('nothing after the case is archived', () => {
    const v = viewOf([...byTheBook(95)]);
    const archived = { ...v, archived: true, archivedAt: day(96).toISOString() };
    expect(
      supervisionPlan(archived, DEFAULT_RULES, MODEL_V1).every((a) => a.at < day(96).getTime()),
    ).toBe(true);
  });
});

describe('the ids the rules make', () => {
  /** A major case decided with an anomaly and no review, a manual order on it, concluded late: every kind of action. */
  const everything = (orderId: string): Steps => [
    [p.registered(true), 0],
    [p.dispatched(), 1],
    [p.order(orderId, 20), 5],
    [p.notified(), 30],
    [p.decided({ discretionAnomaly: true, anomalyReason: 'edge' }), 31],
    [p.concluded(), 120],
  ];
  const idsOf = (caseId: string, orderId: string) =>
    supervisionPlan(viewOf(everything(orderId), caseId), DEFAULT_RULES, MODEL_V1).flatMap((a) =>
      a.kind === 'OPEN_ORDER' ? [a.commandId, a.orderId] : [a.commandId],
    );
  const id = fc.string({ minLength: 1, maxLength: MAX_ID_LENGTH });

  it('are ids intake takes, for any case and order id it takes: stable, and distinct for distinct cases', () => {
    fc.assert(
      fc.property(id, id, id, (caseId, other, orderId) => {
        const mine = idsOf(caseId, orderId);
        // Every kind: five orders opened, their escalations, the manual order's, the evaluation.
        expect(mine.filter((x) => x.startsWith('evaluate:'))).toHaveLength(1);
        expect(mine.filter((x) => x.startsWith('escalate:')).length).toBeGreaterThan(5);
        for (const x of mine) expect(x.length, x).toBeLessThanOrEqual(MAX_ID_LENGTH);
        expect(idsOf(caseId, orderId)).toEqual(mine);
        if (other === caseId) return;
        // The manual order's escalations are named by its id alone: the same on any case.
        const theirs = new Set(idsOf(other, orderId));
        const shared = mine.filter((x) => theirs.has(x));
        expect(
          shared.every((x) => x.startsWith('escalate:') && !x.startsWith('escalate:auto-')),
        ).toBe(true);
      }),
    );
  });

  it('keep the case id in them while they fit, and its hash where it would not', () => {
    const long = 'x'.repeat(MAX_ID_LENGTH);
    expect(idsOf('c1', 'o-1')).toContain('evaluate:supervision-score/v1:c1');
    const hashed = idsOf(long, 'o-1');
    expect(hashed).toContain(boundedId('evaluate:supervision-score/v1:', long));
    expect(boundedId('evaluate:supervision-score/v1:', long)).toMatch(
      /^evaluate:supervision-score\/v1:#[0-9a-f]{40}$/,
    );
    expect(boundedId('escalate:', `auto-overdue:${long}`, ':2')).toMatch(
      /^escalate:#[0-9a-f]{40}:2$/,
    );
  });

  it('recognises its own actions with hashed ids in the history', () => {
    const long = 'y'.repeat(MAX_ID_LENGTH);
    const steps = everything('o-1');
    const plan = supervisionPlan(viewOf(steps, long), DEFAULT_RULES, MODEL_V1);
    const opened = plan.find((a) => a.kind === 'OPEN_ORDER');
    if (opened?.kind !== 'OPEN_ORDER') throw new Error('no order opened');
    const recorded = viewOf(
      [
        ...steps,
        [
          {
            $case: 'supervisionOrderOpened',
            value: {
              orderId: opened.orderId,
              reason: opened.reason,
              note: '',
              responseDueAt: new Date(opened.responseDueAt),
              ruleId: opened.commandId,
            },
          },
          121,
          opened.commandId,
        ],
      ],
      long,
    );
    expect(pendingActions(recorded, DEFAULT_RULES, MODEL_V1).map((a) => a.commandId)).not.toContain(
      opened.commandId,
    );
  });
});

describe('rule actions a history no longer calls for', () => {
  type Step = Steps[number];
  /** A rule action as the event intake records for it, with its command id. */
  const recorded = (a: Action): Step[] => {
    const payload: Step[0] | null =
      a.kind === 'OPEN_ORDER'
        ? {
            $case: 'supervisionOrderOpened',
            value: {
              orderId: a.orderId,
              reason: a.reason,
              note: a.note,
              responseDueAt: new Date(a.responseDueAt),
              ruleId: a.commandId,
            },
          }
        : a.kind === 'ESCALATE'
          ? {
              $case: 'supervisionOrderEscalated',
              value: {
                orderId: a.orderId,
                level: a.level,
                reason: a.reason,
                responseDueAt: new Date(a.responseDueAt),
              },
            }
          : null;
    return payload ? [[payload, (a.at - day(0).getTime()) / 86_400_000, a.commandId]] : [];
  };
  /** The history with the rules' actions recorded as they fall due, up to `untilDay`, each judged on what came before it. */
  const judged = (steps: Steps, untilDay: number): Steps => {
    const out = [...steps];
    for (;;) {
      const next = pendingActions(viewOf(out), DEFAULT_RULES, MODEL_V1).find(
        (a) => a.kind !== 'EVALUATE' && a.at <= day(untilDay).getTime(),
      );
      if (!next) return out;
      out.push(...recorded(next));
    }
  };
  const unwarranted = (steps: Steps) => unwarrantedActions(viewOf(steps), DEFAULT_RULES, MODEL_V1);
  const concluded = (): Step[0] => ({
    $case: 'caseConcluded',
    value: { conclusion: events.Conclusion.CONCLUSION_NO_PENALTY, summary: '' },
  });

  it('names the orders and escalations a conclusion dated before them, arriving after, takes away', () => {
    const acted = judged(open, 100);
    expect(unwarranted(acted)).toEqual([]);
    expect(unwarranted([...acted, [concluded(), 30]])).toEqual([
      'approaching:c1',
      'escalate:auto-approaching:c1:1',
      'escalate:auto-approaching:c1:2',
      'overdue:c1',
      'escalate:auto-overdue:c1:1',
    ]);
    // Concluded after the deadline: every order stands, and every escalation.
    expect(unwarranted([...acted, [concluded(), 95]])).toEqual([]);
  });

  it('names the escalations an answer dated in time, arriving after them, takes away', () => {
    const acted = judged(open, 95);
    expect(unwarranted([...acted, [p.answered('auto-approaching:c1'), 85]])).toEqual([
      'escalate:auto-approaching:c1:1',
      'escalate:auto-approaching:c1:2',
    ]);
  });

  it('puts each action on the order it was taken on, and none on an order by hand', () => {
    const steps: Steps = [...judged(open, 100), [concluded(), 30], [p.order('o-9', 40), 40]];
    const all = unwarranted(steps);
    const byOrder = viewOf(steps).orders.map((o) => [o.orderId, unwarrantedOn(o, all)]);
    expect(byOrder).toEqual([
      [
        'auto-approaching:c1',
        ['approaching:c1', 'escalate:auto-approaching:c1:1', 'escalate:auto-approaching:c1:2'],
      ],
      ['auto-overdue:c1', ['overdue:c1', 'escalate:auto-overdue:c1:1']],
      ['o-9', []],
    ]);
  });

  it('leaves orders by hand alone, whatever rule id their opener wrote', () => {
    const byHand = p.order('o-9', 40);
    if (byHand.$case !== 'supervisionOrderOpened') throw new Error('an order');
    const steps: Steps = [
      ...byTheBook(30),
      [{ ...byHand, value: { ...byHand.value, ruleId: 'overdue:c1' } }, 20],
    ];
    expect(unwarranted(steps)).toEqual([]);
  });

  it('finds none while every fact arrives in time, on random histories judged as they go', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 11, max: 150 }),
        fc.option(fc.integer({ min: 2, max: 89 })),
        fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 3 }),
        (concludeDay, extendedOn, answers) => {
          // The facts in time order, the rules acting up to each before it comes.
          const facts: Steps = [[p.dispatched(), 1]];
          if (extendedOn !== null) facts.push([p.extended(120), extendedOn]);
          answers.forEach((after, i) => {
            const id = i === 0 ? 'auto-approaching:c1' : 'auto-overdue:c1';
            facts.push([p.answered(id), 80 + after]);
          });
          facts.push([concluded(), concludeDay]);
          let steps: Steps = [[p.registered(), 0]];
          for (const f of facts.sort((a, b) => a[1] - b[1])) {
            steps = judged(steps, f[1] - 1e-6);
            const v = viewOf(steps);
            // An answer to an order not opened, or already answered, intake refuses.
            const answer = f[0].$case === 'supervisionOrderAnswered' ? f[0].value.orderId : null;
            const o = v.orders.find((x) => x.orderId === answer);
            if (answer !== null && (!o || o.answeredAt !== null)) continue;
            steps.push(f);
          }
          steps = judged(steps, 200);
          expect(unwarranted(steps)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
