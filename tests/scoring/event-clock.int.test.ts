import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as status_, type Metadata } from '@grpc/grpc-js';
import { events, type intake, type scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { statutoryDueAt } from '@enforcement/reference-data';
import { loop } from '../support/loop.js';
import { ruleDifferences } from '../support/rules-oracle.js';
import { startSystem, tokenFor, unary, type System } from '../support/services.js';

/** Dispatches the loop's case as of `at` (late, when `at` is past its deadline). */
const dispatchAt = (sys: System, l: ReturnType<typeof loop>, agency: Metadata, at: Date) =>
  unary((cb) =>
    sys.intakeClient.dispatchCase(
      { ...l.dispatch, meta: { ...l.dispatch.meta, occurredAt: at } } as intake.DispatchCaseRequest,
      agency,
      cb,
    ),
  );

describe('loading a past year: the rules judge by the event time applied (RULES_CLOCK=events)', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  it('opens no order on a 2021 case the clock would find overdue; once the history passes its deadline, the orders dated when their conditions held', async () => {
    const caseId = uniqueName('y2021');
    const l = loop(caseId, new Date('2021-01-04T02:00:00Z'));
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    const view = () => sys.scoring.runtime.models.getCase(caseId);
    await eventually(async () => ((await view())?.view.version === 1 ? true : undefined), {
      what: 'projected',
    });
    // By the clock this case is five years past its deadline; in its history it is January 2021.
    await sys.scoring.runtime.tick();
    await sys.scoring.runtime.tick();
    const history = async () =>
      (
        await unary<intake.GetCaseResponse>((cb) =>
          sys.intakeClient.getCase({ caseId }, supervisor, cb),
        )
      ).history;
    expect((await history()).map((e) => e.payload?.$case)).toEqual(['caseRegistered']);

    // The history moves on to June 2021 (dispatched late): the April deadline has passed.
    const june = new Date('2021-06-01T02:00:00Z');
    await dispatchAt(sys, l, agency, june);
    const registered = new Date('2021-01-04T02:00:00Z').getTime();
    const opened = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const found = (await history()).filter(
          (e) => e.payload?.$case === 'supervisionOrderOpened',
        );
        return found.length === 2 ? found : undefined;
      },
      { what: 'the deadline orders' },
    );
    expect(opened.map((e) => [e.payload?.value, e.occurredAt])).toMatchObject([
      [
        { reason: events.SupervisionReason.SUPERVISION_REASON_APPROACHING_DEADLINE },
        new Date(statutoryDueAt(registered).getTime() - 10 * 86_400_000),
      ],
      [{ reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE }, statutoryDueAt(registered)],
    ]);
    // Unanswered, each escalates at its deadline, up to level 3; nothing is dated after June 1.
    const all = await history();
    const escalations = all.filter((e) => e.payload?.$case === 'supervisionOrderEscalated');
    expect(escalations).toHaveLength(4);
    expect(all.every((e) => (e.occurredAt?.getTime() ?? 0) <= june.getTime())).toBe(true);

    // A supervisor sees where the rules stand: this agency judged up to June 1, nothing left due.
    const status = await eventually(
      async () => {
        const s = await unary<scoring.GetRulesStatusResponse>((cb) =>
          sys.scoringClient.getRulesStatus({}, supervisor, cb),
        );
        return s.casesDue === 0 ? s : undefined;
      },
      { what: 'nothing due' },
    );
    expect(status.clock).toBe('events');
    expect(status.agencies).toContainEqual({
      agencyId: 'lz-eeb',
      judgedUpTo: june,
      casesDue: 0,
      ordersUnwarranted: 0,
    });
    expect(Number(status.actionsSent)).toBeGreaterThanOrEqual(6);
    const denied = await unary((cb) => sys.scoringClient.getRulesStatus({}, agency, cb)).catch(
      (e: { code: number }) => e.code,
    );
    expect(denied).toBe(status_.PERMISSION_DENIED);
  });
});

