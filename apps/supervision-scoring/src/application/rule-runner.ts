import { dueFirings, type RuleConfig } from '../domain/rules.js';
import { scoreCase, type ScoringModel } from '../domain/scoring-model.js';
import type { CaseView } from '../domain/case-view.js';
import type { Clock, IntakeCommands } from './ports.js';
import { metrics, type Counter } from '@opentelemetry/api';

let ordersCounter: Counter | undefined;
/** Made on first use, so a meter provider registered after this module loaded still gets it. */
const ordersOpened = () =>
  (ordersCounter ??= metrics
    .getMeter('supervision-scoring')
    .createCounter('enforcement.supervision.orders_opened', {
      description: 'Supervision orders the rules opened, by rule',
    }));

export interface WatchSource {
  watched(): Promise<{ view: CaseView; fired: string[] }[]>;
  markFired(caseId: string, ruleId: string): Promise<void>;
}

/**
 * Codes from intake that mean "already done" or "can never be done": stop
 * trying. COMMAND.ID_REUSED: an earlier firing of the same rule (another
 * instance, or this one before a restart) landed with other details.
 */
const SETTLED =
  /ORDER\.DUPLICATE|ORDER\.NOT_OPEN|ORDER\.NOT_FOUND|CASE\.ARCHIVED|CASE\.INVALID_TRANSITION|COMMAND\.ID_REUSED/;

export interface RunnerDeps {
  readonly source: WatchSource;
  readonly intake: IntakeCommands;
  readonly clock: Clock;
  readonly rules: RuleConfig;
  readonly model: ScoringModel;
  readonly log: (msg: string, err?: unknown) => void;
}

/**
 * The supervision rules, run on their own: on every tick, each watched case
 * is checked against the clock and its facts, and whatever fires goes to
 * case-intake, so the loop closes through the case's own history. A firing is
 * remembered once intake accepted it (or had it already), and its command id
 * is stable, so a condition fires once even across restarts and instances.
 */
export async function runRules(deps: RunnerDeps): Promise<number> {
  const now = deps.clock.now();
  let fired = 0;
  for (const { view, fired: done } of await deps.source.watched()) {
    for (const f of dueFirings(view, now, deps.rules, new Set(done), deps.model)) {
      try {
        if (f.kind === 'OPEN_ORDER') {
          await deps.intake.openOrder(view.caseId, { ...f }, now);
          ordersOpened().add(1, { rule: f.ruleId.split(':')[0] ?? '' });
        } else if (f.kind === 'ESCALATE') {
          await deps.intake.escalate(view.caseId, { ...f, commandId: f.ruleId }, now);
        } else {
          const score = scoreCase(view, deps.model);
          if (score) await deps.intake.recordEvaluation(view.caseId, score, f.ruleId, now);
        }
        fired++;
        await deps.source.markFired(view.caseId, f.ruleId);
      } catch (e) {
        if (SETTLED.test(String((e as { details?: string }).details ?? (e as Error).message))) {
          await deps.source.markFired(view.caseId, f.ruleId);
        } else {
          deps.log(`rule ${f.ruleId} on ${view.caseId} failed; retried next tick`, e);
        }
      }
    }
  }
  return fired;
}
