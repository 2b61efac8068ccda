import { events, type intake } from '@enforcement/contracts';
import { BENCHMARKS_2021 } from '@enforcement/reference-data';
import { Random, seedOf } from './random.js';
import type { CasePlan, ReviewPlan } from './plan.js';

/** One command and the moment it happens. */
export interface Timed {
  readonly at: number;
  readonly command: intake.Command;
}

const GRADE: Record<string, events.SeverityGrade> = {
  MINOR: events.SeverityGrade.SEVERITY_GRADE_MINOR,
  GENERAL: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
  SERIOUS: events.SeverityGrade.SEVERITY_GRADE_SERIOUS,
  VERY_SERIOUS: events.SeverityGrade.SEVERITY_GRADE_VERY_SERIOUS,
};

const REASON: Record<string, events.SupervisionReason> = {
  COMPLAINT: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
  OVERDUE: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
  OTHER: events.SupervisionReason.SUPERVISION_REASON_OTHER,
};

const OUTCOME: Record<string, events.ReviewOutcome> = {
  UPHELD: events.ReviewOutcome.REVIEW_OUTCOME_UPHELD,
  DISMISSED: events.ReviewOutcome.REVIEW_OUTCOME_DISMISSED,
  TERMINATED: events.ReviewOutcome.REVIEW_OUTCOME_TERMINATED,
  REVOKED: events.ReviewOutcome.REVIEW_OUTCOME_REVOKED,
  CHANGED: events.ReviewOutcome.REVIEW_OUTCOME_CHANGED,
  CONFIRMED_ILLEGAL: events.ReviewOutcome.REVIEW_OUTCOME_CONFIRMED_ILLEGAL,
  ORDERED_TO_PERFORM: events.ReviewOutcome.REVIEW_OUTCOME_ORDERED_TO_PERFORM,
};

const CONCLUSION: Record<string, events.Conclusion> = {
  PENALIZED: events.Conclusion.CONCLUSION_PENALIZED,
  NO_PENALTY: events.Conclusion.CONCLUSION_NO_PENALTY,
  DROPPED: events.Conclusion.CONCLUSION_DROPPED,
};

const SURNAMES = ['李', '王', '张', '刘', '陈', '杨', '黄', '赵', '覃', '韦', '蒙', '莫'];
const GIVEN = ['明', '芳', '伟', '丽', '强', '敏', '静', '军', '洋', '勇', '艳', '杰'];

/** A deterministic display name for an officer id. */
export function officerName(officerId: string): string {
  const r = new Random(seedOf('officer', officerId));
  return r.pick(SURNAMES) + r.pick(GIVEN) + (r.chance(0.5) ? r.pick(GIVEN) : '');
}

