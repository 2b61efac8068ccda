import { textWithNul } from '@enforcement/contracts';
import { invalid } from '@enforcement/errors';

export { textWithNul };

/** Refuses a request with a NUL character in any text: INVALID_ARGUMENT, `FIELD.INVALID`, naming the field. */
export function refuseNul(request: unknown): void {
  const at = textWithNul(request);
  if (at !== undefined) throw invalid('FIELD.INVALID', at, 'contains a NUL character');
}

/**
 * The fields of a query that name what intake stores without the white
 * space at its ends: a case, an agency, a unit, a district. An officer's id
 * is matched as asked for: intake stored it as sent until the evening of
 * 2026-12-06, so the read models may hold it so.
 */
const STORED_TRIMMED = ['caseId', 'agencyId', 'unitId', 'district', 'aboutCaseId'] as const;

/**
 * `request` with the white space at the ends of the names intake trims
 * (`STORED_TRIMMED`) taken off, as intake takes it off a command: a case
 * asked for as `" x "` is the case stored as `x`, an agency's `" a"` is
 * agency `a`. Other text (page tokens, periods) is left as it is.
 */
export function asStored<T extends object>(request: T): T {
  const out = { ...request } as Record<string, unknown>;
  for (const k of STORED_TRIMMED) {
    const v = out[k];
    if (typeof v === 'string') out[k] = v.trim();
  }
  return out as T;
}
