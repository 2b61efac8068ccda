import type { events } from '@enforcement/contracts';
import { reasonText, type ScoreReasonCode } from '@enforcement/reference-data';
import type { CaseView } from './case-view.js';
import { daysBetween, localDay } from './periods.js';

/** A versioned, configurable scoring model (domain.md, Scores). */
export interface ScoringModel {
  readonly version: string;
  readonly weights: {
    readonly timeliness: number;
    readonly procedure: number;
    readonly discretion: number;
    readonly evidence: number;
    readonly supervisionResponse: number;
  };
  /** Timeliness points lost per day past the statutory deadline. */
  readonly pointsPerDayOverdue: number;
  /** Deducted when reconsideration or a court corrects the decision. */
  readonly correctionDeduction: number;
  /** Fines from which the party has a right to a hearing (Art. 63). */
  readonly hearingFromFen: { readonly person: number; readonly organization: number };
}

export const MODEL_V1: ScoringModel = {
  version: 'supervision-score/v1',
  weights: { timeliness: 30, procedure: 25, discretion: 20, evidence: 15, supervisionResponse: 10 },
  pointsPerDayOverdue: 2,
  correctionDeduction: 20,
  hearingFromFen: { person: 1_000_000, organization: 10_000_000 },
};

export type Indicator = events.IndicatorScore;

export interface CaseScoreResult {
  readonly score: number;
  readonly modelVersion: string;
  readonly indicators: Indicator[];
}

const round = (n: number) => Math.round(n * 100) / 100;

/** A reason by its code and figures; `text` is the English when another wrote it (intake's anomaly). */
interface Why {
  readonly code: ScoreReasonCode;
  readonly args?: Record<string, string>;
  readonly text?: string;
}
const why = (code: ScoreReasonCode, args?: Record<string, string>): Why => ({ code, args });

/** An indicator's reasons: the English texts and, beside each, its code and figures. */
function because(whys: readonly Why[]): Pick<Indicator, 'reasons' | 'reasonDetails'> {
  return {
    reasons: whys.map((w) => w.text || (reasonText('en', w.code, w.args) ?? w.code)),
    reasonDetails: whys.map((w) => ({ code: w.code, args: { ...w.args } })),
  };
}
const count = (n: number) => String(n);
const ids = (...xs: (string | undefined | null)[]) => xs.filter((x): x is string => !!x);

function timeliness(v: CaseView, m: ScoringModel, concludedAt: string): Indicator {
  const max = m.weights.timeliness;
  // Late is past the due moment, as the OVERDUE rule and the report have it;
  // days late are city calendar days from the due date, and at least one.
  // Intake sets a deadline at the end of its day; one it set before
  // 2026-12-07 (registration + 90 × 24 h) may pass within its day, and a
  // case concluded later that day had an OVERDUE order, counted overdue in
  // the report and lost no points here.
  const late = Date.parse(concludedAt) > Date.parse(v.dueAt);
  const over = late ? Math.max(1, daysBetween(new Date(v.dueAt), new Date(concludedAt))) : 0;
  const points = Math.max(0, max - over * m.pointsPerDayOverdue);
  return {
    indicator: 'timeliness',
    points,
    maxPoints: max,
    ...because([
      over === 0
        ? why('TIMELINESS.IN_TIME')
        : over === 1
          ? why('TIMELINESS.LATE_ONE_DAY')
          : why('TIMELINESS.LATE', { days: count(over) }),
    ]),
    eventIds: ids(v.registeredEventId, v.concluded?.eventId, ...v.extensionEventIds),
  };
}

