import { createHash } from 'node:crypto';
import { events, MAX_ID_LENGTH, type RuleName } from '@enforcement/contracts';
import { cityMoment } from '@enforcement/reference-data';
import type { CaseView, OrderView } from './case-view.js';
import { scoreCase, type CaseScoreResult, type ScoringModel } from './scoring-model.js';

export interface RuleConfig {
  /** Warn this many days before the statutory deadline. */
  readonly approachingDays: number;
  /** Days an agency has to answer an automatic order. */
  readonly responseDays: number;
  /** Days to answer after an escalation. */
  readonly escalationResponseDays: number;
  /** The rules escalate an unanswered order up to this level (1 is the order as opened). */
  readonly maxEscalationLevel: number;
  /** Event ids an evaluation lists per indicator (`asRecorded`); EVALUATION_EVENT_IDS when absent. */
  readonly evaluationEventIds?: number;
}

export const DEFAULT_RULES: RuleConfig = {
  approachingDays: 10,
  responseDays: 7,
  escalationResponseDays: 5,
  maxEscalationLevel: 3,
};

/**
 * Something the supervision rules do on a case, through case-intake, dated at
 * the moment its condition first held. `commandId` is stable per case, order
 * and level, so an action is taken once however often, wherever and however
 * late the rules run; intake answers a repeat as a duplicate.
 */
export type Action =
  | {
      readonly kind: 'OPEN_ORDER';
      readonly at: number;
      readonly commandId: string;
      readonly reason: events.SupervisionReason;
      readonly orderId: string;
      readonly note: string;
      readonly responseDueAt: number;
    }
  | {
      readonly kind: 'ESCALATE';
      readonly at: number;
      readonly commandId: string;
      readonly orderId: string;
      /** The level the order rises to. */
      readonly level: number;
      readonly reason: string;
      readonly responseDueAt: number;
    }
  | { readonly kind: 'EVALUATE'; readonly at: number; readonly commandId: string };

const DAY = 86_400_000;
const R = events.SupervisionReason;
const ms = (iso: string): number => new Date(iso).getTime();
const isoOf = (t: number): string => new Date(t).toISOString();
const KIND_ORDER = { OPEN_ORDER: 0, ESCALATE: 1, EVALUATE: 2 } as const;

/** Escalations the rules made carry this command id prefix; any other escalation was by hand. */
const AUTO_ESCALATION = 'escalate:';
/**
 * `prefix + id + suffix`, or, where that would be longer than intake takes
 * an id (MAX_ID_LENGTH), `prefix + '#' + ` the id's SHA-256 (40 hex digits)
 * `+ suffix`: stable for a case or an order, distinct for distinct ids.
 * Until 2026-12-05 a case id of 99 characters or more (intake takes 128)
 * made an evaluation id intake refused, on every tick, for good.
 */
export function boundedId(prefix: string, id: string, suffix = ''): string {
  const whole = `${prefix}${id}${suffix}`;
  if (whole.length <= MAX_ID_LENGTH) return whole;
  return `${prefix}#${createHash('sha256').update(id).digest('hex').slice(0, 40)}${suffix}`;
}
export const escalationId = (orderId: string, fromLevel: number) =>
  boundedId(AUTO_ESCALATION, orderId, `:${fromLevel}`);
export const evaluationId = (caseId: string, model: ScoringModel) =>
  boundedId(`evaluate:${model.version}:`, caseId);

/** The statutory deadline's history: [from, due) segments, in the order they were set. */
function deadlines(v: CaseView): { at: number; due: number }[] {
  const set = v.deadlines ?? [{ at: v.registeredAt, dueAt: v.dueAt }];
  return set.map((d) => ({ at: ms(d.at), due: ms(d.dueAt) }));
}

/** The deadline in force at `t`. */
function dueAsOf(v: CaseView, t: number): number {
  let due = ms(v.dueAt);
  for (const d of deadlines(v)) if (d.at <= t) due = d.due;
  return due;
}

/**
 * The deadline orders: APPROACHING at the first moment the case is open and
 * within `approachingDays` of the deadline in force, OVERDUE at the first
 * deadline that passes with the case open. An extension granted before a
 * deadline replaces it; a conclusion at the deadline is in time.
 */
