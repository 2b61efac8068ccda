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

const owningAgency = (command: Command, state: CaseState): string | undefined =>
  command.$case === 'registerCase'
    ? command.value.agencyId
    : state.type === 'NONE'
      ? undefined
      : state.agencyId;

export function authorizeCommand(p: Principal, command: Command, state: CaseState): void {
  if (hasRole(p, 'supervisor') && bySupervisor.has(command.$case)) return;
  if (hasRole(p, 'agency') && byAgency.has(command.$case)) {
    const agency = owningAgency(command, state);
    // An unknown case is reported as such by the domain, not as forbidden.
    if (agency === undefined || actsFor(p, agency)) return;
    fail('AUTH.FORBIDDEN', `${p.subject} may not act on cases of agency ${agency}`);
  }
  fail('AUTH.FORBIDDEN', `role ${p.roles.join('+')} may not ${command.$case}`);
}

export function authorizeRead(p: Principal, agencyId: string): void {
  if (hasRole(p, 'supervisor') || hasRole(p, 'reporting') || actsFor(p, agencyId)) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not read cases of agency ${agencyId}`);
}

export function authorizeReadAll(p: Principal): void {
  if (hasRole(p, 'supervisor') || hasRole(p, 'reporting')) return;
  fail('AUTH.FORBIDDEN', `${p.subject} may not read every agency's events`);
}
