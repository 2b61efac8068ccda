import { describe, expect, it } from 'vitest';
import { MongoBulkWriteError, MongoServerError } from 'mongodb';
import { bulkFailures, onlyDuplicates } from './errors.js';

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

describe('onlyDuplicates', () => {
  const dup = { code: 11000, errmsg: 'E11000 duplicate key' };
  it('is true when every failed item of a bulk write, or the single write, was a duplicate key', () => {
    expect(
      onlyDuplicates(
        bulkError([
          { index: 0, ...dup },
          { index: 2, ...dup },
        ]),
      ),
    ).toBe(true);
    expect(onlyDuplicates(new MongoServerError({ code: 11000, errmsg: 'E11000' }))).toBe(true);
    // FerretDB's update names the constraint instead of the code.
    const ferret = { code: 1, errmsg: 'UNIQUE constraint failed: orders._id' };
    expect(onlyDuplicates(bulkError([{ index: 1, ...ferret }]))).toBe(true);
  });

  it('is false when any other item failed, even behind a duplicate that gives the error its code', () => {
    const mixed = bulkError([
      { index: 0, ...dup },
      { index: 1, code: 2, errmsg: 'bad value' },
    ]);
    expect(mixed.code).toBe(11000);
    expect(onlyDuplicates(mixed)).toBe(false);
  });

  it('is false when nothing is known to have landed, or the error is another kind', () => {
    expect(onlyDuplicates(bulkError([], 'FATAL: terminating connection'))).toBe(false);
    expect(onlyDuplicates(new MongoServerError({ code: 2, errmsg: 'bad value' }))).toBe(false);
    expect(onlyDuplicates(new Error('socket closed'))).toBe(false);
  });
});
