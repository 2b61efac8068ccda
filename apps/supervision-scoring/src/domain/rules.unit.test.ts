import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { DEFAULT_RULES, dueFirings } from './rules.js';
import { MODEL_V1 } from './scoring-model.js';
import { byTheBook, day, p, viewOf } from './view.test-support.js';

const open = viewOf([
  [p.registered(), 0],
  [p.dispatched(), 1],
]);
const at = (d: number, v = open, fired: string[] = []) =>
  dueFirings(v, day(d), DEFAULT_RULES, new Set(fired), MODEL_V1);
const R = events.SupervisionReason;

describe('supervision rules, with a moved clock', () => {
  it('is quiet while a case is well within its deadline', () => {
    expect(at(30)).toEqual([]);
  });

  it('warns when the deadline approaches, then opens an overdue order once it has passed', () => {
    expect(at(81)).toMatchObject([
      {
        kind: 'OPEN_ORDER',
        reason: R.SUPERVISION_REASON_APPROACHING_DEADLINE,
        ruleId: 'approaching:c1',
      },
    ]);
    expect(at(91)).toMatchObject([
      {
        kind: 'OPEN_ORDER',
        reason: R.SUPERVISION_REASON_OVERDUE,
        ruleId: 'overdue:c1',
        orderId: 'auto-overdue:c1',
      },
    ]);
  });

  it('fires each condition once', () => {
    expect(at(91, open, ['overdue:c1'])).toEqual([]);
    const withOrder = viewOf([
      [p.registered(), 0],
      [p.dispatched(), 1],
      [
        {
          $case: 'supervisionOrderOpened',
          value: {
            orderId: 'auto-overdue:c1',
            reason: 1,
            note: '',
            responseDueAt: day(120),
            ruleId: 'overdue:c1',
          },
        },
        91,
      ],
    ]);
    expect(at(92, withOrder)).toEqual([]);
  });

  it('flags a discretion anomaly, a major decision without legal review, and a decision without evidence before it', () => {
    const v = viewOf([
      [p.registered(), 0],
      [p.dispatched(), 1],
      [p.notified(), 2],
      [p.decided({ discretionAnomaly: true, anomalyReason: 'edge' }), 3],
      [p.evidence(), 4],
    ]);
    expect(at(5, v).map((f) => f.ruleId)).toEqual([
      'discretion:c1',
      'legal-review:c1',
      'evidence:c1',
    ]);
  });

  it('escalates an order not answered by its deadline, once per level', () => {
    const v = viewOf([
      [p.registered(), 0],
      [p.dispatched(), 1],
      [p.order('o-1', 20), 5],
    ]);
    expect(at(19, v)).toEqual([]);
    expect(at(21, v)).toMatchObject([
      { kind: 'ESCALATE', orderId: 'o-1', ruleId: 'escalate:o-1:1' },
    ]);
    expect(at(22, v, ['escalate:o-1:1'])).toEqual([]);
  });

  it('asks for the evaluation of a concluded case, and nothing once it is archived', () => {
    const done = viewOf(byTheBook());
    expect(at(31, done)).toMatchObject([
      { kind: 'EVALUATE', ruleId: 'evaluate:supervision-score/v1:c1' },
    ]);
    expect(at(31, { ...done, archived: true })).toEqual([]);
  });
});
