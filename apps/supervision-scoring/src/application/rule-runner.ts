import { metrics, type Counter } from '@opentelemetry/api';
import type { CaseView } from '../domain/case-view.js';
import { evaluationAt, pendingActions, type Action, type RuleConfig } from '../domain/rules.js';
import { asRecorded, EVALUATION_EVENT_IDS, type ScoringModel } from '../domain/scoring-model.js';
import type { CaseRecord, IntakeCommands, ItemOutcome, SupervisionItem } from './ports.js';

let counters: { opened: Counter; actions: Counter; unwarranted: Counter } | undefined;
/** Made on first use, so a meter provider registered after this module loaded still gets them. */
const meters = () =>
  (counters ??= {
    opened: metrics
      .getMeter('supervision-scoring')
      .createCounter('enforcement.supervision.orders_opened', {
        description: 'Supervision orders the rules opened, by rule',
      }),
    actions: metrics
      .getMeter('supervision-scoring')
      .createCounter('enforcement.supervision.rule_actions', {
        description: 'Rule actions sent to case-intake, by kind and outcome',
      }),
    unwarranted: metrics
      .getMeter('supervision-scoring')
      .createCounter('enforcement.supervision.unwarranted_actions', {
        description:
          "Rule actions found in a case's history that it no longer calls for (late data), by agency and rule",
      }),
  });

/**
 * Rule actions a case's history, as it now stands, does not call for
 * (`unwarrantedActions`): a fact dated before them arrived after the rules
 * judged the case. What was recorded stays; operators hear of it, once per
 * action (docs/operations.md, UnwarrantedRuleActions).
 */
export function unwarrantedFound(
  log: (msg: string, err?: unknown) => void,
  view: CaseView,
  actions: readonly string[],
): void {
  for (const a of actions)
    meters().unwarranted.add(1, {
      agency: view.agencyId,
      rule: a.slice(0, Math.max(0, a.indexOf(':'))),
    });
  log(
    `case ${view.caseId} of ${view.agencyId}: its history no longer calls for the rules' ${actions.join(', ')}; a fact dated before them arrived after the rules judged the case (late data: is the agency's feed sent in time order, over one intake instance?)`,
  );
}

export interface SentAction {
  readonly until: number;
  readonly refused: boolean;
  /** Refusals in a row, so a refusal that persists is tried less and less often. */
  readonly refusals: number;
}

/** A timer as the store keeps it: the case, its agency, when its next action falls due. */
export interface Timer {
  readonly _id: string;
  readonly agencyId: string;
  readonly nextAt: Date;
  /** The case version the timer was computed on (absent on timers written before versions were kept). */
  readonly version?: number;
}

export interface RunnerDeps {
  /** Timers due by `until`, earliest first, a page after `after`. */
  readonly timers: (
    until: number,
    limit: number,
    after?: { at: Date; id: string },
  ) => Promise<Timer[]>;
  readonly cases: (caseIds: readonly string[]) => Promise<Map<string, CaseRecord>>;
  /** Moves a timer that is ahead of its case's record to where the record says (null: none). */
  readonly mend?: (caseId: string, seen: Date, at: number | null) => Promise<void>;
  /**
   * The agency's watermark (ms): every fact of its cases dated before it is
   * applied; one dated at it may still come. Undefined: not known yet.
   */
  readonly timeFor: (agencyId: string) => number | undefined;
  /** The latest time of any agency: no timer after it can be due. */
  readonly until: number;
  readonly intake: IntakeCommands;
  readonly rules: RuleConfig;
  readonly model: ScoringModel;
  /** Actions sent and not seen back in the read model yet, or refused (command id → until when, which, how often refused). */
  readonly sent: Map<string, SentAction>;
  readonly now: () => number;
  readonly log: (msg: string, err?: unknown) => void;
  readonly pageSize?: number;
  readonly maxPages?: number;
  /**
   * Whether this instance judges the case: the one whose consumer holds the
   * case's partition (absent: every case). With several instances, each
   * timer is judged by one of them, on the partition it applies itself.
   */
  readonly owns?: (caseId: string) => boolean;
}

