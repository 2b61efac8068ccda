import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import { commitOf } from './commits.test-support.js';
import { MongoEventStore } from './event-store.js';

/**
 * Loading a case reads its commits by `_id`, a window of versions at a time,
 * from a version the caller knows (its checkpoint). Whatever that version
 * says (none, stale, current, or ahead of a store that lost commits), and
 * however many events each commit holds, the load is exactly the stored
 * history, and no other case's commits.
 */
const RUNS = Number(process.env.LOAD_RUNS ?? 25);

describe('loading a case by version windows', () => {
  let client: MongoClient;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, { maxPoolSize: 10 });
  });
  afterAll(async () => {
    await client.close();
  });

  it('reads exactly the stored history whatever version the caller knows', async () => {
    const db = client.db(uniqueName('load').replace(/-/g, '_'));
    const store = new MongoEventStore(db, { buckets: 2, positionBlock: 50 });
    await store.init();
    try {
      await fc.assert(
        fc.asyncProperty(
          // Sizes of the case's commits: some span a whole window and more.
          fc.array(fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 15, max: 40 })), {
            minLength: 0,
            maxLength: 12,
          }),
          fc.nat(1_000),
          fc.nat(60),
          async (sizes, seed, hintAhead) => {
            const caseId = `case-${uniqueName('c')}`;
            // A neighbour whose id extends this one's: never part of its history.
            const neighbour = `${caseId}:1`;
            let version = 0;
            for (const n of sizes) {
              await store.append(commitOf(caseId, version + 1, n));
              await store.append(commitOf(neighbour, version + 1, 1));
              version += n;
            }
            const ids = (s: { events: readonly { eventId: string }[] }) =>
              s.events.map((e) => e.eventId);
            const froms = sizes.map((_, i) => 1 + sizes.slice(0, i).reduce((a, b) => a + b, 0));
            const expected = froms.flatMap((from, i) =>
              Array.from({ length: sizes[i] ?? 0 }, (_, k) => `${caseId}:${from}:${k}`),
            );
            // No checkpoint, a stale one, the current one, and one past what is stored.
            for (const known of [0, seed % (version + 1), version, version + hintAhead]) {
              const loaded = await store.load(caseId, known);
              expect(loaded.version, `known ${known}`).toBe(version);
              expect(ids(loaded), `known ${known}`).toEqual(expected);
              expect(loaded.commits.map((c) => c.fromVersion)).toEqual(froms);
            }
          },
        ),
        { numRuns: RUNS },
      );
    } finally {
      await db.dropDatabase();
    }
  });

  it('walks every case once and whole, a few cases at a time (the audit and ReadAll from commits)', async () => {
    const db = client.db(uniqueName('cases').replace(/-/g, '_'));
    const store = new MongoEventStore(db, { buckets: 3, positionBlock: 50 });
    await store.init();
    try {
      await fc.assert(
        fc.asyncProperty(
          // Per case, the sizes of its commits; commits of cases interleave.
          fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 5 }), {
            maxLength: 14,
          }),
          fc.integer({ min: 1, max: 5 }),
          async (cases, perRead) => {
            const tag = uniqueName('w');
            const expected = new Map<string, string[]>();
            const next = cases.map(() => 1);
            for (let round = 0; round < 5; round++)
              for (const [i, sizes] of cases.entries()) {
                const n = sizes[round];
                if (n === undefined) continue;
                const caseId = `${tag}-${i}`;
                const stored = await store.append(commitOf(caseId, next[i] ?? 1, n));
                next[i] = (next[i] ?? 1) + n;
                expected.set(caseId, [
                  ...(expected.get(caseId) ?? []),
                  ...stored.events.map((e) => e.eventId),
                ]);
              }
            const seen = new Map<string, string[]>();
            for await (const c of store.cases(perRead)) {
              if (!c.caseId.startsWith(`${tag}-`)) continue;
              expect(seen.has(c.caseId), `${c.caseId} twice`).toBe(false);
              expect(c.version).toBe(c.events.length);
              seen.set(
                c.caseId,
                c.events.map((e) => e.eventId),
              );
            }
            expect(seen).toEqual(expected);
          },
        ),
        { numRuns: Math.max(5, Math.floor(RUNS / 2)) },
      );
    } finally {
      await db.dropDatabase();
    }
  });
});
