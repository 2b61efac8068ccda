import { events } from '@enforcement/contracts';
import { openOrders, type CaseView } from './case-view.js';
import { scoreCase, type ScoringModel } from './scoring-model.js';

export interface RuleConfig {
  /** Warn this many days before the statutory deadline. */
  readonly approachingDays: number;
  /** Days an agency has to answer an automatic order. */
  readonly responseDays: number;
  /** Days to answer after an escalation. */
  readonly escalationResponseDays: number;
}

export const DEFAULT_RULES: RuleConfig = {
  approachingDays: 10,
  responseDays: 7,
  escalationResponseDays: 5,
};

/** Something the supervision rules want done on a case, through case-intake. */
export type Firing =
  | {
      readonly kind: 'OPEN_ORDER';
      readonly ruleId: string;
      readonly reason: events.SupervisionReason;
      readonly orderId: string;
      readonly note: string;
      readonly responseDueAt: Date;
    }
  | {
      readonly kind: 'ESCALATE';
      readonly ruleId: string;
      readonly orderId: string;
      readonly reason: string;
      readonly responseDueAt: Date;
    }
  | { readonly kind: 'EVALUATE'; readonly ruleId: string };

const DAY = 86_400_000;
const R = events.SupervisionReason;

/**
 * Every rule that holds for the case now and has not fired yet. Rule ids are
 * stable per case (and per order level), so each condition fires once; the
 * order ids derive from them, so even a repeated call opens one order.
 */
export function dueFirings(
  v: CaseView,
  now: Date,
  cfg: RuleConfig,
  fired: ReadonlySet<string>,
  model: ScoringModel,
): Firing[] {
  if (v.kind !== 'ENFORCEMENT' || v.archived || !v.registeredAt) return [];
  const out: Firing[] = [];
  const respondBy = new Date(now.getTime() + cfg.responseDays * DAY);
  const open = (ruleId: string, reason: events.SupervisionReason, note: string) => {
    if (!fired.has(ruleId) && !v.orders.some((o) => o.ruleId === ruleId))
      out.push({
        kind: 'OPEN_ORDER',
        ruleId,
        reason,
        orderId: `auto-${ruleId}`,
        note,
        responseDueAt: respondBy,
      });
  };
  const id = (rule: string) => `${rule}:${v.caseId}`;

  if (!v.concluded) {
    const due = new Date(v.dueAt).getTime();
    if (now.getTime() >= due)
      open(id('overdue'), R.SUPERVISION_REASON_OVERDUE, `statutory deadline ${v.dueAt} has passed`);
    else if (now.getTime() >= due - cfg.approachingDays * DAY)
      open(
        id('approaching'),
        R.SUPERVISION_REASON_APPROACHING_DEADLINE,
        `statutory deadline ${v.dueAt} is near`,
      );
  }
  const p = v.penalty;
  if (p?.discretionAnomaly)
    open(id('discretion'), R.SUPERVISION_REASON_DISCRETION_ANOMALY, p.anomalyReason);
  if (p?.major && !(v.legalReview?.approved && v.legalReview.at <= p.at))
    open(
      id('legal-review'),
      R.SUPERVISION_REASON_MISSING_LEGAL_REVIEW,
      'major decision without legal review before it',
    );
  if (p && !v.evidence.some((e) => e.at <= p.at))
    open(
      id('evidence'),
      R.SUPERVISION_REASON_MISSING_EVIDENCE,
      'decision without evidence recorded before it',
    );

  for (const o of openOrders(v)) {
    const ruleId = `escalate:${o.orderId}:${o.level}`;
    if (new Date(o.responseDueAt).getTime() < now.getTime() && !fired.has(ruleId))
      out.push({
        kind: 'ESCALATE',
        ruleId,
        orderId: o.orderId,
        reason: `not answered by ${o.responseDueAt}`,
        responseDueAt: new Date(now.getTime() + cfg.escalationResponseDays * DAY),
      });
  }
  if (v.concluded && !v.evaluatedEventId && scoreCase(v, model)) {
    const ruleId = id(`evaluate:${model.version}`);
    if (!fired.has(ruleId)) out.push({ kind: 'EVALUATE', ruleId });
  }
  return out;
}

/** A case the rule runner must keep watching. */
export const needsWatching = (v: CaseView): boolean =>
  v.kind === 'ENFORCEMENT' &&
  !v.archived &&
  (!v.concluded || !v.evaluatedEventId || openOrders(v).length > 0);
