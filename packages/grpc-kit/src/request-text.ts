import { invalid } from '@enforcement/errors';

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The field (its snake_case path, `filters[1].agency_id`) of the first text
 * in a decoded request that holds a NUL character, or undefined when none
 * does. The local store cannot hold or even match such text (PostgreSQL's
 * jsonb under FerretDB answers any query that names it with an internal
 * error), and no id, name or period has one.
 */
export function textWithNul(v: unknown, path = ''): string | undefined {
  if (typeof v === 'string') return v.includes('\u0000') ? path : undefined;
  if (v === null || typeof v !== 'object' || v instanceof Date || ArrayBuffer.isView(v))
    return undefined;
  for (const [k, x] of Object.entries(v)) {
    const here = Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${snake(k)}` : snake(k);
    if (k.includes('\u0000')) return here;
    const found = textWithNul(x, here);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Refuses a request with a NUL character in any text: INVALID_ARGUMENT, `FIELD.INVALID`, naming the field. */
export function refuseNul(request: unknown): void {
  const at = textWithNul(request);
  if (at !== undefined) throw invalid('FIELD.INVALID', at, 'contains a NUL character');
}
