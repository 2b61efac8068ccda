import { events, type intake } from '@enforcement/contracts';

let n = 0;
const meta = (caseId: string, o: Partial<intake.CommandMeta> = {}): intake.CommandMeta => ({
  commandId: `cmd-${Date.now()}-${++n}`,
  caseId,
  ...o,
});

const digest = (s: string) =>
  s
    .padEnd(64, '0')
    .slice(0, 64)
    .replace(/[^0-9a-f]/g, 'a');

/** An evaluation's breakdown as a caller may send it: full timeliness points, nothing more. */
export const fullTimeliness = (): events.IndicatorScore[] => [
  {
    indicator: 'timeliness',
    points: 30,
    maxPoints: 30,
    reasons: [],
    eventIds: [],
    reasonDetails: [],
  },
];

/** Requests for one case walking the whole loop, in order, from `start`. */
export function fullLoop(
  caseId: string,
  agencyId = 'lz-eeb',
  start = new Date(Date.now() - 40 * 86_400_000),
) {
  const at = (days: number) => new Date(start.getTime() + days * 86_400_000);
  const m = (days: number) => meta(caseId, { occurredAt: at(days) });
  return {
    register: {
      meta: m(0),
      agencyId,
      district: '柳南区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: '《大气污染防治法》第九十九条',
      source: events.CaseSource.CASE_SOURCE_INSPECTION,
      parties: [
        {
          kind: events.PartyKind.PARTY_KIND_ORGANIZATION,
          name: '某化工有限公司',
          identifier: '91450200',
        },
      ],
      title: '超标排放',
      major: false,
    } satisfies intake.RegisterCaseRequest,
    dispatch: {
      meta: m(1),
      unitId: `${agencyId}-unit-1`,
      officers: [
        { officerId: 'off-1', name: '李明', credentialNo: '45020001' },
        { officerId: 'off-2', name: '王芳', credentialNo: '45020002' },
      ],
    } satisfies intake.DispatchCaseRequest,
    evidence: {
      meta: m(2),
      step: {
        $case: 'evidence',
        value: {
          evidenceId: 'ev-1',
          kind: 'monitoring',
          sha256: digest('ab12'),
          collectedBy: 'off-1',
          collectedAt: at(2),
          description: '',
        },
      },
    } satisfies intake.RecordProgressRequest,
    notice: {
      meta: m(5),
      step: {
        $case: 'notice',
        value: {
          facts: '超标',
          basis: '第九十九条',
          hearingOffered: true,
          proposedFineFen: 30_000_000,
        },
      },
    } satisfies intake.RecordProgressRequest,
    hearing: {
      meta: m(8),
      step: { $case: 'hearing', value: { presidedBy: '法制科', summary: '', waived: true } },
    } satisfies intake.RecordProgressRequest,
    review: {
      meta: m(9),
      step: {
        $case: 'legalReview',
        value: { reviewer: '法制审核员', approved: true, opinion: '' },
      },
    } satisfies intake.RecordProgressRequest,
    penalty: {
      meta: m(10),
      violationCode: 'ENV-AIR-001',
      grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
      fineFen: 30_000_000,
      grounds: '',
      otherMeasures: [],
    } satisfies intake.DecidePenaltyRequest,
    conclude: {
      meta: m(12),
      conclusion: events.Conclusion.CONCLUSION_PENALIZED,
      summary: '',
    } satisfies intake.ConcludeCaseRequest,
  };
}

export const nextMeta = meta;