/** How long a sent action is not sent again while the projection catches up. */
const SENT_FOR_MS = 120_000;
/**
 * How long an action intake refused is left alone before it is tried again
 * (the case may have changed): 5 s, doubling with each refusal, up to an hour.
 * Its case waits meanwhile (nothing is done past it).
 */
const refusedFor = (refusals: number) => Math.min(3_600_000, 5_000 * 2 ** (refusals - 1));

export interface TickResult {
  readonly sent: number;
  readonly refused: number;
  readonly failed: number;
  /**
   * Why actions could not be sent this pass, when intake could not take them
   * (unreachable, its store down, no answer, scoring's token refused);
   * undefined when it could.
   * A version conflict is not trouble: the stream is ahead of the projection,
   * and the action goes again once the case's events are applied.
   */
  readonly trouble?: string;
}

/** Answers that mean the case moved on, not that intake is in trouble. */
const ROUTINE = new Set(['CASE.VERSION_CONFLICT']);

/**
 * The supervision rules, run on their own. Each case with something still to
 * do is indexed under the time its next action falls due (its timer); a pass
 * reads the timers due by the rules' time, and for each case sends every
 * action of its plan (`supervisionPlan`) dated before its agency's
 * watermark, in one SubmitEvents stream with an acknowledgement
 * per item. Actions are dated when their condition first held and their
 * command ids are stable, so the same history yields the same actions however
 * often, late, or on how many instances the rules run.
 */
export async function runRules(deps: RunnerDeps): Promise<TickResult> {
  const pageSize = deps.pageSize ?? 500;
  const maxPages = deps.maxPages ?? 20;
  const now = deps.now();
  // Entries past their time no longer hold anything back; a refused one is
  // kept a while longer, so a refusal that persists is tried less often.
  for (const [id, s] of deps.sent)
    if (s.until + (s.refused ? 7_200_000 : 0) <= now) deps.sent.delete(id);
  const result: Mutable<TickResult> = { sent: 0, refused: 0, failed: 0 };
  let after: { at: Date; id: string } | undefined;
  for (let page = 0; page < maxPages; page++) {
    const timers = await deps.timers(deps.until, pageSize, after);
    const last = timers[timers.length - 1];
    if (!last) break;
    after = { at: last.nextAt, id: last._id };
    const due = timers.filter((t) => {
      if (deps.owns && !deps.owns(t._id)) return false;
      const time = deps.timeFor(t.agencyId);
      return time !== undefined && t.nextAt.getTime() < time;
    });
    const records = due.length > 0 ? await deps.cases(due.map((t) => t._id)) : new Map();
    const items: SupervisionItem[] = [];
    for (const t of due) {
      const rec = records.get(t._id);
      const time = deps.timeFor(t.agencyId);
      if (!rec || rec.parked || time === undefined) continue;
      // The projection writes a case's timer before its record: a record
      // behind its timer is being written now. Judged on it, a timer that
      // is right would look stale and be mended away.
      if (t.version !== undefined && rec.view.version < t.version) continue;
      const pending = pendingActions(rec.view, deps.rules, deps.model);
      const next = pending[0]?.at ?? null;
      // A timer that says more than the case's record (its write interrupted,
      // or raced): set it right, rather than reading it on every pass.
      if (next === null || next > t.nextAt.getTime()) {
        if (next !== t.nextAt.getTime()) await deps.mend?.(t._id, t.nextAt, next);
        continue;
      }
      items.push(...actionsDue(rec, pending, time, now, deps));
    }
    if (items.length > 0) await send(items, deps, result);
    if (timers.length < pageSize) break;
  }
  return result;
}

/**
 * The case's actions due by `time`: a prefix of its pending actions, in
 * order, each expecting the version the one before it makes. Nothing is sent
 * past an action that is not (one sent and not back in the read model yet,
 * or one intake refused): the rules never act out of their plan's order. The
 * evaluation goes once everything dated before it is in the history.
 */
