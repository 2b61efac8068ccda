import { MongoBulkWriteError, MongoServerError } from 'mongodb';

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

/**
 * The failed items of an unordered bulk write (`insertMany` with
 * `ordered: false`): each one's index and whether it is a duplicate key.
 * Undefined when the error is not a per-item one, so nothing is known to
 * have landed. The driver reports a whole insert that failed (the server
 * losing its database mid-command) as a MongoBulkWriteError too, with no
 * write errors at all: that is not "everything else landed".
 */
export function bulkFailures(err: unknown): { index: number; duplicate: boolean }[] | undefined {
  if (!(err instanceof MongoBulkWriteError)) return undefined;
  const raw: unknown = err.writeErrors;
  const list = (Array.isArray(raw) ? raw : raw ? [raw] : []) as {
    index: number;
    code: number;
    errmsg?: string;
  }[];
  if (list.length === 0) return undefined;
  return list.map((w) => ({
    index: w.index,
    duplicate: isDuplicateKey(new MongoServerError({ code: w.code, errmsg: w.errmsg ?? '' })),
  }));
}

/**
 * Whether a write failed on unique keys alone, so that everything else it
 * carried landed: each failed item of an unordered bulk write a duplicate,
 * or a single write's duplicate key. A bulk write's own code is its first
 * item's, so it is judged by its items: a duplicate first and another
 * failure after it is not "only duplicates".
 */
export function onlyDuplicates(err: unknown): boolean {
  const items = bulkFailures(err);
  if (items) return items.every((f) => f.duplicate);
  if (err instanceof MongoBulkWriteError) return false;
  return isDuplicateKey(err);
}

/** A write's `.catch`: passes when it failed on duplicate keys alone (`onlyDuplicates`), rethrows otherwise. */
export function ignoreDuplicates(err: unknown): void {
  if (!onlyDuplicates(err)) throw err;
}
