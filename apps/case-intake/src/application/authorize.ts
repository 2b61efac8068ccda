import { actsFor, hasRole, type Principal } from '@enforcement/auth';
import { fail } from '../domain/errors.js';
import type { CaseState } from '../domain/state.js';
import type { Command, CommandName } from '../domain/types.js';

/** What each role may submit. Agencies run their cases; supervisors supervise, evaluate and review. */
const byAgency: ReadonlySet<CommandName> = new Set<CommandName>([
  'registerCase',
  'dispatchCase',
  'recordProgress',
  'decidePenalty',
  'concludeCase',
  'answerSupervisionOrder',
  'archiveCase',
]);

const bySupervisor: ReadonlySet<CommandName> = new Set<CommandName>([
  'openSupervisionOrder',
  'escalateSupervisionOrder',
  'recordEvaluation',
  'archiveCase',
  'fileReconsideration',
  'acceptReconsideration',
  'concludeReconsideration',
]);

/**
 * Whether any role of `p` may submit this kind of command at all. Checked
 * before anything is looked up, so a caller without the role learns nothing
 * about the case, not even that the command id is known.
 */
export function authorizeKind(p: Principal, kind: CommandName): void {
  if (hasRole(p, 'supervisor') && bySupervisor.has(kind)) return;
  if (hasRole(p, 'agency') && byAgency.has(kind)) return;
  fail('AUTH.FORBIDDEN', `role ${p.roles.join('+')} may not ${kind}`);
}

/**
 * Whether `p` may run this command on this case. An existing case belongs to
 * the agency that registered it, whatever agency the command names; the
 * refusal does not say whose it is.
 */
export function authorizeCommand(p: Principal, command: Command, state: CaseState): void {
  authorizeKind(p, command.$case);
  if (hasRole(p, 'supervisor') && bySupervisor.has(command.$case)) return;
  const agency =
    state.type !== 'NONE'
      ? state.agencyId
      : command.$case === 'registerCase'
        ? command.value.agencyId
        : undefined;
  // An unknown case is reported as such by the domain, not as forbidden.
  if (agency === undefined || actsFor(p, agency)) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not act on this case`);
}

export function authorizeRead(p: Principal, agencyId: string): void {
  if (hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, agencyId)) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not read this case`);
}

export function authorizeReadAll(p: Principal): void {
  if (hasRole(p, 'supervisor') || hasRole(p, 'reporting')) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not read every agency's events`);
}

export function authorizeAudit(p: Principal): void {
  if (hasRole(p, 'supervisor')) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not audit the store`);
}
