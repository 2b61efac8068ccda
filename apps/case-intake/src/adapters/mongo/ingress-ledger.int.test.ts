import type { Db } from 'mongodb';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { uniqueName } from '@enforcement/testing';
import { encodeHold, type CaseHold } from '../../application/case-holds.js';
import { withMongo } from '../../test-support/harness.js';
import { MongoIngressLedger } from './ingress-ledger.js';

const RUNS = Number(process.env.INGRESS_LEDGER_RUNS ?? 15);

/** A ledger on a database of its own, initialised, and dropped after `fn`. */
async function withLedger(
  fn: (ledger: MongoIngressLedger, db: Db) => Promise<void>,
): Promise<void> {
  await withMongo(async (client) => {
    const db = client.db(uniqueName('ledger').replace(/-/g, '_'));
    try {
      const ledger = new MongoIngressLedger(db, 'group', 'topic');
      await ledger.init();
      await fn(ledger, db);
    } finally {
      await db.dropDatabase();
    }
  });
}

/** Ids as producers send them: dots, dollars, pipes and other scripts included. */
const id = fc.stringMatching(/^[a-z0-9.$|: 执法-]{1,12}$/);

/** A hold's states in the order it goes through them: open, then (perhaps) released. */
interface Lifecycle {
  readonly caseId: string;
  readonly states: readonly CaseHold[];
}

const lifecycles = fc
  .uniqueArray(
    fc.record({
      caseId: id,
      from: fc.integer({ min: 0, max: 100_000 }),
      commandId: id,
      length: fc.integer({ min: 1, max: 40_000 }),
      released: fc.boolean(),
    }),
    { minLength: 1, maxLength: 6, selector: (h) => `${h.caseId}\u0000${h.from}` },
  )
  .map((hs) =>
    hs.map((h): Lifecycle => ({
      caseId: h.caseId,
      states: [
        { commandId: h.commandId, from: h.from },
        ...(h.released ? [{ commandId: h.commandId, from: h.from, until: h.from + h.length }] : []),
      ],
    })),
  );

/** One raise as an instance makes it: an offset, some feeds' times, some holds as it knows them. */
const raises = (holds: readonly Lifecycle[], feeds: readonly string[]) =>
  fc.array(
    fc.record({
      offset: fc.integer({ min: 0, max: 200_000 }),
      // A raise says one time for each feed, and one state of each hold.
      feeds: fc.uniqueArray(
        fc.tuple(fc.constantFrom(...feeds), fc.integer({ min: 0, max: 2 ** 45 })),
        { maxLength: 3, selector: ([f]) => f },
      ),
      holds: fc.uniqueArray(
        fc.tuple(fc.nat(holds.length - 1), fc.nat(1)).map(([h, s]) => {
          const life = holds[h] as Lifecycle;
          return {
            caseId: life.caseId,
            hold: life.states[Math.min(s, life.states.length - 1)] as CaseHold,
          };
        }),
        { maxLength: 4, selector: (x) => `${x.caseId}\u0000${x.hold.from}` },
      ),
      // Raises in one wave run at once: two instances during a rebalance.
      wave: fc.nat(3),
    }),
    { minLength: 1, maxLength: 12 },
  );

/**
 * The raises as instances make them: two that run at once never write the
 * same hold (only the instance reading a partition runs its submissions;
 * one that lost it may still write what it ran before). A later raise of a
 * wave drops the holds an earlier one of the wave writes.
 */
function oneWriterPerHold<R extends { wave: number; holds: { caseId: string; hold: CaseHold }[] }>(
  rs: readonly R[],
): R[] {
  const written = new Map<number, Set<string>>();
  return rs.map((r) => {
    const seen = written.get(r.wave) ?? new Set<string>();
    written.set(r.wave, seen);
    const holds = r.holds.filter(({ caseId, hold }) => !seen.has(`${caseId}\u0000${hold.from}`));
    for (const { caseId, hold } of holds) seen.add(`${caseId}\u0000${hold.from}`);
    return { ...r, holds };
  });
}

const stateIndex = (life: Lifecycle, h: CaseHold) =>
  life.states.findIndex((s) => s.until === h.until);

