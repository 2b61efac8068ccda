import { describe, expect, it } from 'vitest';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { bulkFailures } from './errors.js';

const bulkError = (
  writeErrors: { index: number; code: number; errmsg: string }[],
  message = 'bulk',
) =>
  new MongoBulkWriteError(
    { message, code: writeErrors[0]?.code ?? 1, writeErrors } as never,
    {
      insertedCount: 0,
      matchedCount: 0,
      modifiedCount: 0,
      deletedCount: 0,
      upsertedCount: 0,
      insertedIds: {},
      upsertedIds: {},
    } as never,
  );

describe('bulkFailures', () => {
  it('names each failed item of an unordered insert and whether it is a duplicate', () => {
    const e = bulkError([
      { index: 1, code: 11000, errmsg: 'E11000 duplicate key' },
      { index: 3, code: 2, errmsg: 'bad value' },
    ]);
    expect(bulkFailures(e)).toEqual([
      { index: 1, duplicate: true },
      { index: 3, duplicate: false },
    ]);
  });

  it('knows nothing landed when the whole insert failed: no write errors is not success', () => {
    // What the driver throws when FerretDB answers ok: 0 (its PostgreSQL went away mid-command).
    const e = bulkError([], 'FATAL: terminating connection due to unexpected postmaster exit');
    expect(bulkFailures(e)).toBeUndefined();
  });

  it('is undefined for errors that are not bulk ones', () => {
    expect(bulkFailures(new MongoServerError({ errmsg: 'x', code: 1 }))).toBeUndefined();
    expect(bulkFailures(new Error('x'))).toBeUndefined();
  });
});
