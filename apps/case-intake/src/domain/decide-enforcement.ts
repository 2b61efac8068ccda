import { events, type intake } from '@enforcement/contracts';
import { judgeFine, statutoryDueAt, type Grade } from '@enforcement/reference-data';
import {
  enumValues,
  MAX_SKEW_MS,
  notBefore,
  present,
  required,
  SHA256_HEX,
  specified,
} from './checks.js';
import { fail } from './errors.js';
import {
  openOrders,
  type EnforcementCase,
  type EnforcementStatus,
  type OrderState,
  type RepeatedStep,
} from './state.js';
import type { DecideContext, EventPayload } from './types.js';

const DOMAINS = enumValues(events.Domain);
const SOURCES = enumValues(events.CaseSource);
const PARTY_KINDS = enumValues(events.PartyKind);
const GRADES = enumValues(events.SeverityGrade);
const CONCLUSIONS = enumValues(events.Conclusion);
const REASONS = enumValues(events.SupervisionReason);

const gradeName: Record<number, Grade> = {
  [events.SeverityGrade.SEVERITY_GRADE_MINOR]: 'MINOR',
  [events.SeverityGrade.SEVERITY_GRADE_GENERAL]: 'GENERAL',
  [events.SeverityGrade.SEVERITY_GRADE_SERIOUS]: 'SERIOUS',
  [events.SeverityGrade.SEVERITY_GRADE_VERY_SERIOUS]: 'VERY_SERIOUS',
};

const yuan = (fen: number) => `${(fen / 100).toLocaleString('en-US')} yuan`;

function expectStatus(
  s: EnforcementCase,
  allowed: readonly EnforcementStatus[],
  action: string,
): void {
  if (!allowed.includes(s.status))
    fail(
      'CASE.INVALID_TRANSITION',
      `cannot ${action} a case in status ${s.status} (allowed: ${allowed.join(', ')})`,
    );
}

/**
 * Each officer of a case is a row of the officers' rankings in every period
 * it counts in, and each item of evidence an entry of the case's record in
 * the read models: bounds far past any real case keep a client that loops
 * from growing them without end.
 */
export const MAX_OFFICERS = 50;
export const MAX_EVIDENCE = 1_000;
/**
 * The same holds for whatever else a case may record again and again: each
 * extension is a step of the deadline's history the record keeps, each
 * order (opened by a supervisor or the rules) and each of its escalations an
 * entry of it, each evaluation too; and every event of a case is read again
 * when it is loaded cold and when it is archived (the digest over its
 * history). A notice may be served again, a hearing held again, a legal
 * review redone, the deadline extended with approval; the rules open one
 * order per condition and escalate it to level 3 at most. These bounds leave
 * room far past that, and keep a case's history within about 3,200 events.
 */
export const MAX_STEPS: Readonly<Record<RepeatedStep, number>> = {
  inspection: 1_000,
  notice: 20,
  hearing: 20,
  legalReview: 20,
  extension: 10,
};
const STEP_FIELD: Readonly<Record<RepeatedStep, string>> = {
  inspection: 'inspection',
  notice: 'notice',
  hearing: 'hearing',
  legalReview: 'legal_review',
  extension: 'extension',
};
export const MAX_ORDERS = 100;
export const MAX_ORDER_LEVEL = 10;
export const MAX_EVALUATIONS = 20;

function withinSteps(s: EnforcementCase, step: RepeatedStep): void {
  const field = STEP_FIELD[step];
  if (s.steps[step] >= MAX_STEPS[step])
    fail(
      'PROGRESS.TOO_MANY',
      `the case records at most ${MAX_STEPS[step]} of this step (${field.replace('_', ' ')}), and holds them`,
      field,
    );
}

export function register(r: intake.RegisterCaseRequest, ctx: DecideContext): EventPayload[] {
  const parties = r.parties.map((p, i) => ({
    kind: specified(p.kind, `parties[${i}].kind`, PARTY_KINDS),
    name: required(p.name, `parties[${i}].name`),
    identifier: p.identifier.trim(),
  }));
  if (parties.length === 0) fail('FIELD.REQUIRED', 'at least one party', 'parties');
  return [
    {
      $case: 'caseRegistered',
      value: {
        agencyId: required(r.agencyId, 'agency_id'),
        district: required(r.district, 'district'),
        domain: specified(r.domain, 'domain', DOMAINS),
        violationCode: required(r.violationCode, 'violation_code'),
        legalBasis: required(r.legalBasis, 'legal_basis'),
        source: specified(r.source, 'source', SOURCES),
        parties,
        title: r.title.trim(),
        major: r.major,
        dueAt: statutoryDueAt(ctx.occurredAt),
      },
    },
  ];
}

