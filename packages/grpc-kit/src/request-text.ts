import { textWithNul } from '@enforcement/contracts';
import { invalid } from '@enforcement/errors';

export { textWithNul };

/** Refuses a request with a NUL character in any text: INVALID_ARGUMENT, `FIELD.INVALID`, naming the field. */
export function refuseNul(request: unknown): void {
  const at = textWithNul(request);
  if (at !== undefined) throw invalid('FIELD.INVALID', at, 'contains a NUL character');
}
