import { events, RULE_COMMAND_KINDS } from '@enforcement/contracts';
import {
  applyEvent,
  DEFAULT_RULES,
  emptyView,
  evaluationAt,
  MODEL_V1,
  supervisionPlan,
  type CaseView,
} from '@enforcement/supervision-scoring';

/** Rule actions carry these command ids; everything else in a history is an input. */
export const RULE_COMMAND = new RegExp(`^(${Object.keys(RULE_COMMAND_KINDS).join('|')}):`);

const fold = (history: readonly events.CaseEvent[], caseId: string): CaseView =>
  history.reduce(applyEvent, emptyView(caseId));
const stamp = (t: number) => new Date(t).toISOString();
const time = (e: events.CaseEvent) => e.occurredAt?.getTime() ?? 0;

/**
 * Where the running rules differ from their specification, case by case:
 * for each enforcement case, the actions `supervisionPlan` gives for its
 * inputs (everything but the rules' own events), dated before its agency's
 * latest enforcement event (the feed may still send more dated at that
 * moment itself): once a load has settled, however its items were stored,
 * whatever their floors (intake's feed marks), against the rules' events in its
 * history; and each evaluation's score against the case's score at the
 * moment the plan evaluates it (its conclusion, or once the orders open then
 * are settled). Empty when they agree.
 */
export function ruleDifferences(
  histories: ReadonlyMap<string, readonly events.CaseEvent[]>,
): string[] {
  const inputs = new Map<string, events.CaseEvent[]>();
  const reach = new Map<string, number>();
  for (const [caseId, h] of histories) {
    const own = h.filter((e) => !RULE_COMMAND.test(e.commandId));
    inputs.set(caseId, own);
    for (const e of own)
      if (e.caseType === events.CaseType.CASE_TYPE_ENFORCEMENT)
        reach.set(e.agencyId, Math.max(reach.get(e.agencyId) ?? 0, time(e)));
  }
  const out: string[] = [];
  for (const [caseId, h] of histories) {
    const own = inputs.get(caseId) ?? [];
    const first = own[0];
    if (!first || first.caseType !== events.CaseType.CASE_TYPE_ENFORCEMENT) continue;
    const want = supervisionPlan(fold(own, caseId), DEFAULT_RULES, MODEL_V1)
      .filter((a) => a.at < (reach.get(first.agencyId) ?? 0))
      .map((a) => `${a.commandId} @ ${stamp(a.at)}`)
      .sort();
    const got = h
      .filter((e) => RULE_COMMAND.test(e.commandId))
      .map((e) => `${e.commandId} @ ${stamp(time(e))}`)
      .sort();
    if (JSON.stringify(want) !== JSON.stringify(got))
      out.push(`${caseId}\n  plan:  ${want.join(', ')}\n  rules: ${got.join(', ')}`);
    const evaluation = h.find(
      (e) => e.payload?.$case === 'caseEvaluated' && e.commandId.startsWith('evaluate:'),
    );
    if (evaluation?.payload?.$case === 'caseEvaluated') {
      const score = evaluationAt(fold(h, caseId), time(evaluation), MODEL_V1)?.score;
      if (evaluation.payload.value.score !== score)
        out.push(
          `${caseId}: evaluated ${evaluation.payload.value.score}, scored ${score} at its evaluation moment`,
        );
    }
  }
  return out;
}
