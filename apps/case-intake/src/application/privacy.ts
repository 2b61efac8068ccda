import { actsFor, type Principal } from '@enforcement/auth';
import type { CaseEvent } from './ports.js';

/**
 * Party identity numbers and credit codes, masked: the first and last four
 * characters stay (region and check digits), the birth date and serial in
 * between do not. Short identifiers are masked whole.
 */
export function maskIdentifier(id: string): string {
  if (id.length <= 8) return '*'.repeat(id.length);
  return `${id.slice(0, 4)}${'*'.repeat(id.length - 8)}${id.slice(-4)}`;
}

/** Whether an event carries personal data that masking would change. */
export const carriesIdentifiers = (e: CaseEvent): boolean =>
  e.payload?.$case === 'caseRegistered' && e.payload.value.parties.some((p) => p.identifier);

export function maskEvent(e: CaseEvent): CaseEvent {
  if (e.payload?.$case !== 'caseRegistered') return e;
  const r = e.payload.value;
  return {
    ...e,
    payload: {
      $case: 'caseRegistered',
      value: {
        ...r,
        parties: r.parties.map((p) => ({ ...p, identifier: maskIdentifier(p.identifier) })),
      },
    },
  };
}

/**
 * Minimisation under the Personal Information Protection Law: only the
 * agency that owns a case sees its parties' identifiers in full; supervisors,
 * reporting and every other caller get them masked.
 */
export const seesIdentifiers = (p: Principal, e: CaseEvent): boolean => actsFor(p, e.agencyId);

export const forCaller = (p: Principal, e: CaseEvent): CaseEvent =>
  seesIdentifiers(p, e) ? e : maskEvent(e);
