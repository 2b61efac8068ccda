import type { intake } from '@enforcement/contracts';
import type { Principal } from '@enforcement/auth';
import { authorizeAudit } from './authorize.js';
import { verifyChain } from './chain.js';
import type { ReadDeps } from './read-case.js';

/**
 * The whole-store audit: every case's chain and checkpoint, then every
 * checkpointed case the store no longer holds. One finding per broken case,
 * with the first bad version and position, then a summary.
 */
export async function* auditStore(
  deps: ReadDeps,
  p: Principal,
): AsyncGenerator<intake.AuditStoreResponse> {
  authorizeAudit(p);
  const seen = new Set<string>();
  const summary: intake.AuditSummary = {
    casesChecked: 0,
    eventsChecked: 0,
    brokenCases: 0,
    missingCases: 0,
    checkpointsKnown: 0,
  };
  // The checkpoints as they stood before the store is read: one taken later
  // could name a commit stored while the read went on, which it need not see.
  const checkpoints = new Map([...deps.checkpoints.all()].map((c) => [c.caseId, c]));
  for await (const stream of deps.store.cases()) {
    seen.add(stream.caseId);
    summary.casesChecked++;
    summary.eventsChecked += stream.events.length;
    const check = verifyChain(stream, deps.chainKeys, checkpoints.get(stream.caseId));
    if (check.valid) continue;
    summary.brokenCases++;
    yield {
      item: {
        $case: 'finding',
        value: {
          caseId: stream.caseId,
          firstBadVersion: check.firstBadVersion,
          firstBadPosition: check.firstBadPosition,
          problem: check.problem,
        },
      },
    };
  }
  for (const cp of checkpoints.values()) {
    summary.checkpointsKnown++;
    if (seen.has(cp.caseId)) continue;
    summary.missingCases++;
    summary.brokenCases++;
    yield {
      item: {
        $case: 'finding',
        value: {
          caseId: cp.caseId,
          firstBadVersion: 1,
          firstBadPosition: 0,
          problem: `the case is gone from the store, but version ${cp.version} was checkpointed`,
        },
      },
    };
  }
  yield { item: { $case: 'summary', value: summary } };
}