export function dispatch(s: EnforcementCase, r: intake.DispatchCaseRequest): EventPayload[] {
  expectStatus(s, ['REGISTERED'], 'dispatch');
  const unitId = required(r.unitId, 'unit_id');
  if (r.officers.length < 2)
    fail(
      'DISPATCH.TOO_FEW_OFFICERS',
      `enforcement needs at least two certified officers (Art. 42), got ${r.officers.length}`,
      'officers',
    );
  if (r.officers.length > MAX_OFFICERS)
    fail(
      'DISPATCH.TOO_MANY_OFFICERS',
      `at most ${MAX_OFFICERS} officers on a case, got ${r.officers.length}`,
      'officers',
    );
  const seen = new Set<string>();
  const officers = r.officers.map((o, i) => {
    const id = required(o.officerId, `officers[${i}].officer_id`);
    if (seen.has(id))
      fail('DISPATCH.DUPLICATE_OFFICER', `officer ${id} named twice`, `officers[${i}].officer_id`);
    seen.add(id);
    if (o.credentialNo.trim().length === 0)
      fail(
        'DISPATCH.OFFICER_NOT_CERTIFIED',
        `officer ${id} holds no enforcement credential`,
        `officers[${i}].credential_no`,
      );
    // An officer is named as an id is stored: without the white space at its ends.
    return { ...o, officerId: id };
  });
  return [{ $case: 'caseDispatched', value: { unitId, officers } }];
}

export function recordProgress(
  s: EnforcementCase,
  r: intake.RecordProgressRequest,
  ctx: DecideContext,
): EventPayload[] {
  const step = present(r.step, 'step');
  const before: EnforcementStatus[] = ['DISPATCHED', 'IN_PROGRESS'];
  switch (step.$case) {
    case 'inspection': {
      expectStatus(s, before, 'record an inspection on');
      withinSteps(s, 'inspection');
      // Trimmed on both sides: earlier versions stored an officer's id as sent.
      const known = new Set(s.officers.map((o) => o.officerId.trim()));
      const officerIds = step.value.officerIds.map((raw, i) => {
        const id = raw.trim();
        if (!known.has(id))
          fail(
            'PROGRESS.UNKNOWN_OFFICER',
            `officer ${id} was not dispatched to this case`,
            `inspection.officer_ids[${i}]`,
          );
        return id;
      });
      return [{ $case: 'inspectionRecorded', value: { ...step.value, officerIds } }];
    }
    case 'evidence': {
      expectStatus(s, [...before, 'DECIDED'], 'record evidence on');
      // Recorded after the decision, it is dated after it: evidence dated at
      // or before it would count as recorded before the decision (the
      // evidence indicator, the MISSING_EVIDENCE rule) when it was not.
      // Until 2026-12-08 an agency could clear a MISSING_EVIDENCE order and
      // earn the indicator's points back by backdating evidence after the fact.
      const decidedAt = s.penalty?.decidedAt;
      if (decidedAt && ctx.occurredAt.getTime() <= decidedAt.getTime())
        fail(
          'TIME.BEFORE_PREVIOUS_STEP',
          `${ctx.occurredAt.toISOString()} is not after the penalty decision (${decidedAt.toISOString()}), which this evidence is recorded after`,
          'meta.occurred_at',
        );
      const e = step.value;
      const id = required(e.evidenceId, 'evidence.evidence_id');
      if (Object.hasOwn(s.evidence, id))
        fail('EVIDENCE.DUPLICATE', `evidence ${id} is already recorded`, 'evidence.evidence_id');
      if (Object.keys(s.evidence).length >= MAX_EVIDENCE)
        fail(
          'EVIDENCE.TOO_MANY',
          `the case holds ${MAX_EVIDENCE} items of evidence, the most one may`,
          'evidence.evidence_id',
        );
      if (!SHA256_HEX.test(e.sha256))
        fail(
          'EVIDENCE.BAD_DIGEST',
          'must be the SHA-256 of the content, 64 lowercase hex digits',
          'evidence.sha256',
        );
      required(e.collectedBy, 'evidence.collected_by');
      const collectedAt = present(e.collectedAt, 'evidence.collected_at');
      if (collectedAt.getTime() > ctx.occurredAt.getTime())
        fail(
          'EVIDENCE.COLLECTED_IN_FUTURE',
          'is after the time the evidence was recorded',
          'evidence.collected_at',
        );
      return [
        {
          $case: 'evidenceRecorded',
          value: { ...e, evidenceId: id, collectedBy: e.collectedBy.trim() },
        },
      ];
    }
    case 'notice': {
      expectStatus(s, before, 'notify the party of');
      withinSteps(s, 'notice');
      required(step.value.facts, 'notice.facts');
      required(step.value.basis, 'notice.basis');
      return [{ $case: 'partyNotified', value: step.value }];
    }
    case 'hearing': {
      expectStatus(s, before, 'hold a hearing on');
      withinSteps(s, 'hearing');
      if (!s.notice?.hearingOffered)
        fail('HEARING.NOT_OFFERED', 'no hearing was offered in a notice to the party');
      if (!step.value.waived) required(step.value.presidedBy, 'hearing.presided_by');
      return [{ $case: 'hearingHeld', value: step.value }];
    }
    case 'legalReview': {
      expectStatus(s, before, 'record a legal review on');
      withinSteps(s, 'legalReview');
      required(step.value.reviewer, 'legal_review.reviewer');
      return [{ $case: 'legalReviewCompleted', value: step.value }];
    }
    case 'extension': {
      expectStatus(s, ['REGISTERED', ...before], 'extend the deadline of');
      withinSteps(s, 'extension');
      const due = present(step.value.newDueAt, 'extension.new_due_at');
      if (due.getTime() <= s.dueAt.getTime())
        fail(
          'DEADLINE.NOT_LATER',
          `must be after the current due date ${s.dueAt.toISOString()}`,
          'extension.new_due_at',
        );
      // Lawfully extended (Art. 60): approved before the deadline passed. One
      // granted after would make a case overdue then count in time.
      if (ctx.occurredAt.getTime() > s.dueAt.getTime())
        fail(
          'DEADLINE.ALREADY_PASSED',
          `the deadline ${s.dueAt.toISOString()} passed before this extension; a deadline is extended before it passes (Art. 60)`,
          'meta.occurred_at',
        );
      required(step.value.reason, 'extension.reason');
      required(step.value.approvedBy, 'extension.approved_by');
      return [{ $case: 'deadlineExtended', value: step.value }];
    }
    default: {
      const _exhaustive: never = step;
      return _exhaustive;
    }
  }
}

