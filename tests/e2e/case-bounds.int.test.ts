import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata } from '@grpc/grpc-js';
import { events, intake, reporting, scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { submitAll } from '../support/submit.js';
import { tokenFor, unary } from '../support/services.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

const DAY = 86_400_000;
const START = new Date('2025-03-03T09:00:00Z');
const at = (d: number) => new Date(START.getTime() + d * DAY);

/** The bounds intake holds a case to (docs/intake.md), as a client meets them. */
const INSPECTIONS = 1_000;
const EXTENSIONS = 10;
const ORDERS = 100;
const TOP_LEVEL = 10;

/**
 * A client that loops on one case: more steps, extensions, orders and
 * escalations than a case may hold, streamed as fast as intake takes them. Intake stores each up to
 * its bound and refuses the rest naming the rule and the field; what it
 * stored closes the loop as any case does, through scoring and reporting.
 */
describe('a case a client drives past every bound', () => {
  let sys: WholeSystem;
  let agency: Metadata;
  let supervisor: Metadata;
  const caseId = uniqueName('bounded');
  const l = loop(caseId, START);

  beforeAll(async () => {
    sys = await startWholeSystem();
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  const c = () => sys.intakeClient;
  const meta = (d: number): intake.CommandMeta => l.meta(d);

  /** Streams the commands through SubmitEvents, as a client that loops would: how many were stored, and the refusals. */
  async function streamed(md: Metadata, commands: intake.Command[]) {
    const acks = await submitAll(c(), md, commands);
    expect(acks).toHaveLength(commands.length);
    const refused = acks.filter((a) => !a.accepted);
    return { stored: acks.length - refused.length, refused };
  }

  it('stores each kind up to its bound, refuses the rest with FAILED_PRECONDITION naming the rule and field, and loses nothing stored', async () => {
    await unary((cb) => c().registerCase(l.register, agency, cb));
    await unary((cb) => c().dispatchCase(l.dispatch, agency, cb));

    const inspections = await streamed(
      agency,
      Array.from({ length: INSPECTIONS + 5 }, () => ({
        kind: {
          $case: 'recordProgress',
          value: {
            meta: meta(2),
            step: {
              $case: 'inspection',
              value: { location: '厂区', findings: '无', officerIds: ['off-1', 'off-2'] },
            },
          },
        },
      })),
    );
    expect(inspections.stored).toBe(INSPECTIONS);
    expect(inspections.refused.map((r) => r.sequence)).toEqual([1001, 1002, 1003, 1004, 1005]);
    for (const r of inspections.refused)
      expect(r).toMatchObject({
        errorCode: 'PROGRESS.TOO_MANY',
        statusCode: status.FAILED_PRECONDITION,
        reason: expect.stringMatching(/^inspection: the case records at most 1000 /),
      });

    // Each extension must move the deadline later, so they go one by one.
    const extend = (d: number) =>
      unary((cb) =>
        c().recordProgress(
          {
            meta: meta(3),
            step: {
              $case: 'extension',
              value: { newDueAt: at(d), reason: '案情复杂', approvedBy: '局长' },
            },
          },
          agency,
          cb,
        ),
      );
    for (let i = 0; i < EXTENSIONS; i++) await extend(100 + i);
    await expect(extend(400)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('PROGRESS.TOO_MANY: extension:'),
    });
    const orders = await streamed(
      supervisor,
      Array.from({ length: ORDERS + 3 }, (_, i) => ({
        kind: {
          $case: 'openSupervisionOrder',
          value: {
            meta: meta(4),
            orderId: `o-${i}`,
            reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
            note: '群众投诉',
            responseDueAt: at(60),
            ruleId: '',
          },
        },
      })),
    );
    expect(orders.stored).toBe(ORDERS);
    // The stream's items of one case are decided in order: the last three are refused.
    expect(orders.refused.map((r) => [r.sequence, r.statusCode, r.errorCode, r.reason])).toEqual(
      [101, 102, 103].map((sequence) => [
        sequence,
        status.FAILED_PRECONDITION,
        'ORDER.TOO_MANY',
        expect.stringContaining(`order_id: the case holds ${ORDERS} supervision orders`),
      ]),
    );

    const escalate = () =>
      unary((cb) =>
        c().escalateSupervisionOrder(
          { meta: meta(5), orderId: 'o-0', reason: '逾期未复', responseDueAt: at(70) },
          supervisor,
          cb,
        ),
      );
    for (let level = 2; level <= TOP_LEVEL; level++) await escalate();
    await expect(escalate()).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining(
        `ORDER.TOP_LEVEL: order_id: order o-0 is at level ${TOP_LEVEL}`,
      ),
    });

    const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
    const kinds = new Map<string, number>();
    for (const e of got.history)
      kinds.set(e.payload?.$case ?? '', (kinds.get(e.payload?.$case ?? '') ?? 0) + 1);
    expect(Object.fromEntries(kinds)).toEqual({
      caseRegistered: 1,
      caseDispatched: 1,
      inspectionRecorded: INSPECTIONS,
      deadlineExtended: EXTENSIONS,
      supervisionOrderOpened: ORDERS,
      supervisionOrderEscalated: TOP_LEVEL - 1,
    });
  });

  it('closes the loop all the same: answered, decided, evaluated by the rules, archived, and counted by scoring and reporting', async () => {
    const answers = await streamed(
      agency,
      Array.from({ length: ORDERS }, (_, i) => ({
        kind: {
          $case: 'answerSupervisionOrder',
          value: { meta: meta(6), orderId: `o-${i}`, answer: '已整改' },
        },
      })),
    );
    expect(answers.stored).toBe(ORDERS);
    for (const step of l.steps(7)) await unary((cb) => c().recordProgress(step, agency, cb));
    await unary((cb) => c().decidePenalty(l.penalty(11), agency, cb));
    await unary((cb) => c().concludeCase(l.conclude(12), agency, cb));

    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const got = await unary<intake.GetCaseResponse>((cb) =>
          c().getCase({ caseId }, supervisor, cb),
        );
        return got.case?.status === intake.CaseStatus.CASE_STATUS_EVALUATED ? true : undefined;
      },
      { timeoutMs: 60_000, what: "the rules' evaluation of the case" },
    );
    await unary((cb) => c().archiveCase({ meta: meta(13) }, agency, cb));
    const verified = await unary<intake.VerifyCaseResponse>((cb) =>
      c().verifyCase({ caseId }, supervisor, cb),
    );
    const stored = 2 + INSPECTIONS + EXTENSIONS + ORDERS + (TOP_LEVEL - 1) + ORDERS + 4 + 2 + 2;
    expect(verified).toMatchObject({ valid: true, archiveSealValid: true, eventCount: stored });

    const escalated = await eventually(
      async () => {
        const s = await unary<scoring.GetCaseScoreResponse>((cb) =>
          sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
        );
        if (s.score?.caseVersion !== stored) return undefined;
        return unary<scoring.ListSupervisionOrdersResponse>((cb) =>
          sys.scoringClient.listSupervisionOrders(
            scoring.ListSupervisionOrdersRequest.fromPartial({ escalatedOnly: true }),
            supervisor,
            cb,
          ),
        );
      },
      { timeoutMs: 60_000, what: 'scoring to apply the whole case' },
    );
    expect(escalated.orders.map((o) => [o.orderId, o.level])).toEqual([['o-0', TOP_LEVEL]]);

    const year = await eventually(
      async () => {
        const s = await unary<reporting.GetAnnualStatisticsResponse>((cb) =>
          sys.reportingClient.getAnnualStatistics(
            reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2025 }),
            supervisor,
            cb,
          ),
        );
        return s.overall?.casesConcluded === 1 ? s.overall : undefined;
      },
      { timeoutMs: 60_000, what: 'reporting to count the case' },
    );
    expect(year).toMatchObject({
      casesRegistered: 1,
      casesConcluded: 1,
      ordersOpened: ORDERS,
      ordersEscalated: 1,
      penalties: 1,
    });
  });
});
