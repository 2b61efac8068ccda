/**
 * Ids (of commands, cases, agencies, officers, orders...) are at most this
 * many characters, and printable: they become keys in the store, on Kafka
 * and in URLs. Intake refuses longer ones; ids the supervision rules make
 * keep to it too.
 */
export const MAX_ID_LENGTH = 128;

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/**
 * The field (its snake_case path, `filters[1].agency_id`; a oneof's value
 * by its case, `payload.case_registered.district`) of the first text in a
 * decoded message (a request, an event) that holds a NUL character, or
 * undefined when none does. The local store cannot hold or even match such text (PostgreSQL's
 * jsonb under FerretDB answers any query that names it with an internal
 * error), and no id, name or period has one.
 */
export function textWithNul(v: unknown, path = ''): string | undefined {
  if (typeof v === 'string') return v.includes('\u0000') ? path : undefined;
  if (v === null || typeof v !== 'object' || v instanceof Date || ArrayBuffer.isView(v))
    return undefined;
  // A oneof as ts-proto gives it ({ $case, value }) is named by its case.
  const oneof = (v as { $case?: unknown }).$case;
  for (const [k, x] of Object.entries(v)) {
    const name = k === 'value' && typeof oneof === 'string' ? snake(oneof) : snake(k);
    const here = Array.isArray(v) ? `${path}[${k}]` : path ? `${path}.${name}` : name;
    if (k.includes('\u0000')) return here;
    const found = textWithNul(x, here);
    if (found !== undefined) return found;
  }
  return undefined;
}
