import { MongoServerError } from 'mongodb';

/**
 * A unique-index violation. MongoDB reports code 11000 for inserts and
 * updates; FerretDB 1.x reports 11000 for inserts but a generic error naming
 * the UNIQUE constraint for updates, so both are recognised.
 */
export function isDuplicateKey(err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false;
  if (err.code === 11000 || err.code === 11001) return true;
  return /UNIQUE constraint failed|duplicate key value violates unique constraint/i.test(
    err.message,
  );
}
