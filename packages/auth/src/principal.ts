export type Role = 'agency' | 'supervisor' | 'reporting';
export const ROLES: readonly Role[] = ['agency', 'supervisor', 'reporting'];

/** Who is calling, as the verified token says. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
  /** Agencies an agency-role caller acts for; '*' only in import tokens. */
  readonly agencies: readonly string[];
}

export const hasRole = (p: Principal, r: Role): boolean => p.roles.includes(r);

/** True when `p` may act as agency `agencyId`. */
export const actsFor = (p: Principal, agencyId: string): boolean =>
  hasRole(p, 'agency') && (p.agencies.includes(agencyId) || p.agencies.includes('*'));