function deadlineOrders(
  v: CaseView,
  cfg: RuleConfig,
): { at: number; reason: 'approaching' | 'overdue' }[] {
  const concluded = v.concluded ? ms(v.concluded.at) : Infinity;
  const segs = deadlines(v);
  const out: { at: number; reason: 'approaching' | 'overdue' }[] = [];
  for (let i = 0; i < segs.length; i++) {
    const { at: from, due } = segs[i] as { at: number; due: number };
    const until = segs[i + 1]?.at ?? Infinity;
    const t = Math.max(from, due - cfg.approachingDays * DAY);
    if (t < until && t < due && t < concluded) {
      out.push({ at: t, reason: 'approaching' });
      break;
    }
  }
  for (let i = 0; i < segs.length; i++) {
    const { due } = segs[i] as { at: number; due: number };
    const until = segs[i + 1]?.at ?? Infinity;
    if (until <= due) continue; // extended before (or at) this deadline
    if (due < concluded) out.push({ at: due, reason: 'overdue' });
    break;
  }
  return out;
}

/**
 * The automatic escalations of one order: each time its deadline passes
 * unanswered, it rises a level with a new deadline, up to the configured
 * level. Escalations by hand move the deadline and the level as they happen.
 */
function escalations(
  order: { orderId: string; openedAt: number; responseDueAt: number },
  seen: OrderView | undefined,
  until: number,
  cfg: RuleConfig,
): Action[] {
  const answered = seen?.answeredAt ? ms(seen.answeredAt) : Infinity;
  const byHand = (seen?.escalations ?? [])
    .filter((x) => !x.commandId.startsWith(AUTO_ESCALATION))
    .map((x) => ({ at: ms(x.at), due: ms(x.responseDueAt) }))
    .sort((a, b) => a.at - b.at);
  const out: Action[] = [];
  let level = 1;
  let due = order.responseDueAt;
  for (let i = 0; ;) {
    const hand = byHand[i];
    if (hand && hand.at <= due) {
      level++;
      due = hand.due;
      i++;
      continue;
    }
    if (answered <= due || level >= cfg.maxEscalationLevel || due >= until) return out;
    out.push({
      kind: 'ESCALATE',
      at: due,
      commandId: escalationId(order.orderId, level),
      orderId: order.orderId,
      level: level + 1,
      reason: `not answered by ${cityMoment(due)}`,
      responseDueAt: due + cfg.escalationResponseDays * DAY,
    });
    level++;
    due += cfg.escalationResponseDays * DAY;
  }
}

/**
 * When an order's outcome is known: its answer, its first escalation, or
 * its first deadline passing unanswered, whichever comes first. From then
 * on it counts as answered in time or not, for good.
 */
function settledAt(order: { responseDueAt: number }, seen: OrderView | undefined): number {
  const escalated = seen?.escalations?.[0]?.at;
  return Math.min(
    order.responseDueAt,
    seen?.answeredAt ? ms(seen.answeredAt) : Infinity,
    escalated ? ms(escalated) : Infinity,
  );
}

/**
 * When a concluded case is evaluated: at its conclusion, unless supervision
 * orders opened by then are still within their response window; then when
 * the last of them is settled (and of any opened meanwhile). An order the
 * agency answers in time after the conclusion counts as answered in time;
 * scored at the conclusion it would count as unanswered, for good.
 */
export function evaluationMoment(
  concludedAt: number,
  orders: readonly { openedAt: number; settledAt: number }[],
): number {
  let t = concludedAt;
  for (;;) {
    const next = Math.max(t, ...orders.filter((o) => o.openedAt <= t).map((o) => o.settledAt));
    if (next === t) return t;
    t = next;
  }
}

/**
 * Every action the supervision rules take on a case, given its facts, in the
 * order of the moments their conditions first held: the specification the
 * running rules are checked against. Pure, and independent of when it is
 * asked: a fact only changes actions dated after it, so judging a case at
 * time T needs only its facts up to T (the rule runner waits for those).
 *
 * - APPROACHING, OVERDUE: see `deadlineOrders`.
 * - DISCRETION_ANOMALY, MISSING_LEGAL_REVIEW (a major decision without an
 *   approving review before it), MISSING_EVIDENCE (no evidence recorded
 *   before the decision): at the decision.
 * - each order, automatic or by hand, escalates at its deadline if unanswered.
 * - EVALUATE: at the conclusion, or once the orders open then are settled
 *   (`evaluationMoment`), scored on the case as it stood at that moment.
 */
