import { intake } from '@enforcement/contracts';
import { DISTRICTS } from '@enforcement/reference-data';
import { tokenFor, unary } from '@enforcement/testing';
import type { WholeSystem } from './whole-system.js';

/**
 * Registers a case 100 days old with agency lz-eeb: past its 90-day deadline,
 * so the supervision rules open an OVERDUE order on it. `parties: false`
 * leaves the parties out, which intake refuses (FIELD.REQUIRED).
 */
export async function registerOverdueCase(
  sys: WholeSystem,
  caseId: string,
  o: { parties?: boolean } = {},
): Promise<intake.CommandResult> {
  const md = await tokenFor(['agency'], ['lz-eeb']);
  return unary<intake.CommandResult>((cb) =>
    sys.intakeClient.registerCase(
      intake.RegisterCaseRequest.fromPartial({
        meta: {
          commandId: `${caseId}:1`,
          caseId,
          occurredAt: new Date(Date.now() - 100 * 86_400_000),
        },
        agencyId: 'lz-eeb',
        district: DISTRICTS[0],
        domain: 1,
        violationCode: 'ENV-AIR-001',
        legalBasis: '《大气污染防治法》第九十九条',
        source: 1,
        parties: o.parties === false ? [] : [{ kind: 2, name: '柳州某公司', identifier: '9145' }],
        title: caseId,
      }),
      md,
      cb,
    ),
  );
}
