import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MongoClient } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import { VersionConflict, type CaseEvent } from '../../application/ports.js';
import { commitOf } from './commits.test-support.js';
import { MongoEventStore } from './event-store.js';

/**
 * ReadAll against an oracle: whatever commits several intake instances
 * stored (restarts leaving gaps in positions, version conflicts leaving
 * index entries that name no commit, commits of several events), reading
 * after any position gives exactly the stored events after it, in position
 * order; and a store whose index is rebuilt from the commits (one entry per
 * commit, where intake writes one document per group commit) reads the same,
 * with group commits written after it.
 */
const RUNS = Number(process.env.READ_ALL_RUNS ?? 12);
const BLOCK = 5;
const BUCKETS = 4;

type Op =
  | { kind: 'append'; instance: number; caseNo: number; events: number }
  | { kind: 'stale'; instance: number; caseNo: number }
  | { kind: 'restart'; instance: number }
  | { kind: 'together'; cases: number[]; spread: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      instance: fc.nat(2),
      caseNo: fc.nat(5),
      events: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stale' as const),
      instance: fc.nat(2),
      caseNo: fc.nat(5),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('restart' as const), instance: fc.nat(2) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('together' as const),
      cases: fc.uniqueArray(fc.nat(5), { minLength: 2, maxLength: 6 }),
      // On one instance: one group commit, across position blocks.
      spread: fc.boolean(),
    }),
  },
);

async function read(store: MongoEventStore, after: number, limit: number): Promise<number[]> {
  const out: number[] = [];
  for await (const e of store.readAll(after, limit)) {
    out.push(e.position);
    if (limit > 0 && out.length >= limit) break;
  }
  return out;
}

describe('ReadAll from the global position index', () => {
  let client: MongoClient;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, { maxPoolSize: 10 });
  });
  afterAll(async () => {
    await client.close();
  });

  it('reads exactly the stored events after any position, whatever the instances, restarts and conflicts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 4, maxLength: 30 }),
        fc.array(fc.nat(200), { minLength: 3, maxLength: 6 }),
        fc.integer({ min: 1, max: 7 }),
        async (ops, probes, limit) => {
          const db = client.db(uniqueName('readall').replace(/-/g, '_'));
          try {
            const open = async () => {
              const s = new MongoEventStore(db, { buckets: BUCKETS, positionBlock: BLOCK });
              await s.init();
              return s;
            };
            const instances = [await open(), await open(), await open()];
            const at = (i: number): MongoEventStore => {
              const s = instances[i];
              if (!s) throw new Error(`no instance ${i}`);
              return s;
            };
            const versions = new Map<string, number>();
            const lastFrom = new Map<string, number>();
            const stored: CaseEvent[] = [];
            let tag = 0;
            const append = async (instance: number, caseNo: number, n: number) => {
              const caseId = `case-${caseNo}`;
              const from = (versions.get(caseId) ?? 0) + 1;
              versions.set(caseId, from + n - 1);
              lastFrom.set(caseId, from);
              const done = await at(instance).append(commitOf(caseId, from, n, `t${tag++}`));
              stored.push(...done.events);
            };
            for (const o of ops) {
              if (o.kind === 'append') await append(o.instance, o.caseNo, o.events);
              else if (o.kind === 'restart') instances[o.instance] = await open();
              else if (o.kind === 'together')
                await Promise.all(
                  o.cases.map((c, i) => append(o.spread ? i % 3 : 0, c, 1 + (i % 2))),
                );
              else {
                const caseId = `case-${o.caseNo}`;
                // A writer that missed the case's last commit collides on its `_id`.
                const last = lastFrom.get(caseId);
                if (last === undefined) continue;
                const stale = commitOf(caseId, last, 1, `stale${tag++}`);
                await expect(at(o.instance).append(stale)).rejects.toBeInstanceOf(VersionConflict);
              }
            }
            const truth = stored.map((e) => e.position).sort((a, b) => a - b);
            const store = at(0);
            expect(await read(store, 0, 0)).toEqual(truth);
            const top = truth.at(-1) ?? 0;
            for (const p of [...probes.map((x) => x % (top + 2)), top, ...truth.slice(0, 3)]) {
              const after = truth.filter((x) => x > p);
              expect(await read(store, p, 0), `after ${p}`).toEqual(after);
              expect(await read(store, p, limit), `after ${p}, ${limit}`).toEqual(
                after.slice(0, limit),
              );
            }
            // Right after every stored position: where a commit or a group
            // commit's index document starts before the position read from.
            for (const p of truth)
              expect(await read(store, p, 2), `after ${p}, 2`).toEqual(
                truth.filter((x) => x > p).slice(0, 2),
              );
            // Events keep their content on the way through the index.
            const byPosition = new Map(stored.map((e) => [e.position, e]));
            for await (const e of store.readAll(0, 0))
              expect(e.eventId).toBe(byPosition.get(e.position)?.eventId);

            // A store from before the index: the index rebuilt from the commits reads the same.
            await db.collection('position_log').drop();
            await db.collection('store_meta').drop();
            const rebuilt = await open();
            expect(await read(rebuilt, 0, 0)).toEqual(truth);
            expect(await db.collection('position_log').countDocuments()).toBe(
              new Set(stored.map((e) => e.commandId)).size,
            );
            // Group commits written after it go beside the rebuilt entries.
            instances[0] = rebuilt;
            await Promise.all([0, 1, 2, 3].map((c) => append(0, c, 1 + (c % 2))));
            const all = stored.map((e) => e.position).sort((a, b) => a - b);
            expect(await read(rebuilt, 0, 0)).toEqual(all);
            const mid = all[Math.floor(all.length / 2)] ?? 0;
            expect(await read(rebuilt, mid, 0)).toEqual(all.filter((x) => x > mid));
          } finally {
            await db.dropDatabase();
          }
        },
      ),
      { numRuns: RUNS },
    );
  });
});
