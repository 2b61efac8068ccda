import { reasonText, SCORE_REASONS } from '@enforcement/reference-data';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { asRecorded, MODEL_V1, scoreCase, type CaseScoreResult } from './scoring-model.js';
import { day, p, viewOf, type byTheBook } from './view.test-support.js';

type Steps = ReturnType<typeof byTheBook>;

/** A decision as intake records it: with the range it names and, when flagged, intake's words. */
const decisions = {
  none: null,
  inside: p.decided({ benchmarkMinFen: 1_000_000, benchmarkMaxFen: 50_000_000 }),
  outside: p.decided({
    fineFen: 80_000_000,
    benchmarkMinFen: 1_000_000,
    benchmarkMaxFen: 50_000_000,
    discretionAnomaly: true,
    grounds: '多次违法',
    // Intake's text for this decision (decide-enforcement.ts).
    anomalyReason: 'outside benchmark range 10,000 yuan - 500,000 yuan for its grade',
  }),
  edge: p.decided({
    fineFen: 50_000_000,
    benchmarkMinFen: 1_000_000,
    benchmarkMaxFen: 50_000_000,
    discretionAnomaly: true,
    anomalyReason: 'at the edge of the benchmark range without stated grounds',
  }),
  // A flagged decision that names no range (an older intake's, or a code without a benchmark).
  bare: p.decided({ discretionAnomaly: true, anomalyReason: '' }),
};

const history = fc.record({
  officers: fc.constantFrom(1, 2, 3),
  evidence: fc.array(fc.boolean(), { maxLength: 3 }),
  evidenceDay: fc.constantFrom(2, 11),
  notified: fc.boolean(),
  hearing: fc.boolean(),
  review: fc.boolean(),
  decision: fc.constantFrom(...(Object.keys(decisions) as (keyof typeof decisions)[])),
  concludeDay: fc.integer({ min: 12, max: 200 }),
  orders: fc.array(
    fc.record({
      opened: fc.integer({ min: 1, max: 60 }),
      lasts: fc.integer({ min: 1, max: 30 }),
      answeredAfter: fc.option(fc.integer({ min: 0, max: 40 })),
    }),
    { maxLength: 3 },
  ),
  corrected: fc.boolean(),
  judgedOn: fc.option(fc.integer({ min: 12, max: 260 })),
  maxIds: fc.integer({ min: 1, max: 4 }),
});

function scoreOf(h: typeof history extends fc.Arbitrary<infer T> ? T : never) {
  const steps: Steps = [
    [p.registered(), 0],
    [p.dispatched(h.officers), 1],
  ];
  for (const digest of h.evidence)
    steps.push([p.evidence(digest ? 'a'.repeat(64) : ''), h.evidenceDay]);
  if (h.notified) steps.push([p.notified(), 5]);
  if (h.hearing) steps.push([p.hearing(), 8]);
  if (h.review) steps.push([p.review(), 9]);
  const decision = decisions[h.decision];
  if (decision) steps.push([decision, 10]);
  h.orders.forEach((o, i) => {
    steps.push([p.order(`o-${i}`, o.opened + o.lasts), o.opened]);
    if (o.answeredAfter !== null) steps.push([p.answered(`o-${i}`), o.opened + o.answeredAfter]);
  });
  steps.push([p.concluded(), h.concludeDay]);
  steps.sort((a, b) => a[1] - b[1]);
  const v = viewOf(steps);
  const at = h.judgedOn === null ? undefined : day(h.judgedOn).getTime();
  const s = scoreCase({ ...v, correctedBy: h.corrected ? ['review-1'] : [] }, MODEL_V1, at);
  if (!s) throw new Error('a concluded case has a score');
  return asRecorded(s, h.maxIds);
}

/** Every reason has its code; the English of the code is the reason; the Chinese names every figure. */
function expectReasonsInBothLanguages(s: CaseScoreResult): void {
  for (const i of s.indicators) {
    expect(i.reasonDetails).toHaveLength(i.reasons.length);
    i.reasonDetails.forEach((d, k) => {
      expect(Object.keys(SCORE_REASONS)).toContain(d.code);
      expect(reasonText('en', d.code, d.args)).toBe(i.reasons[k]);
      const zh = reasonText('zh', d.code, d.args) ?? '';
      expect(zh).not.toMatch(/[{}]/);
      expect(zh).toMatch(/\p{Script=Han}/u);
      for (const figure of Object.values(d.args)) expect(zh).toContain(figure);
    });
  }
}

describe('the reasons of a score, in English and Chinese', () => {
  it('gives every reason of every indicator a code whose English is the reason and whose Chinese names the same figures', () => {
    fc.assert(
      fc.property(history, (h) => {
        const s = scoreOf(h);
        if (h.decision === 'bare') {
          // Nothing to name but the anomaly: intake's words are empty, so the code's English stands.
          const discretion = s.indicators.find((i) => i.indicator === 'discretion');
          expect(discretion?.reasonDetails[0]?.code).toBe('DISCRETION.ANOMALY');
        }
        expectReasonsInBothLanguages(s);
      }),
      { numRuns: 500 },
    );
  });

  it("reads which anomaly a decision is from its own figures, and keeps intake's words as the English", () => {
    const discretion = (decision: keyof typeof decisions) =>
      scoreOf({
        officers: 2,
        evidence: [true],
        evidenceDay: 2,
        notified: true,
        hearing: true,
        review: true,
        decision,
        concludeDay: 30,
        orders: [],
        corrected: false,
        judgedOn: null,
        maxIds: 10,
      }).indicators.find((i) => i.indicator === 'discretion');
    expect(discretion('outside')).toMatchObject({
      reasons: ['outside benchmark range 10,000 yuan - 500,000 yuan for its grade'],
      reasonDetails: [{ code: 'DISCRETION.OUTSIDE', args: { min: '10,000', max: '500,000' } }],
    });
    expect(reasonText('zh', 'DISCRETION.OUTSIDE', { min: '10,000', max: '500,000' })).toBe(
      '罚款超出该裁量阶次的基准范围（10,000 元至 500,000 元）',
    );
    expect(discretion('edge')?.reasonDetails).toEqual([{ code: 'DISCRETION.AT_EDGE', args: {} }]);
    expect(discretion('inside')?.reasonDetails).toEqual([{ code: 'DISCRETION.INSIDE', args: {} }]);
    expect(discretion('none')?.reasonDetails).toEqual([{ code: 'DISCRETION.NO_FINE', args: {} }]);
  });

  it('leaves a code it does not know to the recorded English, and a figure it lacks visible', () => {
    expect(reasonText('zh', 'TIMELINESS.SOMETHING_NEWER', {})).toBeUndefined();
    expect(reasonText('zh', 'TIMELINESS.LATE', {})).toBe('超过办案期限 {days} 天办结');
    expect(reasonText('zh', 'TIMELINESS.LATE', { days: '29' })).toBe('超过办案期限 29 天办结');
  });
});
