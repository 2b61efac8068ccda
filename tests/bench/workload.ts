import { randomBytes } from 'node:crypto';
import { events, type intake } from '@enforcement/contracts';
import { DISTRICTS } from '@enforcement/reference-data';

export const AGENCIES = ['lz-eeb', 'lz-psb', 'lz-hc', 'lz-agri', 'lz-water', 'lz-amr'];

/** The commands of `cases` cases run by the book, interleaved the way many agencies would send them. */
export function* workload(
  cases: number,
  runId: string,
  // Every act lies in the past: the latest is 99 + 109 days after `start`.
  start = new Date(Date.now() - 230 * 86_400_000),
): Generator<intake.Command> {
  const perCase = (i: number): intake.Command[] => {
    const caseId = `${runId}-${i}`;
    const agencyId = AGENCIES[i % AGENCIES.length] ?? 'lz-eeb';
    const t0 = start.getTime() + (i % 100) * 86_400_000;
    const meta = (k: number, d: number): intake.CommandMeta => ({
      commandId: `${caseId}-${k}`,
      caseId,
      occurredAt: new Date(t0 + d * 86_400_000),
    });
    const digest = randomBytes(32).toString('hex');
    return [
      {
        kind: {
          $case: 'registerCase',
          value: {
            meta: meta(1, 0),
            agencyId,
            district: DISTRICTS[i % DISTRICTS.length] ?? '柳南区',
            domain: events.Domain.DOMAIN_ENVIRONMENT,
            violationCode: 'ENV-AIR-001',
            legalBasis: '《大气污染防治法》第九十九条',
            source: 1,
            parties: [{ kind: 2, name: `企业${i}`, identifier: '' }],
            title: '超标排放',
            major: false,
          },
        },
      },
      {
        kind: {
          $case: 'dispatchCase',
          value: {
            meta: meta(2, 1),
            unitId: `${agencyId}-u${i % 5}`,
            officers: [
              { officerId: `${agencyId}-o${i % 20}`, name: '', credentialNo: 'c1' },
              { officerId: `${agencyId}-o${(i + 7) % 20}`, name: '', credentialNo: 'c2' },
            ],
          },
        },
      },
      {
        kind: {
          $case: 'recordProgress',
          value: {
            meta: meta(3, 2),
            step: {
              $case: 'evidence',
              value: {
                evidenceId: 'ev1',
                kind: 'monitoring',
                sha256: digest,
                collectedBy: 'o',
                collectedAt: new Date(t0 + 2 * 86_400_000),
                description: '',
              },
            },
          },
        },
      },
      {
        kind: {
          $case: 'recordProgress',
          value: {
            meta: meta(4, 5),
            step: {
              $case: 'notice',
              value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 30_000_000 },
            },
          },
        },
      },
      {
        kind: {
          $case: 'recordProgress',
          value: {
            meta: meta(5, 8),
            step: { $case: 'hearing', value: { presidedBy: '', summary: '', waived: true } },
          },
        },
      },
      {
        kind: {
          $case: 'recordProgress',
          value: {
            meta: meta(6, 9),
            step: { $case: 'legalReview', value: { reviewer: 'r', approved: true, opinion: '' } },
          },
        },
      },
      {
        kind: {
          $case: 'decidePenalty',
          value: {
            meta: meta(7, 10),
            violationCode: 'ENV-AIR-001',
            grade: 2,
            fineFen: 25_000_000 + (i % 100) * 100_000,
            grounds: '',
            otherMeasures: [],
          },
        },
      },
      {
        kind: {
          $case: 'concludeCase',
          value: {
            meta: meta(8, 20 + (i % 90)),
            conclusion: events.Conclusion.CONCLUSION_PENALIZED,
            summary: '',
          },
        },
      },
    ];
  };
  // Cases advance in waves of 200, so every wave interleaves many cases' steps.
  const wave = 200;
  for (let w = 0; w < cases; w += wave) {
    const batch = Array.from({ length: Math.min(wave, cases - w) }, (_, k) => perCase(w + k));
    for (let step = 0; step < 8; step++)
      for (const c of batch) {
        const cmd = c[step];
        if (cmd) yield cmd;
      }
  }
}

export const EVENTS_PER_CASE = 8;