export function decidePenalty(
  s: EnforcementCase,
  r: intake.DecidePenaltyRequest,
  ctx: DecideContext,
): EventPayload[] {
  expectStatus(s, ['IN_PROGRESS'], 'decide a penalty on');
  notBefore(ctx.occurredAt, s.dispatchedAt, 'the case was dispatched');
  const violationCode = r.violationCode.trim() || s.violationCode;
  const grade = specified(r.grade, 'grade', GRADES);
  if (!Number.isInteger(r.fineFen) || r.fineFen < 0)
    fail('FIELD.INVALID', 'must be a whole, non-negative number of fen', 'fine_fen');
  const table = ctx.benchmarks;
  const verdict = judgeFine(table, violationCode, gradeName[grade] ?? 'MINOR', r.fineFen);
  const grounds = r.grounds.trim();
  let anomaly = '';
  switch (verdict.kind) {
    case 'UNKNOWN_VIOLATION':
      return fail(
        'PENALTY.UNKNOWN_VIOLATION',
        `${violationCode} is not in discretion benchmark table ${table.version}`,
        'violation_code',
      );
    case 'OUTSIDE_STATUTORY':
      return fail(
        'PENALTY.OUTSIDE_STATUTORY_RANGE',
        `${yuan(r.fineFen)} is outside the statutory range ${yuan(verdict.range.minFen)} - ${yuan(verdict.range.maxFen)}`,
        'fine_fen',
      );
    case 'OUTSIDE_BENCHMARK':
      if (!grounds)
        fail(
          'PENALTY.OUTSIDE_BENCHMARK',
          `${yuan(r.fineFen)} is outside the benchmark range ${yuan(verdict.range.minFen)} - ${yuan(verdict.range.maxFen)} for its grade; state the grounds`,
          'grounds',
        );
      anomaly = `outside benchmark range ${yuan(verdict.range.minFen)} - ${yuan(verdict.range.maxFen)} for its grade`;
      break;
    case 'INSIDE':
      if (verdict.atEdge && !grounds)
        anomaly = 'at the edge of the benchmark range without stated grounds';
      break;
    default: {
      const _exhaustive: never = verdict;
      return _exhaustive;
    }
  }
  // Notice of facts, reasons, basis and rights before any decision (Arts. 44-45).
  if (!s.notice)
    fail('PENALTY.NOTICE_REQUIRED', 'the party must be notified before a penalty decision');
  const hearingFrom = s.partyKinds.includes(events.PartyKind.PARTY_KIND_ORGANIZATION)
    ? table.hearingFromFen.organization
    : table.hearingFromFen.person;
  if (r.fineFen >= hearingFrom && !s.notice?.hearingOffered)
    fail(
      'PENALTY.HEARING_NOT_OFFERED',
      `a fine of ${yuan(r.fineFen)} gives the party a right to a hearing (Art. 63)`,
    );
  if (s.notice?.hearingOffered && !s.hearing)
    fail(
      'PENALTY.HEARING_PENDING',
      'the hearing offered to the party has been neither held nor waived',
    );
  const entry = table.entries.get(violationCode);
  const range = entry?.grades[gradeName[grade] ?? 'MINOR'];
  return [
    {
      $case: 'penaltyDecided',
      value: {
        violationCode,
        grade,
        fineFen: r.fineFen,
        benchmarkVersion: table.version,
        benchmarkMinFen: range?.minFen ?? 0,
        benchmarkMaxFen: range?.maxFen ?? 0,
        grounds,
        discretionAnomaly: anomaly.length > 0,
        anomalyReason: anomaly,
        // Legal review is supervised, not refused here: a major decision
        // without one is recorded and the scoring rules open an order.
        major: s.major || (entry !== undefined && r.fineFen >= entry.majorFromFen),
        otherMeasures: r.otherMeasures,
      },
    },
  ];
}