function actionsDue(
  rec: CaseRecord,
  pending: readonly Action[],
  time: number,
  now: number,
  deps: RunnerDeps,
): SupervisionItem[] {
  const out: SupervisionItem[] = [];
  let version = rec.view.version;
  for (const [i, action] of pending.entries()) {
    // Strictly before: the feed may still send an event dated at `time` itself.
    if (action.at >= time || (deps.sent.get(action.commandId)?.until ?? 0) > now) break;
    if (action.kind === 'EVALUATE') {
      // Scored on the case as it stood at the conclusion: wait until what the
      // rules did before then is in its history.
      if (i > 0) break;
      const score = evaluationAt(rec.view, action.at, deps.model);
      if (!score) break;
      out.push({
        caseId: rec._id,
        action,
        score: asRecorded(score, deps.rules.evaluationEventIds ?? EVALUATION_EVENT_IDS),
        expectedVersion: version++,
      });
    } else out.push({ caseId: rec._id, action, expectedVersion: version++ });
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

async function send(
  items: SupervisionItem[],
  deps: RunnerDeps,
  result: Mutable<TickResult>,
): Promise<void> {
  let outcomes;
  try {
    outcomes = await deps.intake.supervise(items);
  } catch (e) {
    result.failed += items.length;
    for (const item of items)
      meters().actions.add(1, { kind: item.action.kind, outcome: 'failed', code: 'NOT_SENT' });
    result.trouble = `case-intake did not take ${items.length} action(s): ${(e as Error).message ?? String(e)}`;
    deps.log(`rule actions not sent (${items.length}); retried next pass`, e);
    return;
  }
  /** Actions intake did not take for a reason other than a version conflict, by code. */
  const troubled = new Map<string, { n: number; reason: string }>();
  /** Cases whose first failed item was trouble, by its code: the items behind it count under it. */
  const troubledCase = new Map<string, string>();
  const now = deps.now();
  /** Cases with an item that did not go through: what follows it was judged on what it would have made. */
  const interrupted = new Set<string>();
  items.forEach((item, i) => {
    const answer: ItemOutcome = outcomes[i] ?? {
      ok: false,
      retry: true,
      code: 'NO_ANSWER',
      reason: 'no acknowledgement',
    };
    // Behind an item of its case that did not go through: its answer is that item's.
    const behind = !answer.ok && interrupted.has(item.caseId);
    const o: ItemOutcome = behind ? { ...answer, retry: true } : answer;
    if (!o.ok) interrupted.add(item.caseId);
    const kind = item.action.kind;
    if (o.ok) {
      deps.sent.set(item.action.commandId, {
        until: now + SENT_FOR_MS,
        refused: false,
        refusals: 0,
      });
      result.sent++;
      meters().actions.add(1, { kind, outcome: 'accepted' });
      if (kind === 'OPEN_ORDER') meters().opened.add(1, { rule: ruleOf(item.action) });
    } else if (!o.retry) {
      const refusals = (deps.sent.get(item.action.commandId)?.refusals ?? 0) + 1;
      deps.sent.set(item.action.commandId, {
        until: now + refusedFor(refusals),
        refused: true,
        refusals,
      });
      result.refused++;
      meters().actions.add(1, { kind, outcome: 'refused', code: o.code });
      deps.log(
        `rule action ${item.action.commandId} refused by case-intake: ${o.code} ${o.reason}`,
      );
    } else {
      result.failed++;
      meters().actions.add(1, { kind, outcome: 'failed', code: o.code });
      const code = behind
        ? troubledCase.get(item.caseId)
        : ROUTINE.has(o.code)
          ? undefined
          : o.code;
      if (code !== undefined) {
        troubledCase.set(item.caseId, code);
        const seen = troubled.get(code);
        troubled.set(code, { n: (seen?.n ?? 0) + 1, reason: seen?.reason ?? o.reason });
      }
    }
  });
  // The commonest code, with the first reason given for it.
  const [code, worst] = [...troubled].sort((a, b) => b[1].n - a[1].n)[0] ?? [];
  if (worst)
    result.trouble = `case-intake did not take ${worst.n} action(s): ${code}: ${worst.reason}`;
}

const ruleOf = (a: Action): string => a.commandId.split(':')[0] ?? '';