export function supervisionPlan(v: CaseView, cfg: RuleConfig, model: ScoringModel): Action[] {
  if (v.kind !== 'ENFORCEMENT' || !v.registeredAt) return [];
  const until = v.archivedAt ? ms(v.archivedAt) : Infinity;
  const out: Action[] = [];
  const opened: { orderId: string; openedAt: number; responseDueAt: number }[] = [];
  const open = (rule: RuleName, at: number, reason: events.SupervisionReason, note: string) => {
    if (at >= until) return;
    const commandId = boundedId(`${rule}:`, v.caseId);
    const order = {
      orderId: boundedId('auto-', commandId),
      openedAt: at,
      responseDueAt: at + cfg.responseDays * DAY,
    };
    opened.push(order);
    out.push({ kind: 'OPEN_ORDER', at, commandId, reason, note, ...order });
  };

  for (const d of deadlineOrders(v, cfg))
    if (d.reason === 'overdue')
      open(
        'overdue',
        d.at,
        R.SUPERVISION_REASON_OVERDUE,
        `statutory deadline ${cityMoment(d.at)} passed`,
      );
    else
      open(
        'approaching',
        d.at,
        R.SUPERVISION_REASON_APPROACHING_DEADLINE,
        `statutory deadline ${cityMoment(dueAsOf(v, d.at))} is near`,
      );
  const p = v.penalty;
  if (p) {
    const decided = ms(p.at);
    if (p.discretionAnomaly)
      open('discretion', decided, R.SUPERVISION_REASON_DISCRETION_ANOMALY, p.anomalyReason);
    const review = v.legalReview;
    if (p.major && !(review?.approved && ms(review.at) <= decided))
      open(
        'legal-review',
        decided,
        R.SUPERVISION_REASON_MISSING_LEGAL_REVIEW,
        'major decision without legal review before it',
      );
    if (!v.evidence.some((e) => ms(e.at) <= decided))
      open(
        'evidence',
        decided,
        R.SUPERVISION_REASON_MISSING_EVIDENCE,
        'decision without evidence recorded before it',
      );
  }

  const auto = new Set(opened.map((o) => o.orderId));
  const byHand = v.orders
    .filter((o) => !o.ruleId && !auto.has(o.orderId))
    .map((o) => ({
      orderId: o.orderId,
      openedAt: ms(o.openedAt),
      responseDueAt: ms(o.firstResponseDueAt ?? o.responseDueAt),
    }));
  for (const o of [...opened, ...byHand])
    out.push(
      ...escalations(
        o,
        v.orders.find((x) => x.orderId === o.orderId),
        until,
        cfg,
      ),
    );
  const evaluateAt = v.concluded
    ? evaluationMoment(
        ms(v.concluded.at),
        [...opened, ...byHand].map((o) => ({
          openedAt: o.openedAt,
          settledAt: settledAt(
            o,
            v.orders.find((x) => x.orderId === o.orderId),
          ),
        })),
      )
    : Infinity;
  // An archived case was evaluated before (intake archives only evaluated cases).
  if (evaluateAt < until)
    out.push({ kind: 'EVALUATE', at: evaluateAt, commandId: evaluationId(v.caseId, model) });
  return out.sort((a, b) => a.at - b.at || KIND_ORDER[a.kind] - KIND_ORDER[b.kind]);
}

/** Whether the case's history already holds the action. */
export function isDone(v: CaseView, a: Action, model: ScoringModel): boolean {
  switch (a.kind) {
    case 'OPEN_ORDER':
      return v.orders.some((o) => o.ruleId === a.commandId || o.orderId === a.orderId);
    case 'ESCALATE':
      return v.orders.some(
        (o) =>
          o.orderId === a.orderId &&
          ((o.escalations ?? []).some((x) => x.commandId === a.commandId) ||
            // an order answered already can no longer escalate
            (o.answeredAt !== null && ms(o.answeredAt) <= a.at)),
      );
    case 'EVALUATE':
      return (v.evaluationCommandIds ?? []).includes(evaluationId(v.caseId, model));
    default: {
      const _exhaustive: never = a;
      return _exhaustive;
    }
  }
}

