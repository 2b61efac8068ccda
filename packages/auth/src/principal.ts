export type Role = 'agency' | 'supervisor' | 'reporting';
export const ROLES: readonly Role[] = ['agency', 'supervisor', 'reporting'];

/** Who is calling, as the verified token says. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
  /** Agencies an agency-role caller acts for; '*' only in import tokens. */
  readonly agencies: readonly string[];
  /**
   * When a new call with the same token would be refused (ms since the
   * epoch: its `exp` plus the clock skew the verifier tolerates). A stream
   * the token opened ends then too (see `whenExpired`). Absent for
   * principals made without a token.
   */
  readonly validUntil?: number;
}

export const hasRole = (p: Principal, r: Role): boolean => p.roles.includes(r);

/** True when `p` may act as agency `agencyId`. */
export const actsFor = (p: Principal, agencyId: string): boolean =>
  hasRole(p, 'agency') && (p.agencies.includes(agencyId) || p.agencies.includes('*'));

/** setTimeout's longest delay; a later expiry is waited for in steps. */
const LONGEST_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `expired` once `p`'s token is no longer valid, so a stream opened
 * with it does not outlive it: a watch keeps no agency's updates flowing to
 * a session that ended, and a feed stores nothing under a lapsed
 * credential. Returns a function that cancels the wait (call it when the
 * stream ends first). Never calls it for a principal without an expiry.
 */
export function whenExpired(p: Principal, expired: () => void): () => void {
  const until = p.validUntil;
  if (until === undefined) return () => undefined;
  let timer: NodeJS.Timeout | undefined;
  const wait = () => {
    const left = until - Date.now();
    if (left <= 0) {
      timer = undefined;
      expired();
      return;
    }
    timer = setTimeout(wait, Math.min(left, LONGEST_TIMER_MS));
    timer.unref();
  };
  // Never called before this returns, even for a token already expired.
  timer = setTimeout(wait, 0);
  timer.unref();
  return () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
}

/** Whether `p`'s token is still valid at `now` (ms; a principal without an expiry always is). */
export const stillValid = (p: Principal, now = Date.now()): boolean =>
  p.validUntil === undefined || now < p.validUntil;
