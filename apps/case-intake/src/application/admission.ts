import { createHash } from 'node:crypto';
import { events, intake, MAX_ID_LENGTH } from '@enforcement/contracts';
import { fail } from '../domain/errors.js';
import type { Command } from '../domain/types.js';
import type { CaseEvent } from './ports.js';

export { MAX_ID_LENGTH };
/** No act this platform records happened before 1990; a date after 2100 is a typo. */
export const EARLIEST = new Date('1990-01-01T00:00:00Z');
export const LATEST = new Date('2100-01-01T00:00:00Z');

export function checkId(value: string, field: string): void {
  if (value.length > MAX_ID_LENGTH)
    fail('FIELD.INVALID', `has ${value.length} characters; at most ${MAX_ID_LENGTH}`, field);
  if (/\p{C}/u.test(value))
    fail('FIELD.INVALID', 'must be printable (no control, format or unassigned characters)', field);
}

const snake = (s: string) => s.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
/** A path's last field name, without its index (`officers[0].officer_id` → `officer_id`). */
const lastName = (path: string) => (path.split('.').pop() ?? '').replace(/\[\d+\]$/, '');

/** Every leaf of a command's value with its proto field path (oneofs by their case). */
function* leaves(v: unknown, path: string): Generator<[string, unknown]> {
  if (v instanceof Date || typeof v !== 'object' || v === null) {
    yield [path, v];
    return;
  }
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) yield* leaves(x, `${path}[${i}]`);
    return;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.$case === 'string') {
    yield* leaves(o.value, path ? `${path}.${snake(o.$case)}` : snake(o.$case));
    return;
  }
  for (const [k, x] of Object.entries(o)) yield* leaves(x, path ? `${path}.${snake(k)}` : snake(k));
}

/**
 * The fields that name something (an agency, a district, a unit, an officer,
 * an order, a code...), by their last name in a path: each becomes a key in
 * the read models (a ranking's row, a page's group, the rules' clock) and
 * in URLs, so each is an id (`checkId`), whatever its size in the event.
 */
const ID_FIELDS = new Set([
  'agency_id',
  'respondent_agency_id',
  'district',
  'unit_id',
  'officer_id',
  'officer_ids',
  'collected_by',
  'presided_by',
  'handled_by',
  'credential_no',
  'evidence_id',
  'order_id',
  'rule_id',
  'enforcement_case_id',
  'violation_code',
  'model_version',
]);

/** The ids taken without the white space at their ends: every one of ID_FIELDS, and the meta's. */
const TRIMMED = new Set([...ID_FIELDS, 'case_id', 'command_id']);

/**
 * The command with the white space at the ends of every id (`TRIMMED`)
 * taken off, as intake stores ids: a client's `" lz-eeb"` is agency
 * `lz-eeb` in the events, the read models, the rules' clock and every
 * check. Other text (names, facts, grounds) is stored as sent.
 */
export function withIdsTrimmed<C>(c: C): C {
  const copy = (v: unknown, name: string): unknown => {
    if (typeof v === 'string') return TRIMMED.has(name) ? v.trim() : v;
    if (v instanceof Date || v instanceof Uint8Array || typeof v !== 'object' || v === null)
      return v;
    if (Array.isArray(v)) return v.map((x) => copy(x, name));
    const o = v as Record<string, unknown>;
    if (typeof o.$case === 'string') return { ...o, value: copy(o.value, '') };
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, copy(x, snake(k))]));
  };
  return copy(c, '') as C;
}

/**
 * Every time in the command lies between 1990 and 2100, no text holds a
 * NUL character (PostgreSQL's jsonb, under FerretDB, cannot store one),
 * and every field that names something is an id (ID_FIELDS).
 */
export function checkValues(c: Command): void {
  for (const [path, v] of leaves(c.value, '')) {
    if (typeof v === 'string' && v.includes('\u0000'))
      fail('FIELD.INVALID', 'contains a NUL character', path);
    if (typeof v === 'string' && ID_FIELDS.has(lastName(path))) checkId(v, path);
    if (!(v instanceof Date)) continue;
    if (Number.isNaN(v.getTime())) fail('TIME.OUT_OF_RANGE', 'is not a valid time', path);
    if (v < EARLIEST || v >= LATEST)
      fail(
        'TIME.OUT_OF_RANGE',
        `${v.toISOString()} is outside ${EARLIEST.toISOString().slice(0, 10)} to ${LATEST.toISOString().slice(0, 10)}`,
        path,
      );
  }
}

/**
 * Each event becomes one Kafka message: one that the case-events topic would
 * refuse is refused here, before it is stored, naming the largest field.
 */
export function checkEventSizes(evs: readonly CaseEvent[], c: Command, maxBytes: number): void {
  for (const e of evs) {
    const size = events.CaseEvent.encode(e).finish().length;
    if (size <= maxBytes) continue;
    let largest: [string, number] = ['', 0];
    for (const [path, v] of leaves(c.value, ''))
      if (typeof v === 'string' && Buffer.byteLength(v) > largest[1])
        largest = [path, Buffer.byteLength(v)];
    fail(
      'FIELD.TOO_LARGE',
      `has ${largest[1]} bytes; the event would be ${size} bytes and the case-events topic takes at most ${maxBytes}`,
      largest[0],
    );
  }
}

/** What a command asked for, whatever its expected version: a retry repeats it exactly. */
export function fingerprintOf(command: intake.Command): string {
  const k = command.kind;
  const meta = k?.value.meta;
  const bare: intake.Command =
    k && meta
      ? ({
          kind: { ...k, value: { ...k.value, meta: { ...meta, expectedVersion: undefined } } },
        } as intake.Command)
      : command;
  return createHash('sha256').update(intake.Command.encode(bare).finish()).digest('hex');
}