/** The plan's actions not in the history yet, earliest first. */
export const pendingActions = (v: CaseView, cfg: RuleConfig, model: ScoringModel): Action[] =>
  supervisionPlan(v, cfg, model).filter((a) => !isDone(v, a, model));

/**
 * The rules' actions a case's history holds that its plan, as the history
 * now stands, does not call for: orders the rules opened (by rule id) and
 * escalations they made (by command id). The rules judge a case as of their
 * clock, on what was applied by then, and a later fact cannot take a
 * condition that held back (a conclusion after the deadline leaves the
 * OVERDUE order called for). Only a fact dated before the action that
 * arrived after it can: late data (a stream that starts with facts earlier
 * than its feed's other streams stored, unary calls far out of time order,
 * clocks more than `RULES_LATENESS_MS` apart), or rules configured
 * otherwise since. What was
 * recorded stays recorded; this names it.
 */
export function unwarrantedActions(
  v: CaseView,
  cfg: RuleConfig,
  model: ScoringModel,
  /** The case's plan, when the caller has it already. */
  plan?: readonly Action[],
): string[] {
  if (v.kind !== 'ENFORCEMENT') return [];
  const made = v.orders.flatMap((o) => [
    // An order the rules opened: its id is made from its rule id.
    ...(o.ruleId && o.orderId === boundedId('auto-', o.ruleId) ? [o.ruleId] : []),
    ...(o.escalations ?? []).map((x) => x.commandId).filter((c) => c.startsWith(AUTO_ESCALATION)),
  ]);
  if (made.length === 0) return [];
  const planned = new Set((plan ?? supervisionPlan(v, cfg, model)).map((a) => a.commandId));
  return made.filter((c) => !planned.has(c));
}

/**
 * Of a case's actions its history no longer calls for (`unwarrantedActions`),
 * those on order `o`: its opening, by its rule id, and its escalations.
 */
export const unwarrantedOn = (o: OrderView, unwarranted: readonly string[]): string[] =>
  unwarranted.filter(
    (c) =>
      (c === o.ruleId && o.orderId === boundedId('auto-', c)) ||
      (o.escalations ?? []).some((x) => x.commandId === c),
  );

/** When the rules next have something to do on the case; undefined when nothing. */
export const nextActionAt = (
  v: CaseView,
  cfg: RuleConfig,
  model: ScoringModel,
): number | undefined => pendingActions(v, cfg, model)[0]?.at;

/**
 * The case as it stood at `t`, from the facts its view keeps with their
 * times: what an evaluation dated `t` scores, whenever it is computed.
 * Corrections on review are left out (see below).
 */
export function asOf(v: CaseView, t: number): CaseView {
  const by = (at: string) => ms(at) <= t;
  const keep = <T extends { at: string }>(x: T | null): T | null => (x && by(x.at) ? x : null);
  return {
    ...v,
    evidence: v.evidence.filter((e) => by(e.at)),
    notice: keep(v.notice),
    hearing: keep(v.hearing),
    legalReview: keep(v.legalReview),
    penalty: keep(v.penalty),
    concluded: keep(v.concluded),
    dueAt: isoOf(dueAsOf(v, t)),
    // Scored as of `t` by default, whatever came after.
    lastEventAt: isoOf(t),
    orders: v.orders
      .filter((o) => by(o.openedAt))
      .map((o) => {
        if (!o.escalations)
          return { ...o, answeredAt: o.answeredAt && by(o.answeredAt) ? o.answeredAt : null };
        const esc = o.escalations.filter((x) => by(x.at));
        const last = esc[esc.length - 1];
        return {
          ...o,
          answeredAt: o.answeredAt && by(o.answeredAt) ? o.answeredAt : null,
          escalated: esc.length > 0,
          escalations: esc,
          level: last?.level ?? 1,
          responseDueAt: last?.responseDueAt ?? o.firstResponseDueAt ?? o.responseDueAt,
        };
      }),
    // A correction on review is decided by others, on their own feed and
    // timetable: it is deducted from the live score when it comes, and is
    // not part of the agency's handling up to the conclusion.
    correctedBy: [],
  };
}

/** The evaluation the rules record for a concluded case: its score as it stood at `at` (see `evaluationMoment`). */
export function evaluationAt(
  v: CaseView,
  at: number,
  model: ScoringModel,
): CaseScoreResult | undefined {
  return scoreCase(asOf(v, at), model, at);
}
