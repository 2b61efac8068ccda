import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { byTheBook, day, p, viewOf } from './view.test-support.js';
import { asRecorded, MODEL_V1, scoreCase } from './scoring-model.js';
import { DEFAULT_RULES, supervisionPlan } from './rules.js';

const indicator = (steps: Parameters<typeof viewOf>[0], name: string) =>
  scoreCase(viewOf(steps), MODEL_V1)?.indicators.find((i) => i.indicator === name);

describe('scoring model v1', () => {
  it('gives a case done by the book full marks, with its model version and a breakdown naming events', () => {
    const s = scoreCase(viewOf(byTheBook()), MODEL_V1);
    expect(s?.score).toBe(100);
    expect(s?.modelVersion).toBe('supervision-score/v1');
    expect(s?.indicators.map((i) => [i.indicator, i.points])).toEqual([
      ['timeliness', 30],
      ['procedure', 25],
      ['discretion', 20],
      ['evidence', 15],
      ['supervision_response', 10],
      ['correction', 0],
    ]);
    expect(s?.indicators[0]?.eventIds).toEqual(['e1', 'e8']);
  });

  it('has no score while the case is open', () => {
    expect(scoreCase(viewOf(byTheBook().slice(0, 7)), MODEL_V1)).toBeUndefined();
  });

  it('takes 2 timeliness points per day past the deadline, down to zero', () => {
    expect(indicator(byTheBook(95), 'timeliness')).toMatchObject({
      points: 20,
      reasons: ['concluded 5 days past the deadline'],
    });
    expect(indicator(byTheBook(200), 'timeliness')?.points).toBe(0);
  });

  it('counts a case concluded on its due day, after the due moment, a day late', () => {
    // Registered 10:00 city time: due 10:00 on day 90; 16:00 is the same city day.
    expect(indicator(byTheBook(90.25), 'timeliness')).toMatchObject({
      points: 28,
      reasons: ['concluded 1 day past the deadline'],
      reasonDetails: [{ code: 'TIMELINESS.LATE_ONE_DAY', args: {} }],
    });
    expect(indicator(byTheBook(90), 'timeliness')).toMatchObject({
      points: 30,
      reasonDetails: [{ code: 'TIMELINESS.IN_TIME', args: {} }],
    });
  });

  it('takes timeliness points exactly when the rules open an OVERDUE order, per city day late', () => {
    const DAY = 86_400_000;
    fc.assert(
      fc.property(fc.integer({ min: 80 * DAY, max: 100 * DAY }), (afterRegistration) => {
        const v = viewOf(byTheBook(afterRegistration / DAY));
        const overdue = supervisionPlan(v, DEFAULT_RULES, MODEL_V1).some(
          (a) =>
            a.kind === 'OPEN_ORDER' &&
            a.reason === events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
        );
        const due = day(90).getTime();
        const concluded = day(0).getTime() + afterRegistration;
        // City days (UTC+8) from the due date to the conclusion's, at least one when late.
        const cityDay = (t: number) => Math.floor((t + 8 * 3_600_000) / DAY);
        const daysLate = overdue ? Math.max(1, cityDay(concluded) - cityDay(due)) : 0;
        const t = indicator(byTheBook(afterRegistration / DAY), 'timeliness');
        expect(t?.points).toBe(Math.max(0, 30 - 2 * daysLate));
        expect(t?.reasonDetails[0]?.code).toBe(
          !overdue
            ? 'TIMELINESS.IN_TIME'
            : daysLate === 1
              ? 'TIMELINESS.LATE_ONE_DAY'
              : 'TIMELINESS.LATE',
        );
        expect(overdue).toBe(concluded > due);
      }),
      { numRuns: 500 },
    );
  });

  it('takes procedure points for a major decision without legal review, and for a missing notice', () => {
    const noReview = byTheBook().filter(([x]) => x.$case !== 'legalReviewCompleted');
    expect(indicator(noReview, 'procedure')).toMatchObject({
      points: 19,
      reasons: ['major decision without legal review before it'],
    });
    const noNotice = byTheBook().filter(
      ([x]) => x.$case !== 'partyNotified' && x.$case !== 'hearingHeld',
    );
    expect(indicator(noNotice, 'procedure')?.points).toBe(11);
  });

  it('scores a discretion anomaly lower outside the band with grounds than at its edge', () => {
    const withDecision = (o: object) =>
      byTheBook().map(([x, d]) =>
        x.$case === 'penaltyDecided' ? [p.decided(o), d] : [x, d],
      ) as typeof byTheBook extends () => infer R ? R : never;
    expect(
      indicator(
        withDecision({ discretionAnomaly: true, grounds: '多次违法', anomalyReason: 'outside' }),
        'discretion',
      )?.points,
    ).toBe(8);
    expect(
      indicator(withDecision({ discretionAnomaly: true, anomalyReason: 'edge' }), 'discretion')
        ?.points,
    ).toBe(14);
  });

  it('takes evidence points when nothing was recorded before the decision', () => {
    const late = byTheBook().map(([x, d]) =>
      x.$case === 'evidenceRecorded' ? [x, 11] : [x, d],
    ) as ReturnType<typeof byTheBook>;
    expect(indicator(late, 'evidence')).toMatchObject({
      points: 5,
      reasons: ['no evidence recorded before the decision'],
    });
  });

  it('counts supervision orders answered on time', () => {
    const steps = [
      ...byTheBook().slice(0, 7),
      [p.order('a', 20), 12],
      [p.answered('a'), 14],
      [p.order('b', 20), 15],
      [p.answered('b'), 25],
      [p.concluded(), 30],
    ] as ReturnType<typeof byTheBook>;
    expect(indicator(steps, 'supervision_response')).toMatchObject({
      points: 5,
      reasons: ['1 of 2 supervision orders answered on time'],
    });
  });

  it('leaves an order out while it is in its response window, and counts it once its history shows it settled', () => {
    // Concluded on day 30; an order opened on day 31, due on day 40.
    const opened = [...byTheBook(30), [p.order('a', 40), 31]] as ReturnType<typeof byTheBook>;
    expect(indicator(opened, 'supervision_response')).toMatchObject({
      points: 10,
      reasons: ['1 awaiting its answer, due 2021-04-10'],
      eventIds: ['e9'],
    });
    expect(indicator([...opened, [p.answered('a'), 35]], 'supervision_response')).toMatchObject({
      points: 10,
      reasons: ['1 of 1 supervision orders answered on time'],
    });
    // Past its deadline unanswered: escalated by the rules then, or any later event of the case.
    for (const later of [p.escalated('a', 2, 45), p.answered('a')])
      expect(indicator([...opened, [later, 41]], 'supervision_response')).toMatchObject({
        points: 0,
        reasons: ['0 of 1 supervision orders answered on time'],
      });
    // One settled late, two still in their window.
    const mixed = [
      ...opened,
      [p.order('b', 60), 32],
      [p.answered('a'), 41],
      [p.order('c', 50), 42],
    ] as ReturnType<typeof byTheBook>;
    expect(indicator(mixed, 'supervision_response')).toMatchObject({
      points: 0,
      reasons: [
        '0 of 1 supervision orders answered on time',
        '2 awaiting their answers, the first due 2021-04-20',
      ],
    });
    expect(scoreCase(viewOf(mixed), MODEL_V1)?.score).toBe(90);
  });

  it('settles an unanswered order at the very moment of its deadline, and takes an answer made at that moment as on time', () => {
    const opened = viewOf([...byTheBook(30), [p.order('a', 40), 31]]);
    const response = (v: typeof opened, at: number) =>
      scoreCase(v, MODEL_V1, at)?.indicators.find((i) => i.indicator === 'supervision_response');
    const due = day(40).getTime();
    expect(response(opened, due - 1)).toMatchObject({
      points: 10,
      reasons: [expect.stringMatching(/^1 awaiting/)],
    });
    // Nothing can be answered on time after this moment: the order is late at it.
    expect(response(opened, due)).toMatchObject({
      points: 0,
      reasons: ['0 of 1 supervision orders answered on time'],
    });
    const answeredAtDue = viewOf([...byTheBook(30), [p.order('a', 40), 31], [p.answered('a'), 40]]);
    expect(response(answeredAtDue, due)).toMatchObject({
      points: 10,
      reasons: ['1 of 1 supervision orders answered on time'],
    });
  });

  it('records at most the given number of event ids per indicator, counting the rest, with the same points', () => {
    const steps = byTheBook();
    const many = [
      ...steps.slice(0, 2),
      ...Array.from({ length: 5 }, () => [p.evidence(), 2]),
      ...steps.slice(3),
    ] as ReturnType<typeof byTheBook>;
    const s = scoreCase(viewOf(many), MODEL_V1);
    if (!s) throw new Error('not scored');
    expect(asRecorded(s, 5)).toBe(s);
    const r = asRecorded(s, 2);
    expect(r.score).toBe(s.score);
    expect(r.indicators.map((i) => i.points)).toEqual(s.indicators.map((i) => i.points));
    const evidence = r.indicators.find((i) => i.indicator === 'evidence');
    expect(evidence?.eventIds).toEqual(['e3', 'e4']);
    expect(evidence?.reasons.at(-1)).toBe("3 more events not listed (the case's history has them)");
    // Timeliness names two events, procedure more: each indicator is bounded on its own.
    expect(r.indicators.find((i) => i.indicator === 'timeliness')).toEqual(
      s.indicators.find((i) => i.indicator === 'timeliness'),
    );
    expect(r.indicators.find((i) => i.indicator === 'procedure')?.eventIds).toHaveLength(2);
  });

  it('deducts 20 points when the decision is corrected', () => {
    const v = viewOf(byTheBook());
    const s = scoreCase({ ...v, correctedBy: ['review-1'] }, MODEL_V1);
    expect(s?.score).toBe(80);
    expect(s?.indicators.at(-1)).toMatchObject({
      indicator: 'correction',
      points: -20,
      eventIds: ['review-1'],
    });
  });
});