export function conclude(
  s: EnforcementCase,
  r: intake.ConcludeCaseRequest,
  ctx: DecideContext,
): EventPayload[] {
  const conclusion = specified(r.conclusion, 'conclusion', CONCLUSIONS);
  if (conclusion === events.Conclusion.CONCLUSION_PENALIZED) {
    if (s.status !== 'DECIDED')
      fail(
        'CONCLUDE.DECISION_REQUIRED',
        `a penalized case needs a penalty decision first (status ${s.status})`,
      );
  } else {
    expectStatus(s, ['REGISTERED', 'DISPATCHED', 'IN_PROGRESS', 'DECIDED'], 'conclude');
  }
  notBefore(ctx.occurredAt, s.penalty?.decidedAt, 'the penalty decision');
  notBefore(ctx.occurredAt, s.dispatchedAt, 'the case was dispatched');
  return [{ $case: 'caseConcluded', value: { conclusion, summary: r.summary } }];
}

const beforeArchive: EnforcementStatus[] = [
  'REGISTERED',
  'DISPATCHED',
  'IN_PROGRESS',
  'DECIDED',
  'CONCLUDED',
  'EVALUATED',
];

export function openOrder(
  s: EnforcementCase,
  r: intake.OpenSupervisionOrderRequest,
  ctx: DecideContext,
): EventPayload[] {
  expectStatus(s, beforeArchive, 'open a supervision order on');
  const orderId = required(r.orderId, 'order_id');
  if (Object.hasOwn(s.orders, orderId))
    fail('ORDER.DUPLICATE', `order ${orderId} already exists on this case`, 'order_id');
  if (Object.keys(s.orders).length >= MAX_ORDERS)
    fail(
      'ORDER.TOO_MANY',
      `the case holds ${MAX_ORDERS} supervision orders, the most one may`,
      'order_id',
    );
  const reason = specified(r.reason, 'reason', REASONS);
  const due = present(r.responseDueAt, 'response_due_at');
  if (due.getTime() <= ctx.occurredAt.getTime())
    fail('ORDER.DUE_BEFORE_OPENED', 'must be after the order is opened', 'response_due_at');
  return [
    {
      $case: 'supervisionOrderOpened',
      value: { orderId, reason, note: r.note, responseDueAt: due, ruleId: r.ruleId },
    },
  ];
}

/** The case's order of that id: its own, never a property every object has (`constructor`). */
const orderNamed = (s: EnforcementCase, orderId: string): OrderState | undefined =>
  Object.hasOwn(s.orders, orderId) ? s.orders[orderId] : undefined;

function openOrderNamed(s: EnforcementCase, orderId: string) {
  const order = orderNamed(s, orderId);
  if (!order) return fail('ORDER.NOT_FOUND', `no order ${orderId} on this case`, 'order_id');
  if (!order.open) return fail('ORDER.NOT_OPEN', `order ${orderId} is already answered`);
  return order;
}

