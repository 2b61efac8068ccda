import { createHash } from 'node:crypto';
import { events, intake } from '@enforcement/contracts';
import { fail } from '../domain/errors.js';
import type { Command } from '../domain/types.js';
import type { CaseEvent } from './ports.js';

/** Ids are printable and short: they become keys in the store, on Kafka and in URLs. */
export const MAX_ID_LENGTH = 128;
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
 * Every time in the command lies between 1990 and 2100, and no text holds a
 * NUL character (PostgreSQL's jsonb, under FerretDB, cannot store one).
 */
export function checkValues(c: Command): void {
  for (const [path, v] of leaves(c.value, '')) {
    if (typeof v === 'string' && v.includes('\u0000'))
      fail('FIELD.INVALID', 'contains a NUL character', path);
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