describe('the event clock waits for the moment itself (RULES_CLOCK=events)', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '600000' } });
    // An agency of its own: its clock moves with this test's events only.
    agency = await tokenFor(['agency'], ['lz-amr']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  it('does not evaluate a case concluded at its feed’s latest moment until that moment has passed: an answer sent next, dated the same instant, counts', async () => {
    const caseId = uniqueName('same-instant');
    const l = loop(caseId, new Date('2021-02-01T02:00:00Z'), 'lz-amr');
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    await unary((cb) => sys.intakeClient.dispatchCase(l.dispatch, agency, cb));
    for (const step of l.steps())
      await unary((cb) => sys.intakeClient.recordProgress(step, agency, cb));
    await unary((cb) => sys.intakeClient.decidePenalty(l.penalty(6), agency, cb));
    await unary((cb) =>
      sys.intakeClient.openSupervisionOrder(
        {
          meta: l.meta(7),
          orderId: `${caseId}-m1`,
          reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
          note: '',
          responseDueAt: l.meta(20).occurredAt,
          ruleId: '',
        },
        supervisor,
        cb,
      ),
    );
    const conclusion = l.conclude(10);
    await unary((cb) => sys.intakeClient.concludeCase(conclusion, agency, cb));
    const history = async () =>
      (
        await unary<intake.GetCaseResponse>((cb) =>
          sys.intakeClient.getCase({ caseId }, supervisor, cb),
        )
      ).history;
    // The conclusion is applied and is the agency's latest event: the feed
    // may still send more dated at that instant, so nothing is judged at it.
    await eventually(
      async () =>
        (await sys.scoring.runtime.models.getCase(caseId))?.view.concluded ? true : undefined,
      { what: 'the conclusion applied' },
    );
    await sys.scoring.runtime.tick();
    await sys.scoring.runtime.tick();
    expect((await history()).map((e) => e.payload?.$case)).not.toContain('caseEvaluated');

    // The answer, dated the conclusion's instant, is accepted and counts.
    await unary((cb) =>
      sys.intakeClient.answerSupervisionOrder(
        {
          meta: { ...l.meta(10), occurredAt: conclusion.meta?.occurredAt },
          orderId: `${caseId}-m1`,
          answer: '已整改',
        },
        agency,
        cb,
      ),
    );
    // The feed moves past the instant: the case is evaluated as it stood then, answer included.
    const next = loop(uniqueName('after'), new Date('2021-02-12T02:00:00Z'), 'lz-amr');
    await unary((cb) => sys.intakeClient.registerCase(next.register, agency, cb));
    const evaluated = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const h = await history();
        return h.some((e) => e.payload?.$case === 'caseEvaluated') ? h : undefined;
      },
      { what: 'the evaluation', timeoutMs: 30_000 },
    );
    // The oracle, with the later case that tells how far the agency's feed reaches.
    const later = (
      await unary<intake.GetCaseResponse>((cb) =>
        sys.intakeClient.getCase({ caseId: next.register.meta.caseId }, supervisor, cb),
      )
    ).history;
    expect(
      ruleDifferences(
        new Map([
          [caseId, evaluated],
          [next.register.meta.caseId, later],
        ]),
      ),
    ).toEqual([]);
    const evaluation = evaluated.find((e) => e.payload?.$case === 'caseEvaluated');
    expect(evaluation?.occurredAt).toEqual(conclusion.meta?.occurredAt);
  });
});

describe('the rules follow the stream, not only their ticker', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    // A ticker that would not run within the test: every pass below is one the stream asked for.
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '600000' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  it('opens the orders a history makes due as soon as it is applied, then escalates them, without waiting for a tick', async () => {
    const caseId = uniqueName('follow');
    const registeredAt = new Date('2021-01-04T02:00:00Z');
    const l = loop(caseId, registeredAt);
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    const june = new Date('2021-06-01T02:00:00Z');
    await dispatchAt(sys, l, agency, june);
    const supervision = await eventually(
      async () => {
        const history = (
          await unary<intake.GetCaseResponse>((cb) =>
            sys.intakeClient.getCase({ caseId }, supervisor, cb),
          )
        ).history;
        const found = history.flatMap((e) =>
          e.payload?.$case === 'supervisionOrderOpened' ||
          e.payload?.$case === 'supervisionOrderEscalated'
            ? [e.payload.$case]
            : [],
        );
        // The orders come in one pass; their escalations were judged with them.
        return found.length === 6 ? found : undefined;
      },
      { what: 'the deadline orders and their escalations', timeoutMs: 30_000 },
    );
    expect(supervision.filter((c) => c === 'supervisionOrderOpened')).toHaveLength(2);
    expect(supervision.filter((c) => c === 'supervisionOrderEscalated')).toHaveLength(4);
  });
});