/**
 * The ledger's record of a partition only ever rises, field by field,
 * whoever writes it and however their writes interleave: an instance whose
 * partition moved may write late, or beside the one that reads it now. So
 * what a partition's next reader loads is, for each field, the furthest any
 * write took it: the offset, each feed's time, and each hold the furthest
 * along its life (a released hold never opens again). Checked on the real
 * server, with writes in waves that run at once. And a hold goes from it
 * only once released before where the group has committed, and left
 * unwritten for the time asked.
 */
describe("the ingress's ledger on the real server", () => {
  it('loads each field as far as any raise took it, whatever the order and overlap of the raises', async () => {
    await withMongo(async (client) => {
      const db = client.db(uniqueName('ledger').replace(/-/g, '_'));
      try {
        let run = 0;
        await fc.assert(
          fc.asyncProperty(
            lifecycles.chain((holds) =>
              fc
                .uniqueArray(id, { minLength: 1, maxLength: 4 })
                .chain((feeds) => raises(holds, feeds).map((rs) => ({ holds, feeds, raises: rs }))),
            ),
            // Where the group has committed the partition when its released holds are forgotten.
            fc.integer({ min: 0, max: 150_000 }),
            async ({ holds, raises: given }, committed) => {
              // Each run its own partition of one group and topic: the same collection throughout.
              const partition = run++;
              const ledger = new MongoIngressLedger(db, 'group', 'topic');
              const rs = oneWriterPerHold(given);
              for (const wave of [0, 1, 2, 3])
                await Promise.all(
                  rs
                    .filter((r) => r.wave === wave)
                    .map((r) => {
                      const byCase = new Map<string, CaseHold[]>();
                      for (const { caseId, hold } of r.holds)
                        byCase.set(caseId, [...(byCase.get(caseId) ?? []), hold]);
                      return ledger.raise(partition, {
                        offset: r.offset,
                        feeds: new Map(r.feeds),
                        holds: byCase,
                      });
                    }),
                );
              const loaded = (await ledger.load([partition])).get(partition);

              // Each hold as far as any raise took it, even beside other raises.
              const furthest = new Map<string, CaseHold>();
              for (const r of rs)
                for (const { caseId, hold } of r.holds) {
                  const life = holds.find(
                    (l) => l.caseId === caseId && l.states[0]?.from === hold.from,
                  ) as Lifecycle;
                  const key = `${caseId}\u0000${hold.from}`;
                  const was = furthest.get(key);
                  if (!was || stateIndex(life, hold) > stateIndex(life, was))
                    furthest.set(key, hold);
                }
              const got = new Map<string, CaseHold>();
              for (const [caseId, hs] of loaded?.holds ?? [])
                for (const h of hs) got.set(`${caseId}\u0000${h.from}`, h);
              expect(got).toEqual(furthest);

              // The offset and each feed's time: a value some raise wrote, at
              // most the highest; the highest when no two raises ran at once.
              const offsets = rs.map((r) => r.offset);
              const times = new Map<string, number[]>();
              for (const r of rs)
                for (const [f, t] of r.feeds) times.set(f, [...(times.get(f) ?? []), t]);
              const alone = [0, 1, 2, 3].every((w) => rs.filter((r) => r.wave === w).length <= 1);
              if (alone) {
                expect(loaded?.offset).toBe(Math.max(...offsets));
                expect(new Map(loaded?.feeds)).toEqual(
                  new Map([...times].map(([f, ts]) => [f, Math.max(...ts)])),
                );
              } else {
                expect(offsets).toContain(loaded?.offset);
                for (const [f, t] of loaded?.feeds ?? []) expect(times.get(f)).toContain(t);
              }

              // Released holds go once the group has committed past their
              // release, and only those nobody wrote since the time given.
              const holdsAfter = async (writtenBefore: number) => {
                const n = await ledger.forget(new Map([[partition, committed]]), writtenBefore);
                const left = new Map<string, CaseHold>();
                for (const [caseId, hs] of (await ledger.load([partition])).get(partition)?.holds ??
                  [])
                  for (const h of hs) left.set(`${caseId}\u0000${h.from}`, h);
                return { n, left };
              };
              expect(await holdsAfter(0)).toEqual({ n: 0, left: furthest });
              const kept = new Map(
                [...furthest].filter(([, h]) => h.until === undefined || h.until >= committed),
              );
              expect(await holdsAfter(Date.now() + 1)).toEqual({
                n: furthest.size - kept.size,
                left: kept,
              });
            },
          ),
          { numRuns: RUNS },
        );
      } finally {
        await db.dropDatabase();
      }
    });
  });

  it('forgets a released hold written before holds said when they were written, once committed past', async () => {
    await withLedger(async (ledger, db) => {
      const indexes = await db.collection('ingress_holds').listIndexes().toArray();
      expect(indexes.map((i) => i.key as unknown)).toContainEqual({ p: 1, state: 1 });
      const p = 'group|topic|0';
      // As written before 2026-12-06's evening: no time.
      await db.collection<{ _id: string } & Record<string, unknown>>('ingress_holds').insertMany([
        {
          _id: `${p}|o5|a`,
          p,
          caseId: 'a',
          from: 5,
          state: encodeHold({ commandId: 'c', from: 5, until: 9 }),
        },
        {
          _id: `${p}|o7|b`,
          p,
          caseId: 'b',
          from: 7,
          state: encodeHold({ commandId: 'd', from: 7 }),
        },
      ]);
      expect(await ledger.forget(new Map([[0, 9]]), 0)).toBe(0);
      expect(await ledger.forget(new Map([[0, 10]]), 0)).toBe(1);
      const left = (await ledger.load([0])).get(0)?.holds;
      expect(left).toEqual(new Map([['b', [{ commandId: 'd', from: 7 }]]]));
    });
  });

  it('keeps each refusal by its partition and offset, recorded again as the same, until committed past', async () => {
    await withLedger(async (ledger) => {
      const refusal = (n: number) => ({ key: `c${n}|cmd${n}`, receipt: `{"sequence":${n}}` });
      await ledger.refused(0, 4, refusal(4));
      await ledger.refused(0, 6, refusal(6));
      // Read again and recorded again (the record of the first reading may have failed).
      await ledger.refused(0, 6, refusal(6));
      await ledger.refused(1, 2, refusal(2));
      const refusals = (partition: number) =>
        ledger.load([0, 1]).then((r) => r.get(partition)?.refusals);
      expect(await refusals(0)).toEqual(
        new Map([
          [4, refusal(4)],
          [6, refusal(6)],
        ]),
      );
      expect(await refusals(1)).toEqual(new Map([[2, refusal(2)]]));
      // Committed past 4 on partition 0: no reading meets it again.
      expect(await ledger.forget(new Map([[0, 5]]), 0)).toBe(1);
      expect(await refusals(0)).toEqual(new Map([[6, refusal(6)]]));
      expect(await refusals(1)).toEqual(new Map([[2, refusal(2)]]));
    });
  });

  // A submission is refused for ids holding a NUL or a lone surrogate; until
  // 2026-12-07 its record took the ids as they came, the store refused the
  // write (PostgreSQL's jsonb takes no NUL), and the ingress consumer
  // crashed on it again at every restart: one message stopped the ingress
  // (`npm run fuzz` found it).
  it('records a refusal whatever its ids hold, and reads back the key it was given', async () => {
    await withLedger(async (ledger, db) => {
      const keys = ['a\u0000b|c', 'nul\u0000|cmd', '\ud800lone|x', 'quote"|\\', '执法|ok'];
      for (const [i, key] of keys.entries()) await ledger.refused(0, i, { key, receipt: '{}' });
      // A record written before the key was kept as JSON.
      await db.collection('ingress_refusals').insertOne({
        _id: 'group|topic|0|o9' as never,
        p: 'group|topic|0',
        offset: 9,
        key: 'old|one',
        receipt: '{}',
      });
      const got = (await ledger.load([0])).get(0)?.refusals;
      expect(got).toEqual(
        new Map([
          ...keys.map((key, i) => [i, { key, receipt: '{}' }] as const),
          [9, { key: 'old|one', receipt: '{}' }],
        ]),
      );
    });
  });
});