function procedure(v: CaseView, m: ScoringModel): Indicator {
  const max = m.weights.procedure;
  const part = { officers: 0.2, notice: 0.32, hearing: 0.24, review: 0.24 };
  let points = 0;
  const reasons: Why[] = [];
  const eventIds: string[] = [];
  if (v.officerIds.length >= 2) points += max * part.officers;
  else reasons.push(why('PROCEDURE.FEW_OFFICERS'));
  eventIds.push(...ids(v.dispatchedEventId));

  const p = v.penalty;
  if (!p) {
    points += max * (part.notice + part.hearing + part.review);
    reasons.push(why('PROCEDURE.NO_PENALTY'));
  } else {
    if (v.notice && v.notice.at <= p.at) points += max * part.notice;
    else reasons.push(why('PROCEDURE.NO_NOTICE'));
    const hearingDue =
      p.fineFen >=
      (v.hasOrganizationParty ? m.hearingFromFen.organization : m.hearingFromFen.person);
    if (!hearingDue || (v.notice?.hearingOffered && v.hearing && v.hearing.at <= p.at))
      points += max * part.hearing;
    else reasons.push(why('PROCEDURE.NO_HEARING'));
    const reviewed = v.legalReview?.approved === true && v.legalReview.at <= p.at;
    if (!p.major || reviewed) points += max * part.review;
    else reasons.push(why('PROCEDURE.NO_LEGAL_REVIEW'));
    eventIds.push(...ids(v.notice?.eventId, v.hearing?.eventId, v.legalReview?.eventId, p.eventId));
  }
  if (reasons.length === 0) reasons.push(why('PROCEDURE.COMPLETE'));
  return {
    indicator: 'procedure',
    points: round(points),
    maxPoints: max,
    ...because(reasons),
    eventIds,
  };
}

function discretion(v: CaseView, m: ScoringModel): Indicator {
  const max = m.weights.discretion;
  const p = v.penalty;
  if (!p)
    return {
      indicator: 'discretion',
      points: max,
      maxPoints: max,
      ...because([why('DISCRETION.NO_FINE')]),
      eventIds: [],
    };
  if (!p.discretionAnomaly)
    return {
      indicator: 'discretion',
      points: max,
      maxPoints: max,
      ...because([why('DISCRETION.INSIDE')]),
      eventIds: [p.eventId],
    };
  const outside = p.grounds.length > 0;
  return {
    indicator: 'discretion',
    points: outside ? round(max * 0.4) : round(max * 0.7),
    maxPoints: max,
    ...because([{ ...anomalyOf(p), text: p.anomalyReason }]),
    eventIds: [p.eventId],
  };
}

function evidence(v: CaseView, m: ScoringModel): Indicator {
  const max = m.weights.evidence;
  const cutoff = v.penalty?.at ?? v.concluded?.at ?? '';
  const before = v.evidence.filter((e) => e.at <= cutoff);
  const reasons: Why[] = [];
  let points = 0;
  if (before.length > 0) points += max * (2 / 3);
  else reasons.push(why(v.penalty ? 'EVIDENCE.NONE_BEFORE_DECISION' : 'EVIDENCE.NONE'));
  if (v.evidence.length > 0 && v.evidence.every((e) => e.digest)) points += max / 3;
  else if (v.evidence.length > 0) reasons.push(why('EVIDENCE.NO_DIGEST'));
  if (reasons.length === 0) reasons.push(why('EVIDENCE.COMPLETE', { count: count(before.length) }));
  return {
    indicator: 'evidence',
    points: round(points),
    maxPoints: max,
    ...because(reasons),
    eventIds: v.evidence.map((e) => e.eventId),
  };
}

/**
 * An order counts once it is settled by `at`: answered, escalated, or past
 * its deadline unanswered. Before then it is awaiting its answer and neither
 * earns nor loses points.
 */
function supervisionResponse(v: CaseView, m: ScoringModel, at: number): Indicator {
  const max = m.weights.supervisionResponse;
  const eventIds = v.orders.map((o) => o.openedEventId);
  const awaiting = v.orders.filter(
    (o) => o.answeredAt === null && !o.escalated && Date.parse(o.responseDueAt) > at,
  );
  const settled = v.orders.filter((o) => !awaiting.includes(o));
  const firstDue = awaiting.map((o) => o.responseDueAt).sort()[0];
  const waitingNote = firstDue
    ? [
        awaiting.length === 1
          ? why('RESPONSE.AWAITING_ONE', { due: localDay(new Date(firstDue)) })
          : why('RESPONSE.AWAITING', {
              count: count(awaiting.length),
              due: localDay(new Date(firstDue)),
            }),
      ]
    : [];
  if (settled.length === 0)
    return {
      indicator: 'supervision_response',
      points: max,
      maxPoints: max,
      ...because(v.orders.length === 0 ? [why('RESPONSE.NO_ORDERS')] : waitingNote),
      eventIds,
    };
  const onTime = settled.filter(
    (o) => o.answeredAt !== null && !o.escalated && o.answeredAt <= o.responseDueAt,
  );
  return {
    indicator: 'supervision_response',
    points: round((max * onTime.length) / settled.length),
    maxPoints: max,
    ...because([
      why('RESPONSE.ON_TIME', { onTime: count(onTime.length), settled: count(settled.length) }),
      ...waitingNote,
    ]),
    eventIds,
  };
}