export function answerOrder(
  s: EnforcementCase,
  r: intake.AnswerSupervisionOrderRequest,
  ctx: DecideContext,
): EventPayload[] {
  const orderId = required(r.orderId, 'order_id');
  const order = openOrderNamed(s, orderId);
  // Answered by the agency, opened by a supervisor or the rules: two clocks.
  notBefore(ctx.occurredAt, order.openedAt, `order ${orderId} was opened`, MAX_SKEW_MS);
  return [
    { $case: 'supervisionOrderAnswered', value: { orderId, answer: required(r.answer, 'answer') } },
  ];
}

export function escalateOrder(
  s: EnforcementCase,
  r: intake.EscalateSupervisionOrderRequest,
  ctx: DecideContext,
): EventPayload[] {
  const orderId = required(r.orderId, 'order_id');
  const order = orderNamed(s, orderId);
  if (!order) return fail('ORDER.NOT_FOUND', `no order ${orderId} on this case`, 'order_id');
  // Not against its other escalations: the rules date theirs at the
  // deadline that passed, and may send one after a supervisor's later one.
  notBefore(ctx.occurredAt, order.openedAt, `order ${orderId} was opened`, MAX_SKEW_MS);
  // An escalation is judged when it happened: an order answered only after
  // that moment was still unanswered then (the rules record escalations
  // dated at the deadline, and may do so after a late answer was recorded).
  if (!order.open && !(order.answeredAt && order.answeredAt.getTime() > ctx.occurredAt.getTime()))
    fail('ORDER.NOT_OPEN', `order ${orderId} was answered before ${ctx.occurredAt.toISOString()}`);
  if (r.responseDueAt && r.responseDueAt.getTime() <= ctx.occurredAt.getTime())
    fail('ORDER.DUE_BEFORE_OPENED', 'must be after the escalation', 'response_due_at');
  if (order.level >= MAX_ORDER_LEVEL)
    fail(
      'ORDER.TOP_LEVEL',
      `order ${orderId} is at level ${order.level}, the highest an order may reach`,
      'order_id',
    );
  return [
    {
      $case: 'supervisionOrderEscalated',
      value: {
        orderId,
        level: order.level + 1,
        reason: required(r.reason, 'reason'),
        responseDueAt: r.responseDueAt,
      },
    },
  ];
}

export function recordEvaluation(
  s: EnforcementCase,
  r: intake.RecordEvaluationRequest,
  ctx: DecideContext,
): EventPayload[] {
  expectStatus(s, ['CONCLUDED', 'EVALUATED'], 'evaluate');
  // Evaluated by the supervision office or the rules, concluded by the agency.
  notBefore(ctx.occurredAt, s.concludedAt, 'the case was concluded', MAX_SKEW_MS);
  if (s.evaluations >= MAX_EVALUATIONS)
    fail(
      'EVALUATION.TOO_MANY',
      `the case was evaluated ${MAX_EVALUATIONS} times, the most one may be`,
    );
  if (!Number.isFinite(r.score) || r.score < 0 || r.score > 100)
    fail('EVALUATION.SCORE_OUT_OF_RANGE', `must be within 0..100, got ${r.score}`, 'score');
  required(r.modelVersion, 'model_version');
  if (r.indicators.length === 0)
    fail('FIELD.REQUIRED', 'a breakdown by indicator is required', 'indicators');
  r.indicators.forEach((ind, i) => required(ind.indicator, `indicators[${i}].indicator`));
  return [
    {
      $case: 'caseEvaluated',
      value: { score: r.score, modelVersion: r.modelVersion, indicators: r.indicators },
    },
  ];
}

export function archive(
  s: EnforcementCase,
  headHash: string,
  eventCount: number,
  ctx: DecideContext,
): EventPayload[] {
  if (s.status !== 'EVALUATED')
    fail('ARCHIVE.NOT_EVALUATED', `only an evaluated case can be archived (status ${s.status})`);
  const open = openOrders(s);
  if (open.length > 0)
    fail(
      'ARCHIVE.OPEN_ORDERS',
      `supervision orders still open: ${open.map((o) => o.orderId).join(', ')}`,
    );
  // The archive seals the history: everything in it came before.
  notBefore(ctx.occurredAt, s.latestAt, 'the latest event of the case', MAX_SKEW_MS);
  return [{ $case: 'caseArchived', value: { headHash, eventCount } }];
}
