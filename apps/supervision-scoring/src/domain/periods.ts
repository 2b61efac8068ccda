/** Periods are calendar periods in the city's time zone (UTC+8, no DST). */
const OFFSET_MS = 8 * 3_600_000;

export type PeriodKind = 'MONTH' | 'QUARTER' | 'YEAR';

export interface Periods {
  readonly MONTH: string;
  readonly QUARTER: string;
  readonly YEAR: string;
}

export function periodsOf(at: Date): Periods {
  const local = new Date(at.getTime() + OFFSET_MS);
  const y = local.getUTCFullYear();
  const m = local.getUTCMonth() + 1;
  return {
    YEAR: String(y),
    QUARTER: `${y}-Q${Math.ceil(m / 3)}`,
    MONTH: `${y}-${String(m).padStart(2, '0')}`,
  };
}

const PATTERNS: Record<PeriodKind, RegExp> = {
  YEAR: /^\d{4}$/,
  QUARTER: /^\d{4}-Q[1-4]$/,
  MONTH: /^\d{4}-(0[1-9]|1[0-2])$/,
};

/** The local calendar day of a moment, as YYYY-MM-DD. */
export const localDay = (at: Date): string =>
  new Date(at.getTime() + OFFSET_MS).toISOString().slice(0, 10);

export const isPeriod = (kind: PeriodKind, period: string): boolean => PATTERNS[kind].test(period);

/** Whole days from `from` to `to`, counted on the local calendar. */
export function daysBetween(from: Date, to: Date): number {
  const day = 86_400_000;
  return (
    Math.floor((to.getTime() + OFFSET_MS) / day) - Math.floor((from.getTime() + OFFSET_MS) / day)
  );
}
