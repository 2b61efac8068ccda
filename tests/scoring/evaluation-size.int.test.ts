import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import type { intake, scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';
import { loop } from '../support/loop.js';
import { tokenFor, unary } from '../support/services.js';

const DAY = 86_400_000;
const EVIDENCE = 200;
const LISTED = 20;

/**
 * A case with more evidence records than its evaluation could name within
 * the largest event intake takes: here 200 records against events of at most
 * 4 KiB (the default, 1 MB, is reached at some 25,000). The evaluation names
 * the first RULES_EVALUATION_EVENT_IDS of them and counts the rest; before,
 * intake refused it on every pass and the case was never evaluated.
 */
describe('the evaluation of a case with more evidence than an event can name', () => {
  let sys: WholeSystem;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startWholeSystem({
      intakeEnv: { MAX_EVENT_BYTES: '4096' },
      scoringEnv: { RULES_EVALUATION_EVENT_IDS: String(LISTED) },
    });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  it('is recorded, naming the first events of each indicator and counting the others, with the live score', async () => {
    const caseId = uniqueName('evidence-rich');
    const l = loop(caseId, new Date(Date.now() - 40 * DAY));
    const c = sys.intakeClient;
    await unary((cb) => c.registerCase(l.register, agency, cb));
    await unary((cb) => c.dispatchCase(l.dispatch, agency, cb));
    const [evidence, ...rest] = l.steps();
    const first = evidence?.step;
    if (first?.$case !== 'evidence') throw new Error('the loop starts with evidence');
    const item = first.value;
    for (let i = 0; i < EVIDENCE; i++)
      await unary((cb) =>
        c.recordProgress(
          {
            meta: l.meta(2),
            step: { $case: 'evidence', value: { ...item, evidenceId: `ev-${i}` } },
          },
          agency,
          cb,
        ),
      );
    for (const step of rest) await unary((cb) => c.recordProgress(step, agency, cb));
    await unary((cb) => c.decidePenalty(l.penalty(8), agency, cb));
    await unary((cb) => c.concludeCase(l.conclude(30), agency, cb));

    const evaluated = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const got = await unary<intake.GetCaseResponse>((cb) =>
          c.getCase({ caseId }, supervisor, cb),
        );
        const e = got.history.find((x) => x.payload?.$case === 'caseEvaluated');
        return e?.payload?.$case === 'caseEvaluated' ? e.payload.value : undefined;
      },
      { timeoutMs: 30_000, what: 'the evaluation in the history' },
    );
    const live = await unary<scoring.GetCaseScoreResponse>((cb) =>
      sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
    );
    const liveEvidence = live.score?.indicators.find((i) => i.indicator === 'evidence');
    expect(liveEvidence?.eventIds).toHaveLength(EVIDENCE);
    const recorded = evaluated.indicators.find((i) => i.indicator === 'evidence');
    expect(recorded).toMatchObject({
      points: liveEvidence?.points,
      eventIds: liveEvidence?.eventIds.slice(0, LISTED),
      reasons: [
        ...(liveEvidence?.reasons ?? []),
        `${EVIDENCE - LISTED} more events not listed (the case's history has them)`,
      ],
    });
    expect(evaluated.score).toBe(live.score?.score);
    // The other indicators name fewer events than the bound, and are recorded as scored.
    for (const i of evaluated.indicators.filter((x) => x.indicator !== 'evidence'))
      expect(i).toEqual(live.score?.indicators.find((x) => x.indicator === i.indicator));
  });
});
