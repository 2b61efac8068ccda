import { events, type intake } from '@enforcement/contracts';

let n = 0;
const id = () => `cmd-${Date.now().toString(36)}-${++n}`;

/** Requests that walk one case through the loop, dated from `start`. */
export function loop(caseId: string, start: Date, agencyId = 'lz-eeb') {
  const at = (d: number) => new Date(start.getTime() + d * 86_400_000);
  const meta = (d: number): intake.CommandMeta => ({ commandId: id(), caseId, occurredAt: at(d) });
  return {
    register: {
      meta: meta(0),
      agencyId,
      district: '鱼峰区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: '《大气污染防治法》第九十九条',
      source: events.CaseSource.CASE_SOURCE_COMPLAINT,
      parties: [
        { kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: '柳州某公司', identifier: '9145' },
      ],
      title: '超标排放',
      major: false,
    } satisfies intake.RegisterCaseRequest,
    dispatch: {
      meta: meta(1),
      unitId: `${agencyId}-u1`,
      officers: [
        { officerId: 'off-1', name: '李明', credentialNo: '45020001' },
        { officerId: 'off-2', name: '王芳', credentialNo: '45020002' },
      ],
    } satisfies intake.DispatchCaseRequest,
    steps: (d0 = 2): intake.RecordProgressRequest[] => [
      {
        meta: meta(d0),
        step: {
          $case: 'evidence',
          value: {
            evidenceId: 'ev-1',
            kind: 'monitoring',
            sha256: 'c'.repeat(64),
            collectedBy: 'off-1',
            collectedAt: at(d0),
            description: '',
          },
        },
      },
      {
        meta: meta(d0 + 1),
        step: {
          $case: 'notice',
          value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 30_000_000 },
        },
      },
      {
        meta: meta(d0 + 2),
        step: { $case: 'hearing', value: { presidedBy: '', summary: '', waived: true } },
      },
      {
        meta: meta(d0 + 3),
        step: {
          $case: 'legalReview',
          value: { reviewer: '法制审核员', approved: true, opinion: '' },
        },
      },
    ],
    penalty: (d: number): intake.DecidePenaltyRequest => ({
      meta: meta(d),
      violationCode: 'ENV-AIR-001',
      grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
      fineFen: 30_000_000,
      grounds: '',
      otherMeasures: [],
    }),
    conclude: (d: number): intake.ConcludeCaseRequest => ({
      meta: meta(d),
      conclusion: events.Conclusion.CONCLUSION_PENALIZED,
      summary: '',
    }),
    meta,
  };
}
