import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { events, type intake, scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { statutoryDueAt } from '@enforcement/reference-data';
import { MODEL_V1, scoreCase } from '@enforcement/supervision-scoring';
import { loop } from '../support/loop.js';
import { startSystem, tokenFor, unary, type System } from '../support/services.js';

const DAY = 86_400_000;

describe('the loop closes through the services', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startSystem();
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  const history = async (caseId: string) =>
    (
      await unary<intake.GetCaseResponse>((cb) =>
        sys.intakeClient.getCase({ caseId }, supervisor, cb),
      )
    ).history;
  const view = (caseId: string) => sys.scoring.runtime.models.getCase(caseId);
  /** Whether the case has a score: concluded, as its stored view says. */
  const scored = async (caseId: string) => {
    const doc = await view(caseId);
    return doc !== null && scoreCase(doc.view, MODEL_V1) !== undefined;
  };

  async function concluded(caseId: string, start: Date, concludeDay: number) {
    const l = loop(caseId, start);
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    await unary((cb) => sys.intakeClient.dispatchCase(l.dispatch, agency, cb));
    for (const step of l.steps())
      await unary((cb) => sys.intakeClient.recordProgress(step, agency, cb));
    await unary((cb) => sys.intakeClient.decidePenalty(l.penalty(8), agency, cb));
    await unary((cb) => sys.intakeClient.concludeCase(l.conclude(concludeDay), agency, cb));
    return l;
  }

  it('opens each deadline order once, dated when its condition first held, however often the rules run', async () => {
    const caseId = uniqueName('overdue');
    const registered = new Date(Date.now() - 100 * DAY);
    const l = loop(caseId, registered);
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    await unary((cb) => sys.intakeClient.dispatchCase(l.dispatch, agency, cb));
    await eventually(async () => ((await view(caseId))?.view.version === 2 ? true : undefined), {
      what: 'projected',
    });

    // The rules run again and again (as the ticker would) until both orders are back.
    await Promise.all([sys.scoring.runtime.tick(), sys.scoring.runtime.tick()]);
    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        return (await view(caseId))?.view.orders.length === 2 ? true : undefined;
      },
      { what: 'orders back in the read model' },
    );
    await sys.scoring.runtime.tick();

    const opened = (await history(caseId)).filter(
      (e) => e.payload?.$case === 'supervisionOrderOpened',
    );
    // Ten days before the 90-day deadline (24:00 city time of the 90th day
    // after registration's), then at it: not when the rules happened to look.
    const due = statutoryDueAt(registered).getTime();
    // Its notes name the deadline as the city reads it: the end of its last day.
    const dueDay = new Date(due + 8 * 3_600_000).toISOString().slice(0, 10);
    expect(opened.map((e) => [e.payload?.value, e.occurredAt])).toMatchObject([
      [
        {
          reason: events.SupervisionReason.SUPERVISION_REASON_APPROACHING_DEADLINE,
          ruleId: `approaching:${caseId}`,
          note: `statutory deadline ${dueDay} 24:00 UTC+8 is near`,
        },
        new Date(due - 10 * DAY),
      ],
      [
        {
          reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
          ruleId: `overdue:${caseId}`,
          note: `statutory deadline ${dueDay} 24:00 UTC+8 passed`,
        },
        new Date(due),
      ],
    ]);

    // Its answer was due three days ago: it is escalated by now. The order list
    // is written just after the case's record: wait for it.
    const listed = () =>
      unary<scoring.ListSupervisionOrdersResponse>((cb) =>
        sys.scoringClient.listSupervisionOrders(
          scoring.ListSupervisionOrdersRequest.fromPartial({
            agencyId: 'lz-eeb',
            status: scoring.OrderStatus.ORDER_STATUS_ESCALATED,
            reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
            pageSize: 100,
          }),
          supervisor,
          cb,
        ),
      );
    const orders = await eventually(
      async () => {
        const r = await listed();
        return r.orders.some((o) => o.caseId === caseId) ? r : undefined;
      },
      { what: 'the order listed' },
    );
    expect(orders.orders.filter((o) => o.caseId === caseId)).toHaveLength(1);
  });

  it("opens the orders the law requires however the agency names its own commands: the rules' ids are theirs", async () => {
    const caseId = uniqueName('claimed');
    const registered = new Date(Date.now() - 100 * DAY);
    const l = loop(caseId, registered);
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    await unary((cb) => sys.intakeClient.dispatchCase(l.dispatch, agency, cb));
    // Until 2026-12-08 the agency could take the ids the rules would send
    // their orders under (docs/scoring.md lists them), and each order was
    // refused as a reused command id every time the rules sent it.
    const [evidence] = l.steps();
    for (const commandId of [`overdue:${caseId}`, `approaching:${caseId}`]) {
      const claimed = await unary((cb) =>
        sys.intakeClient.recordProgress(
          { ...evidence, meta: { ...evidence?.meta, caseId, commandId } },
          agency,
          cb,
        ),
      ).catch((e: ServiceError) => e);
      expect((claimed as ServiceError).code, commandId).toBe(status.INVALID_ARGUMENT);
      expect((claimed as ServiceError).details).toBe(
        `COMMAND.ID_RESERVED: meta.command_id: ${commandId} is an id of the supervision rules, kept for their openSupervisionOrder (docs/scoring.md); choose another`,
      );
    }
    const opened = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const orders = (await history(caseId)).filter(
          (e) => e.payload?.$case === 'supervisionOrderOpened',
        );
        return orders.length === 2 ? orders : undefined;
      },
      { what: 'both deadline orders opened' },
    );
    expect(opened.map((e) => e.commandId)).toEqual([`approaching:${caseId}`, `overdue:${caseId}`]);
    // Nothing of the agency's claims was stored: those ids carry the orders alone.
    const under = (await history(caseId)).filter((e) =>
      [`overdue:${caseId}`, `approaching:${caseId}`].includes(e.commandId),
    );
    expect(under.map((e) => e.payload?.$case)).toEqual([
      'supervisionOrderOpened',
      'supervisionOrderOpened',
    ]);
  });

  it('takes a case concluded late on its 90th day, after the hour it was registered, as in time: no OVERDUE order, full timeliness', async () => {
    const caseId = uniqueName('due-day');
    // Registered at 09:00 city time 120 days ago; concluded at 22:00 city time on its 90th day after.
    const nineAm = new Date(Date.now() - 120 * DAY);
    nineAm.setUTCHours(1, 0, 0, 0);
    const due = statutoryDueAt(nineAm).getTime();
    await concluded(caseId, nineAm, (due - 2 * 3_600_000 - nineAm.getTime()) / DAY);
    expect(new Date(due).toISOString().slice(11)).toBe('15:59:59.999Z');
    const score = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        if (!(await history(caseId)).some((e) => e.payload?.$case === 'caseEvaluated'))
          return undefined;
        return unary<scoring.GetCaseScoreResponse>((cb) =>
          sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
        );
      },
      { what: 'the case evaluated' },
    );
    const reasons = (await history(caseId))
      .filter((e) => e.payload?.$case === 'supervisionOrderOpened')
      .map((e) => (e.payload?.value as events.SupervisionOrderOpened).reason);
    // Ten days before its deadline it was near, and it never passed.
    expect(reasons).toEqual([events.SupervisionReason.SUPERVISION_REASON_APPROACHING_DEADLINE]);
    expect(score.score?.indicators.find((i) => i.indicator === 'timeliness')).toMatchObject({
      points: 30,
      reasons: ['concluded within the statutory deadline'],
    });
  });

  it('records the evaluation of a concluded case back into its history, then lets it be archived', async () => {
    const caseId = uniqueName('eval');
    await concluded(caseId, new Date(Date.now() - 40 * DAY), 30);
    await eventually(async () => ((await scored(caseId)) ? true : undefined), {
      what: 'scored',
    });
    const evaluated = await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        return (await history(caseId)).find((e) => e.payload?.$case === 'caseEvaluated');
      },
      { what: 'evaluation in intake' },
    );
    const score = await unary<scoring.GetCaseScoreResponse>((cb) =>
      sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
    );
    expect(evaluated.payload?.value).toMatchObject({
      score: score.score?.score,
      modelVersion: 'supervision-score/v1',
    });
    expect(score.score?.score).toBe(100);

    const archived = await unary<intake.CommandResult>((cb) =>
      sys.intakeClient.archiveCase({ meta: { commandId: uniqueName('arch'), caseId } }, agency, cb),
    );
    expect(archived.events[0]?.payload?.$case).toBe('caseArchived');
  });

  it('deducts a reconsideration correction from the case score and its rollups', async () => {
    const caseId = uniqueName('corr');
    const agencyId = 'lz-eeb';
    await concluded(caseId, new Date(Date.now() - 60 * DAY), 20);
    await eventually(async () => ((await scored(caseId)) ? true : undefined), {
      what: 'scored',
    });
    const listAgency = async () => {
      const year = String(
        new Date((await view(caseId))?.view.concluded?.at ?? Date.now()).getUTCFullYear(),
      );
      const r = await unary<scoring.ListScoresResponse>((cb) =>
        sys.scoringClient.listScores(
          {
            groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: year,
            agencyId,
            district: '',
            domain: 0,
            ascending: false,
            pageSize: 10,
            pageToken: '',
          },
          supervisor,
          cb,
        ),
      );
      return r.rows[0];
    };
    const before = await listAgency();

    const reviewId = uniqueName('review');
    const meta = () => ({ commandId: uniqueName('rc'), caseId: reviewId });
    await unary((cb) =>
      sys.intakeClient.fileReconsideration(
        {
          meta: meta(),
          kind: events.ReviewKind.REVIEW_KIND_RECONSIDERATION,
          enforcementCaseId: caseId,
          respondentAgencyId: agencyId,
          applicant: '柳州某公司',
          district: '鱼峰区',
          domain: events.Domain.DOMAIN_ENVIRONMENT,
          claims: '处罚过重',
        },
        supervisor,
        cb,
      ),
    );
    await unary((cb) =>
      sys.intakeClient.acceptReconsideration(
        { meta: meta(), handledBy: '市司法局' },
        supervisor,
        cb,
      ),
    );
    await unary((cb) =>
      sys.intakeClient.concludeReconsideration(
        { meta: meta(), outcome: events.ReviewOutcome.REVIEW_OUTCOME_CHANGED, summary: '变更罚款' },
        supervisor,
        cb,
      ),
    );

    const corrected = await eventually(
      async () => {
        const r = await unary<scoring.GetCaseScoreResponse>((cb) =>
          sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
        );
        return r.score?.corrected ? r.score : undefined;
      },
      { what: 'correction applied' },
    );
    expect(corrected.score).toBe(80);
    expect(corrected.indicators.find((i) => i.indicator === 'correction')).toMatchObject({
      points: -20,
      eventIds: [reviewId],
    });
    const after = await listAgency();
    expect(after?.correctedCases).toBe((before?.correctedCases ?? 0) + 1);
    expect((after?.meanScore ?? 0) * (after?.cases ?? 0)).toBeCloseTo(
      (before?.meanScore ?? 0) * (before?.cases ?? 0) - 20,
      1,
    );
  });
});
