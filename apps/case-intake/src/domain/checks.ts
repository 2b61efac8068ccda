import { fail } from './errors.js';

/** Field checks shared by the deciders; each names the field it rejects. */

export function required(value: string | undefined, field: string): string {
  const v = (value ?? '').trim();
  if (v.length === 0) fail('FIELD.REQUIRED', 'is required', field);
  return v;
}

export function specified<T extends number>(
  value: T | undefined,
  field: string,
  allowed: readonly number[],
): T {
  if (value === undefined || value === 0) return fail('FIELD.REQUIRED', 'must be specified', field);
  if (value < 0 || !allowed.includes(value))
    return fail('FIELD.INVALID', `unknown value ${value}`, field);
  return value;
}

export function present<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) return fail('FIELD.REQUIRED', 'is required', field);
  return value;
}

/** Enum values a client may send (not UNSPECIFIED, not UNRECOGNIZED). */
export const enumValues = (e: Record<string, string | number>): number[] =>
  Object.values(e).filter((v): v is number => typeof v === 'number' && v > 0);

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Clock difference tolerated between two parties (an agency and intake, or an agency and its supervisor). */
export const MAX_SKEW_MS = 5 * 60_000;

/**
 * Refuses an act dated before a step of the case it must follow (`what`,
 * at `at`): a conclusion before the decision it concludes, an answer before
 * its order. `tolerance` allows for another party's clock.
 */
export function notBefore(
  occurredAt: Date,
  at: Date | undefined,
  what: string,
  tolerance = 0,
): void {
  if (at && occurredAt.getTime() < at.getTime() - tolerance)
    fail(
      'TIME.BEFORE_PREVIOUS_STEP',
      `${occurredAt.toISOString()} is before ${what} (${at.toISOString()})`,
      'meta.occurred_at',
    );
}
