import { expect } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import { events, type intake } from '@enforcement/contracts';
import { eventually, unary } from '@enforcement/testing';
import { RULE_COMMAND, ruleDifferences } from './rules-oracle.js';
import type { WholeSystem } from './whole-system.js';

const stamp = (t: number) => new Date(t).toISOString();

/** The case a command is for. */
export const caseOf = (c: intake.Command): string => c.kind?.value.meta?.caseId ?? '';

/**
 * Once a load of these commands has been answered (RULES_CLOCK=events):
 * every agency judged up to its latest enforcement event, and every action
 * the plan dates before it taken, no other.
 */
export async function expectEndOfLoad(
  s: WholeSystem,
  md: Metadata,
  commands: readonly intake.Command[],
): Promise<void> {
  const caseIds = [...new Set(commands.map(caseOf))];
  const histories = async () => {
    const out = new Map<string, events.CaseEvent[]>();
    for (const caseId of caseIds) {
      const r = await unary<intake.GetCaseResponse>((cb) =>
        s.intakeClient.getCase({ caseId }, md, cb),
      );
      out.set(caseId, r.history);
    }
    return out;
  };
  // Each agency's latest enforcement event: how far its feed is stored once everything is.
  const latest = new Map<string, number>();
  for (const h of (await histories()).values())
    for (const e of h)
      if (e.caseType === events.CaseType.CASE_TYPE_ENFORCEMENT && !RULE_COMMAND.test(e.commandId))
        latest.set(e.agencyId, Math.max(latest.get(e.agencyId) ?? 0, e.occurredAt?.getTime() ?? 0));
  expect(latest.size).toBeGreaterThan(5);
  const want = [...latest]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([agency, t]) => `${agency} ${stamp(t)}`);
  const judged = async () =>
    (await s.scoring.runtime.rulesStatus()).agencies.map(
      (a) => `${a.agencyId} ${stamp(a.judgedUpTo)}`,
    );
  const clock = await eventually(
    async () => (JSON.stringify(await judged()) === JSON.stringify(want) ? true : undefined),
    { what: 'every agency judged up to its latest event', timeoutMs: 60_000 },
  ).catch(async () => `judged:\n${(await judged()).join('\n')}\nlatest:\n${want.join('\n')}`);
  expect(clock).toBe(true);

  const differences = await eventually(
    async () => (ruleDifferences(await histories()).length === 0 ? true : undefined),
    { what: 'the rules to reach the plan', timeoutMs: 60_000, intervalMs: 1_000 },
  ).catch(async () => ruleDifferences(await histories()).join('\n'));
  expect(differences).toBe(true);
}
