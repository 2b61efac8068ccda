import { events } from '@enforcement/contracts';
import type { Commit } from '../../application/ports.js';

/** A commit of `n` events of a case from `fromVersion`, its command named by case, version and `tag`. */
export function commitOf(caseId: string, fromVersion: number, n: number, tag = ''): Commit {
  const commandId = tag ? `${caseId}:${fromVersion}:${tag}` : `${caseId}:${fromVersion}`;
  return {
    caseId,
    commandId,
    fingerprint: commandId,
    fromVersion,
    toVersion: fromVersion + n - 1,
    events: Array.from({ length: n }, (_, i) =>
      events.CaseEvent.fromPartial({
        eventId: `${commandId}:${i}`,
        caseId,
        version: fromVersion + i,
        commandId,
        agencyId: 'agency-1',
        occurredAt: new Date(Date.UTC(2021, 0, 1, 0, fromVersion + i)),
      }),
    ),
  };
}