function correction(v: CaseView, m: ScoringModel): Indicator {
  const corrected = v.correctedBy.length > 0;
  return {
    indicator: 'correction',
    points: corrected ? -m.correctionDeduction : 0,
    maxPoints: 0,
    ...because([why(corrected ? 'CORRECTION.CORRECTED' : 'CORRECTION.NONE')]),
    eventIds: [...v.correctedBy],
  };
}

/**
 * The explainable score of a concluded case as of `at` (ms since the epoch);
 * undefined while it is open. `at` is by default the latest moment the case's
 * own history shows, so the live score is a function of the history alone
 * (a rebuild gives the same). A view without that moment scores every
 * unanswered order as due.
 */
export function scoreCase(
  v: CaseView,
  m: ScoringModel,
  at = v.lastEventAt ? Date.parse(v.lastEventAt) : Infinity,
): CaseScoreResult | undefined {
  if (v.kind !== 'ENFORCEMENT' || !v.concluded) return undefined;
  const indicators = [
    timeliness(v, m, v.concluded.at),
    procedure(v, m),
    discretion(v, m),
    evidence(v, m),
    supervisionResponse(v, m, at),
    correction(v, m),
  ];
  const total = indicators.reduce((s, i) => s + i.points, 0);
  return { score: round(Math.min(100, Math.max(0, total))), modelVersion: m.version, indicators };
}

/** Event ids an evaluation lists per indicator, unless configured (RULES_EVALUATION_EVENT_IDS). */
export const EVALUATION_EVENT_IDS = 1_000;

/**
 * A score as an evaluation records it in the case's history: each indicator
 * lists its first `maxIds` event ids and says how many more it leaves out.
 * A case with tens of thousands of evidence records would otherwise make its
 * `CaseEvaluated` larger than intake takes (MAX_EVENT_BYTES), and its
 * evaluation would be refused every time. Points and reasons are unchanged.
 */
export function asRecorded(s: CaseScoreResult, maxIds: number): CaseScoreResult {
  if (s.indicators.every((i) => i.eventIds.length <= maxIds)) return s;
  return {
    ...s,
    indicators: s.indicators.map((i) =>
      i.eventIds.length <= maxIds
        ? i
        : {
            ...i,
            eventIds: i.eventIds.slice(0, maxIds),
            ...withReason(
              i,
              why('EVENTS.NOT_LISTED', { count: count(i.eventIds.length - maxIds) }),
            ),
          },
    ),
  };
}

/** An indicator's reasons with one more; a reason without its code (an evaluator's words) stays so. */
function withReason(i: Indicator, w: Why): Pick<Indicator, 'reasons' | 'reasonDetails'> {
  const more = because([w]);
  return {
    reasons: [...i.reasons, ...more.reasons],
    reasonDetails:
      i.reasonDetails.length === i.reasons.length
        ? [...i.reasonDetails, ...more.reasonDetails]
        : i.reasonDetails,
  };
}

/**
 * Which anomaly a flagged decision is, from its own figures: a fine outside
 * the range it names, or (inside) one at an edge without grounds, which is
 * the only anomaly intake flags inside a range. Without a range, the bare
 * anomaly.
 */
function anomalyOf(p: {
  fineFen: number;
  benchmarkMinFen?: number;
  benchmarkMaxFen?: number;
}): Why {
  const min = p.benchmarkMinFen ?? 0;
  const max = p.benchmarkMaxFen ?? 0;
  if (max <= 0) return why('DISCRETION.ANOMALY');
  if (p.fineFen < min || p.fineFen > max) {
    const yuan = (fen: number) => (fen / 100).toLocaleString('en-US');
    return why('DISCRETION.OUTSIDE', { min: yuan(min), max: yuan(max) });
  }
  return why('DISCRETION.AT_EDGE');
}
