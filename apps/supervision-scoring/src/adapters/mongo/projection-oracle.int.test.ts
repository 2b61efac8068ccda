import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import type { ProjectionStore, RollupPageRow } from '../../application/ports.js';
import {
  PARTITIONS,
  partitionOfId,
  runScenario,
  scenario,
} from '../../test-support/projection-scenario.js';
import { CaseConflict, ReadModels, unpackPage, type StoredPage } from './read-models.js';

/** Each write lands, and the one numbered `failAt` loses its answer, as a dying connection would. */
function faulty(m: ReadModels): ProjectionStore & { failAt(n: number): void } {
  let writes = 0;
  let failAt = 0;
  const write =
    <A extends unknown[]>(f: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      await f(...args);
      if (++writes === failAt) throw new Error('connection closed before the answer');
    };
  return {
    failAt: (n) => {
      writes = 0;
      failAt = n;
    },
    getCases: (ids) => m.getCases(ids),
    casesForWrite: (p, ids) => m.casesForWrite(p, ids),
    writeCases: write((p, records, rolled) => m.writeCases(p, records, rolled)),
    forget: () => m.forget(),
    rollupPages: (ids) => m.rollupPages(ids),
    writeRollupPages: write((w) => m.writeRollupPages(w)),
    writeCorrections: write((p, parts) => m.writeCorrections(p, parts)),
    upsertOrders: write((w) => m.upsertOrders(w)),
    requestCorrections: write((r) => m.requestCorrections(r)),
    correctionsFor: (p) => m.correctionsFor(p),
    correctionsDone: write((ids) => m.correctionsDone(ids)),
    correctionRefused: write((id, r) => m.correctionRefused(id, r)),
  };
}

/** Rows summed by rollup id. */
function sum(rows: Iterable<RollupPageRow>): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const sums = out.get(r.id) ?? {};
    for (const [k, n] of Object.entries(r.values)) sums[k] = (sums[k] ?? 0) + n;
    out.set(r.id, sums);
  }
  return out;
}

/**
 * The projection's property (test-support/projection-scenario.ts) on the
 * MongoDB adapter and the local server: the same random histories, crashes
 * between writes, replays, restarts and releases as in memory, with pages of
 * two cases and one new case named in a summary, so that cases spread over
 * pages and the index pages are written. Stale writers racing the owner are
 * left to the store in memory: the local server does not isolate concurrent
 * updates of one document (infra/README.md), and the adapter relies on one
 * writer per partition.
 */
describe('the projection on the MongoDB adapter, against the scoring model of the histories', () => {
  let client: MongoClient;
  let db: Db;
  let run = 0;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    db = client.db(uniqueName('projection-oracle').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  it('leaves every rollup and case as the histories give them, as stored and as a reader keeping what it read lists them', async () => {
    await fc.assert(
      fc.asyncProperty(scenario({ races: false, maxSteps: 16 }), async (s) => {
        const prefix = `r${++run}_`;
        const models = async () => {
          const m = new ReadModels(db, prefix, 4, partitionOfId, {
            casesPerPage: 2,
            placedInSummary: 1,
          });
          await m.init();
          return m;
        };
        // A listing reader kept through the run, and a reader made afresh for each look.
        const reader = await models();
        const listKeysOf = (rollupIds: readonly string[]) => [
          ...new Set(rollupIds.map((id) => id.slice(0, id.lastIndexOf('|')))),
        ];
        /** Each process's instance, behind the store its projector was given. */
        const instances = new WeakMap<object, ReadModels>();
        // As ListScores reads them: folded, and the fold kept while the marks stand.
        const listed = async (
          m: ReadModels,
          rollupIds: readonly string[],
          owned: readonly number[] = [],
        ) => {
          const rows: RollupPageRow[] = [];
          for (const listKey of listKeysOf(rollupIds))
            rows.push(
              ...(await m.listing(
                listKey,
                PARTITIONS,
                (pages) =>
                  pages.flatMap((page) => page.rows.filter((r) => r.id.startsWith(`${listKey}|`))),
                owned,
              )),
            );
          return sum(rows);
        };
        try {
          await runScenario(s, {
            client: async () => {
              const m = await models();
              const store = faulty(m);
              instances.set(store, m);
              return store;
            },
            isConflict: (e) => e instanceof CaseConflict,
            parked: async (ids) => {
              const found = await (await models()).getCases(ids);
              return new Set([...found].filter(([, r]) => r.parked).map(([id]) => id));
            },
            ask: async (request) => (await models()).requestCorrections([request]),
            list: (rollupIds) => listed(reader, rollupIds),
            listAsWriter: async (writer, owned, rollupIds) => {
              const m = instances.get(writer);
              if (!m) throw new Error('not a writer of this run');
              return listed(m, rollupIds, owned);
            },
            stored: async () => {
              // Every page of every writer, read from the collections themselves.
              const rows: RollupPageRow[] = [];
              for (const { name } of await db.listCollections().toArray())
                if (name.startsWith(`${prefix}rollup_`))
                  for (const d of await db.collection<StoredPage>(name).find({}).toArray())
                    rows.push(...unpackPage(d).rows);
              return sum(rows);
            },
            cases: async (ids) => (await models()).getCases(ids),
            waiting: async () => (await (await models()).waiting()).cases,
            correctionsLeft: async () => {
              const m = await models();
              let left = 0;
              for (let p = 0; p < PARTITIONS; p++) left += (await m.correctionsFor(p)).length;
              return left;
            },
          });
        } finally {
          await reader.drop();
        }
      }),
      {
        numRuns: Number(process.env.RUNS ?? 25),
        ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
      },
    );
  }, 600_000);
});