/** The intake commands of one enforcement case, in the order they happen. */
export function caseCommands(p: CasePlan): Timed[] {
  let step = 0;
  const meta = (at: number): intake.CommandMeta => ({
    commandId: `${p.caseId}:${++step}`,
    caseId: p.caseId,
    occurredAt: new Date(at),
  });
  const r = new Random(seedOf('content', p.caseId));
  const out: Timed[] = [];
  const add = (at: number, command: intake.Command['kind']) =>
    out.push({ at, command: { kind: command } });
  const party = p.organization
    ? {
        kind: events.PartyKind.PARTY_KIND_ORGANIZATION,
        name: `柳州市${r.pick(['鑫', '华', '龙', '桂', '柳'])}${r.pick(['源', '达', '盛', '通'])}有限公司`,
        identifier: `91450200${r.hex(5).toUpperCase()}`,
      }
    : {
        kind: events.PartyKind.PARTY_KIND_PERSON,
        name: officerName(`party-${p.caseId}`),
        identifier: `450202${r.int(1960, 2003)}${r.hex(3)}`,
      };

  add(p.registeredAt, {
    $case: 'registerCase',
    value: {
      meta: meta(p.registeredAt),
      agencyId: p.agency.id,
      district: p.district,
      domain: p.agency.domain,
      violationCode: p.violationCode,
      legalBasis: BENCHMARKS_2021.entries.get(p.violationCode)?.legalBasis ?? '',
      source: r.pick([1, 2, 3, 5]),
      parties: [party],
      title: `${party.name} ${p.violationCode}`,
      major: p.registeredMajor,
    },
  });
  add(p.dispatchedAt, {
    $case: 'dispatchCase',
    value: {
      meta: meta(p.dispatchedAt),
      unitId: p.unitId,
      officers: p.officers.map((officerId) => ({
        officerId,
        name: officerName(officerId),
        credentialNo: `4502${String(seedOf(officerId) % 1_000_000).padStart(6, '0')}`,
      })),
    },
  });
  const progress = (at: number, s: intake.RecordProgressRequest['step']) =>
    add(at, { $case: 'recordProgress', value: { meta: meta(at), step: s } });
  progress(p.inspectionAt, {
    $case: 'inspection',
    value: {
      location: `${p.district}`,
      findings: '现场检查发现违法事实',
      officerIds: [...p.officers],
    },
  });
  p.evidenceAt.forEach((at, i) =>
    progress(at, {
      $case: 'evidence',
      value: {
        evidenceId: `E${i + 1}`,
        kind: r.pick(['photo', 'record', 'monitoring', 'statement']),
        sha256: r.hex(32),
        collectedBy: p.officers[0],
        collectedAt: new Date(at),
        description: '',
      },
    }),
  );
  if (p.extension)
    progress(p.extension.at, {
      $case: 'extension',
      value: {
        newDueAt: new Date(p.extension.newDueAt),
        reason: '案情复杂',
        approvedBy: `${p.agency.id}-head`,
      },
    });
  if (p.penalty) {
    progress(p.noticeAt, {
      $case: 'notice',
      value: {
        facts: '违法事实',
        basis: p.violationCode,
        hearingOffered: p.hearing !== null,
        proposedFineFen: p.penalty?.fineFen ?? 0,
      },
    });
  }
  if (p.hearing)
    progress(p.hearing.at, {
      $case: 'hearing',
      value: {
        presidedBy: p.hearing.waived ? '' : `${p.agency.id}-legal`,
        summary: '',
        waived: p.hearing.waived,
      },
    });
  if (p.legalReviewAt !== null)
    progress(p.legalReviewAt, {
      $case: 'legalReview',
      value: { reviewer: `${p.agency.id}-legal`, approved: true, opinion: '同意' },
    });
  if (p.penalty)
    add(p.penalty.at, {
      $case: 'decidePenalty',
      value: {
        meta: meta(p.penalty.at),
        violationCode: p.violationCode,
        grade: GRADE[p.penalty.grade] ?? 0,
        fineFen: p.penalty.fineFen,
        grounds: p.penalty.grounds,
        otherMeasures: [],
      },
    });
  add(p.concludedAt, {
    $case: 'concludeCase',
    value: { meta: meta(p.concludedAt), conclusion: CONCLUSION[p.conclusion] ?? 0, summary: '' },
  });
  for (const o of p.orders) {
    add(o.openedAt, {
      $case: 'openSupervisionOrder',
      value: {
        meta: meta(o.openedAt),
        orderId: o.orderId,
        reason: REASON[o.reason] ?? 0,
        note: '',
        responseDueAt: new Date(o.responseDueAt),
        ruleId: '',
      },
    });
    if (o.escalation)
      add(o.escalation.at, {
        $case: 'escalateSupervisionOrder',
        value: {
          meta: meta(o.escalation.at),
          orderId: o.orderId,
          reason: '逾期未答复',
          responseDueAt: new Date(o.escalation.responseDueAt),
        },
      });
    add(o.answeredAt, {
      $case: 'answerSupervisionOrder',
      value: { meta: meta(o.answeredAt), orderId: o.orderId, answer: '已整改' },
    });
  }
  if (p.evaluation)
    add(p.evaluation.at, {
      $case: 'recordEvaluation',
      value: {
        meta: meta(p.evaluation.at),
        score: p.evaluation.score,
        modelVersion: 'generator/v1',
        indicators: [
          {
            indicator: 'overall',
            points: p.evaluation.score,
            maxPoints: 100,
            reasons: ['评查打分 reviewed by the supervision office'],
            eventIds: [],
            // The evaluator's own words: no code.
            reasonDetails: [],
          },
        ],
      },
    });
  // Commands of one case go in time order; steps planned at equal moments keep their order.
  return out
    .map((t, i) => ({ t, i }))
    .sort((a, b) => a.t.at - b.t.at || a.i - b.i)
    .map((x) => x.t);
}

/** The commands of one reconsideration case. */
export function reviewCommands(v: ReviewPlan): Timed[] {
  let step = 0;
  const meta = (at: number): intake.CommandMeta => ({
    commandId: `${v.caseId}:${++step}`,
    caseId: v.caseId,
    occurredAt: new Date(at),
  });
  const target = v.enforcementCase;
  const out: Timed[] = [
    {
      at: v.filedAt,
      command: {
        kind: {
          $case: 'fileReconsideration',
          value: {
            meta: meta(v.filedAt),
            kind: events.ReviewKind.REVIEW_KIND_RECONSIDERATION,
            enforcementCaseId: target.caseId,
            respondentAgencyId: target.agency.id,
            applicant: officerName(`applicant-${v.caseId}`),
            district: target.district,
            domain: target.agency.domain,
            claims: '请求撤销行政处罚决定',
          },
        },
      },
    },
  ];
  if (v.acceptedAt !== null)
    out.push({
      at: v.acceptedAt,
      command: {
        kind: {
          $case: 'acceptReconsideration',
          value: { meta: meta(v.acceptedAt), handledBy: 'lz-justice' },
        },
      },
    });
  if (v.concluded)
    out.push({
      at: v.concluded.at,
      command: {
        kind: {
          $case: 'concludeReconsideration',
          value: {
            meta: meta(v.concluded.at),
            outcome: OUTCOME[v.concluded.outcome] ?? 0,
            summary: '',
          },
        },
      },
    });
  return out;
}
