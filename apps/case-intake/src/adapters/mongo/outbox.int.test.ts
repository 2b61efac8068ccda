import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import { VersionConflict, type Commit } from '../../application/ports.js';
import { commitOf } from './commits.test-support.js';
import { GATHER_MAX_MS, GATHER_STEP_MS, MongoEventStore } from './event-store.js';

/**
 * The outbox against an oracle: whatever several instances stored, published
 * in part, lost to version conflicts or abandoned in a crash, a sweep finds
 * every stored commit not yet published (at least once), none that was not
 * stored, and the outbox is empty once all is published. One outbox document
 * stands for a whole group commit. Checked after every step, as a peer that
 * just started would sweep.
 */
const RUNS = Number(process.env.OUTBOX_RUNS ?? 10);

type Op =
  | { kind: 'append'; instance: number; cases: number[] }
  | { kind: 'stale'; instance: number; caseNo: number }
  | { kind: 'publish'; instance: number; count: number }
  | { kind: 'crash'; instance: number }
  | { kind: 'sweep'; instance: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      instance: fc.nat(2),
      cases: fc.uniqueArray(fc.nat(7), { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('stale' as const),
      instance: fc.nat(2),
      caseNo: fc.nat(7),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('publish' as const),
      instance: fc.nat(2),
      count: fc.integer({ min: 1, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), instance: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sweep' as const), instance: fc.nat(2) }) },
);

const keyOf = (c: Pick<Commit, 'caseId' | 'fromVersion' | 'commandId'>) =>
  `${c.caseId}:${c.fromVersion}:${c.commandId}`;

describe('the outbox', () => {
  let client: MongoClient;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri, { maxPoolSize: 10 });
  });
  afterAll(async () => {
    await client.close();
  });

  const open = async (db: Db) => {
    const s = new MongoEventStore(db, { buckets: 4, positionBlock: 8 });
    await s.init();
    return s;
  };

  /** Runs `work` on a database of its own, dropped afterwards. */
  const inFreshDb = async (work: (db: Db) => Promise<void>) => {
    const db = client.db(uniqueName('outbox').replace(/-/g, '_'));
    try {
      await work(db);
    } finally {
      await db.dropDatabase();
    }
  };

  it('gives a sweep every stored commit not yet published, whatever instances published, lost or abandoned', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 3, maxLength: 25 }), (ops) =>
        inFreshDb(async (db) => {
          const instances = [await open(db), await open(db), await open(db)];
          /** What each instance's relay has queued: stored by it, not yet published. */
          const queued: Commit[][] = [[], [], []];
          const at = (i: number) => {
            const s = instances[i];
            const q = queued[i];
            if (!s || !q) throw new Error(`no instance ${i}`);
            return { s, q };
          };
          const stored = new Map<string, Commit>();
          const published = new Set<string>();
          const versions = new Map<string, number>();
          const lastFrom = new Map<string, number>();
          let tag = 0;
          for (const o of ops) {
            if (o.kind === 'append') {
              // Appended in one tick: one group commit.
              const { s, q } = at(o.instance);
              const done = await Promise.all(
                o.cases.map((n, i) => {
                  const caseId = `case-${n}`;
                  const from = (versions.get(caseId) ?? 0) + 1;
                  versions.set(caseId, from + (i % 2));
                  lastFrom.set(caseId, from);
                  return s.append(commitOf(caseId, from, 1 + (i % 2), `t${tag++}`));
                }),
              );
              for (const c of done) stored.set(keyOf(c), c);
              q.push(...done);
            } else if (o.kind === 'stale') {
              const caseId = `case-${o.caseNo}`;
              const last = lastFrom.get(caseId);
              if (last === undefined) continue;
              await expect(
                at(o.instance).s.append(commitOf(caseId, last, 1, `stale${tag++}`)),
              ).rejects.toBeInstanceOf(VersionConflict);
            } else if (o.kind === 'publish') {
              const { s, q } = at(o.instance);
              const sent = q.splice(0, o.count);
              await s.published(sent);
              for (const c of sent) published.add(keyOf(c));
            } else if (o.kind === 'crash') {
              instances[o.instance] = await open(db);
              queued[o.instance] = [];
            } else {
              const { s, q } = at(o.instance);
              const found = await s.pending(0);
              for (const p of found) {
                // Nothing the sweep gives was not stored, and each comes whole.
                expect(p.commit).toEqual(stored.get(keyOf(p.commit)));
                if (!q.some((c) => keyOf(c) === keyOf(p.commit))) q.push(p.commit);
              }
            }
            // After every step, a sweep by a peer that just started would
            // find everything stored and not published.
            const seen = new Set((await (await open(db)).pending(0)).map((p) => keyOf(p.commit)));
            const missing = [...stored.keys()].filter((k) => !published.has(k) && !seen.has(k));
            expect(missing, `after ${JSON.stringify(o)}`).toEqual([]);
          }
          // A fresh instance's sweep finds everything no one published, each
          // once. It may give again a commit published from the same group
          // commit as one that was not (at least once: consumers drop it by
          // version), never one that was not stored.
          const fresh = await open(db);
          const found = await fresh.pending(0);
          const foundKeys = found.map((p) => keyOf(p.commit));
          expect(new Set(foundKeys).size).toBe(foundKeys.length);
          for (const p of found) expect(p.commit).toEqual(stored.get(keyOf(p.commit)));
          const unpublished = [...stored.keys()].filter((k) => !published.has(k));
          expect(unpublished.filter((k) => !foundKeys.includes(k))).toEqual([]);
          // In version order per case.
          for (const caseId of new Set(found.map((p) => p.commit.caseId))) {
            const vs = found
              .filter((p) => p.commit.caseId === caseId)
              .map((p) => p.commit.fromVersion);
            expect(vs).toEqual([...vs].sort((a, b) => a - b));
          }
          await fresh.published(found.map((p) => p.commit));
          expect(await fresh.outbox.countDocuments({})).toBe(0);
          expect(await (await open(db)).pending(0)).toEqual([]);
        }),
      ),
      { numRuns: RUNS },
    );
  });

  it('writes one document for a group commit, and removes it once all of the group is published', () =>
    inFreshDb(async (db) => {
      const store = await open(db);
      const commits = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.append(commitOf(`g-${i}`, 1, 2))),
      );
      expect(await store.outbox.countDocuments({})).toBe(1);
      await store.published(commits.slice(0, 39));
      expect(await store.outbox.countDocuments({})).toBe(1);
      expect((await store.pending(0)).map((p) => p.commit.caseId)).toEqual(['g-39']);
      await store.published(commits.slice(39));
      expect(await store.outbox.countDocuments({})).toBe(0);
    }));

  it('splits a burst into full groups of 500 commits, each one document, every event read back in position order', () =>
    inFreshDb(async (db) => {
      const store = await open(db);
      const burst = 1_001;
      const commits = await Promise.all(
        Array.from({ length: burst }, (_, i) => store.append(commitOf(`full-${i}`, 1, 2))),
      );
      // Queued together, they go 500 at a time.
      const docs = await store.outbox.find({}).toArray();
      expect(docs.map((d) => d.commits?.length ?? 0).sort((a, b) => a - b)).toEqual([1, 500, 500]);
      expect(new Set(docs.flatMap((d) => (d.commits ?? []).map((c) => c.caseId))).size).toBe(burst);
      // Every event, once, in position order, across the groups' many position blocks.
      const read: { caseId: string; version: number; position: number }[] = [];
      for await (const e of store.readAll(0, 100)) read.push(e);
      expect(read).toHaveLength(burst * 2);
      expect(read.map((e) => e.position)).toEqual(
        read.map((e) => e.position).sort((a, b) => a - b),
      );
      expect(new Set(read.map((e) => `${e.caseId}:${e.version}`)).size).toBe(burst * 2);
      // Nothing is settled until its whole group is; then all of it goes.
      await store.published(commits.slice(0, 600));
      expect(await store.outbox.countDocuments({})).toBeGreaterThan(0);
      await store.published(commits.slice(600));
      expect(await store.outbox.countDocuments({})).toBe(0);
      expect(await store.pending(0)).toEqual([]);
    }));

  /** Commits per outbox document, smallest first: one document per group commit. */
  const groupSizes = async (store: MongoEventStore) =>
    (await store.outbox.find({}).toArray())
      .map((d) => d.commits?.length ?? 0)
      .sort((a, b) => a - b);

  it('writes the commits that arrive while a following group gathers in its one write, and the first after a pause at once', () =>
    inFreshDb(async (db) => {
      const steps: { ms: number; go: () => void }[] = [];
      const store = new MongoEventStore(db, {
        buckets: 4,
        positionBlock: 8,
        // Steps as long as the test takes them (it takes far less than a minute).
        gather: {
          step: (ms) => new Promise<void>((go) => steps.push({ ms, go })),
          maxMs: 60_000,
        },
      });
      await store.init();
      const stepTaken = (n: number) =>
        vi.waitFor(() => expect(steps).toHaveLength(n), { timeout: 10_000 });
      // The first commit after a pause is written at once, without a step.
      const a = store.append(commitOf('gather-a', 1, 1));
      // B arrives while A is being written: its group follows A's, and gathers.
      await new Promise((r) => setImmediate(r));
      const b = store.append(commitOf('gather-b', 1, 1));
      await a;
      await stepTaken(1);
      expect(steps[0]?.ms).toBe(GATHER_STEP_MS);
      // C and D arrive during the step: the group looks again.
      const cd = [
        store.append(commitOf('gather-c', 1, 1)),
        store.append(commitOf('gather-d', 1, 1)),
      ];
      steps[0]?.go();
      await stepTaken(2);
      // A step that brings nothing ends the gathering: B, C and D go in one write.
      steps[1]?.go();
      await Promise.all([b, ...cd]);
      expect(steps).toHaveLength(2);
      expect(await groupSizes(store)).toEqual([1, 3]);
    }));

  it('writes a gathering group after GATHER_MAX_MS even while commits keep arriving', () =>
    inFreshDb(async (db) => {
      let arriving = true;
      let n = 0;
      const more: Promise<Commit>[] = [];
      const store = new MongoEventStore(db, {
        buckets: 4,
        positionBlock: 8,
        // Every step brings another commit, for as long as the test lets them come.
        gather: {
          step: async (ms) => {
            await new Promise((r) => setTimeout(r, ms));
            if (arriving) more.push(store.append(commitOf(`endless-${++n}`, 1, 1)));
          },
        },
      });
      await store.init();
      const a = store.append(commitOf('endless-a', 1, 1));
      await new Promise((r) => setImmediate(r));
      const b = store.append(commitOf('endless-b', 1, 1));
      await Promise.all([a, b]);
      arriving = false;
      await Promise.all(more);
      // B's group was written while commits still came: bounded by time
      // (about GATHER_MAX_MS / GATHER_STEP_MS steps, a commit each), where an
      // unbounded gathering would have gone on to APPEND_GROUP's 500. Timers
      // may fire early or late, so the bound allows for steps far shorter.
      const [first, second] = (await store.outbox.find({}).toArray())
        .filter((d) => (d.commits ?? []).some((c) => c.caseId === 'endless-b'))
        .map((d) => d.commits?.length ?? 0);
      expect(second).toBeUndefined();
      expect(first).toBeGreaterThan(1);
      expect(first).toBeLessThan(5 * GATHER_MAX_MS);
    }));

  it('still publishes the one-commit entries an earlier version left', () =>
    inFreshDb(async (db) => {
      const store = await open(db);
      const [a, b] = await Promise.all([
        store.append(commitOf('old-a', 1, 1)),
        store.append(commitOf('old-b', 1, 3)),
      ]);
      if (!a || !b) throw new Error('not stored');
      // As the previous version wrote them: one entry per commit, no group.
      await store.outbox.deleteMany({});
      await store.outbox.insertMany(
        [a, b].map((c) => ({
          _id: `${c.caseId}:${c.fromVersion}:${c.commandId}`,
          commitId: `${c.caseId}:${c.fromVersion}`,
          commandId: c.commandId,
          caseId: c.caseId,
          position: c.events[0]?.position ?? 0,
          createdAt: new Date(0),
        })),
      );
      const restarted = await open(db);
      const found = await restarted.pending(0);
      expect(found.map((p) => p.commit)).toEqual([a, b]);
      await restarted.published(found.map((p) => p.commit));
      expect(await restarted.outbox.countDocuments({})).toBe(0);
    }));

  it('releases a parked case only when every parked commit is where the store says', () =>
    inFreshDb(async (db) => {
      const store = await open(db);
      const [first, second] = [
        await store.append(commitOf('held', 1, 1)),
        await store.append(commitOf('held', 2, 1)),
      ];
      await store.published([first, second]);
      await store.park(first, 'refused');
      await store.park(second, 'an earlier event of the case is parked');
      // Opened with another bucket count, the commits are not found: nothing moves.
      const misread = new MongoEventStore(db, { buckets: 3, positionBlock: 8 });
      await expect(misread.release('held')).rejects.toThrow(/2 of its 2 parked commits/);
      expect(await store.parked.countDocuments({})).toBe(2);
      expect(await store.outbox.countDocuments({})).toBe(0);
      expect(await store.release('held')).toBe(2);
      expect(await store.parked.countDocuments({})).toBe(0);
      const found = await (await open(db)).pending(0);
      expect(found.map((p) => p.commit)).toEqual([first, second]);
    }));
});
