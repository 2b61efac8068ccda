import { events, intake } from '@enforcement/contracts';
import { DISTRICTS } from '@enforcement/reference-data';
import { eventually, tokenFor, unary } from '@enforcement/testing';
import type { WholeSystem } from './whole-system.js';

const DAY_MS = 86_400_000;

/**
 * Registers a case 100 days old with agency lz-eeb: past its 90-day deadline,
 * so the supervision rules open an OVERDUE order on it. `parties: false`
 * leaves the parties out, which intake refuses (FIELD.REQUIRED).
 */
export async function registerOverdueCase(
  sys: WholeSystem,
  caseId: string,
  o: { parties?: boolean } = {},
): Promise<intake.CommandResult> {
  const md = await tokenFor(['agency'], ['lz-eeb']);
  return unary<intake.CommandResult>((cb) =>
    sys.intakeClient.registerCase(
      intake.RegisterCaseRequest.fromPartial({
        meta: {
          commandId: `${caseId}:1`,
          caseId,
          occurredAt: new Date(Date.now() - 100 * DAY_MS),
        },
        agencyId: 'lz-eeb',
        district: DISTRICTS[0],
        domain: 1,
        violationCode: 'ENV-AIR-001',
        legalBasis: '《大气污染防治法》第九十九条',
        source: 1,
        parties: o.parties === false ? [] : [{ kind: 2, name: '柳州某公司', identifier: '9145' }],
        title: caseId,
      }),
      md,
      cb,
    ),
  );
}

/** The case's history as intake holds it, read as a supervisor. */
export async function historyOf(sys: WholeSystem, caseId: string): Promise<events.CaseEvent[]> {
  const md = await tokenFor(['supervisor']);
  return (await unary<intake.GetCaseResponse>((cb) => sys.intakeClient.getCase({ caseId }, md, cb)))
    .history;
}

/**
 * Waits for the rules' actions on a case `registerOverdueCase` made, never
 * concluded: the deadline warning, the overdue order and the three
 * escalations due by now (docs/scoring.md). Returns the command ids behind
 * them, by order id.
 */
export async function deadlineOrders(
  sys: WholeSystem,
  caseId: string,
): Promise<Map<string, string[]>> {
  const byOrder = (h: events.CaseEvent[]) => {
    const out = new Map<string, string[]>();
    for (const e of h) {
      const p = e.payload;
      if (p?.$case !== 'supervisionOrderOpened' && p?.$case !== 'supervisionOrderEscalated')
        continue;
      const id = p.value.orderId;
      out.set(id, [...(out.get(id) ?? []), e.commandId]);
    }
    return out;
  };
  return eventually(
    async () => {
      const found = byOrder(await historyOf(sys, caseId));
      return [...found.values()].flat().length === 5 ? found : undefined;
    },
    { timeoutMs: 60_000, what: 'the rules to open and escalate the deadline orders' },
  );
}

/**
 * The agency's conclusion of a case `registerOverdueCase` made, dated 30
 * days after its registration, in time, and sent now, after the rules
 * judged it overdue: late data.
 */
export async function concludeLate(sys: WholeSystem, caseId: string): Promise<void> {
  const agency = await tokenFor(['agency'], ['lz-eeb']);
  await unary<intake.CommandResult>((cb) =>
    sys.intakeClient.concludeCase(
      intake.ConcludeCaseRequest.fromPartial({
        meta: {
          commandId: `${caseId}:concluded`,
          caseId,
          occurredAt: new Date(Date.now() - 70 * DAY_MS),
        },
        conclusion: events.Conclusion.CONCLUSION_NO_PENALTY,
      }),
      agency,
      cb,
    ),
  );
}
