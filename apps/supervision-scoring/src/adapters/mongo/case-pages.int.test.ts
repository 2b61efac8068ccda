import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import { deflatedJson, inflatedJson } from '@enforcement/mongo-kit';
import { stack, uniqueName } from '@enforcement/testing';
import { emptyView } from '../../domain/case-view.js';
import { CaseConflict, ReadModels, type CaseDoc } from './read-models.js';

/**
 * The packed case store against an oracle (a map of the records last
 * written): whatever a partition's writers wrote, in whatever order, with
 * writes that fail half way and are applied again (as the projector does),
 * restarts that forget what a writer held, and a writer that lost its
 * partition writing on, every case reads back as last written, the rules'
 * due cases are exactly the records' due timers, and pages stay full. New
 * cases' places ride in the partition's summary until there are more than a
 * few (drawn per run, 0 to 4), then go to the index pages.
 */
const RUNS = Number(process.env.CASE_PAGES_RUNS ?? 10);
const PER_PAGE = 3;
const PARTITIONS = 2;
const partitionOf = (caseId: string) => parseInt(caseId.split('-')[1] ?? '', 10) % PARTITIONS;

type Op =
  | { kind: 'write'; partition: number; cases: number[]; timer: number | null; park: boolean }
  | {
      kind: 'fault';
      partition: number;
      cases: number[];
      timer: number | null;
      after: number;
      landed: boolean;
    }
  | { kind: 'restart' }
  | { kind: 'zombie'; partition: number; cases: number[] }
  | { kind: 'older'; partition: number; cases: number[]; rebalanced: boolean };

const cases = fc.uniqueArray(fc.nat(11), { minLength: 1, maxLength: 6 });
const timer = fc.option(fc.integer({ min: 1, max: 100 }), { nil: null });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      partition: fc.nat(PARTITIONS - 1),
      cases,
      timer,
      park: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fault' as const),
      partition: fc.nat(PARTITIONS - 1),
      cases,
      timer,
      after: fc.nat(3),
      landed: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('zombie' as const),
      partition: fc.nat(PARTITIONS - 1),
      cases,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('older' as const),
      partition: fc.nat(PARTITIONS - 1),
      cases,
      rebalanced: fc.boolean(),
    }),
  },
);

/**
 * Ends that case ids may have: a page's body keeps a record per line, keyed
 * by the case id as a JSON string, so ids with quotes, backslashes, line
 * breaks, non-ASCII text and what looks like another record must come back
 * whole.
 */
const AWKWARD = ['', '"', '\\', '\n', '案件', ',\n"c-0":{}', '\\"', ''];

/** Case `n` of a partition: its number makes the partition; some ids end awkwardly. */
const caseIdOf = (partition: number, n: number) =>
  `c-${n * PARTITIONS + partition}${AWKWARD[n % AWKWARD.length] ?? ''}`;

function record(caseId: string, version: number, timer: number | null, parked: boolean): CaseDoc {
  return {
    _id: caseId,
    rev: 0,
    view: { ...emptyView(caseId), version, agencyId: `ag-${caseId}` },
    pending: [],
    parked,
    parkReason: parked ? 'poison' : '',
    held: parked ? ['AAAA'] : [],
    timer,
  };
}

/**
 * Makes the `after`-th page or index write from now on fail, once, as a
 * connection dropped mid-batch would: before the write, or after it landed
 * (its answer lost).
 */
function failWrite(models: ReadModels, after: number, landed: boolean): void {
  let left = after;
  for (const col of [models.casePages, models.caseIndex, models.summaries] as const) {
    const target = col as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
    for (const method of ['insertOne', 'replaceOne']) {
      const original = target[method]?.bind(col);
      if (!original) continue;
      target[method] = (...a: unknown[]) => {
        if (left-- !== 0) return original(...a);
        const lost = () => Promise.reject(new Error('connection closed'));
        return landed ? original(...a).then(lost) : lost();
      };
    }
  }
}

describe('case records packed in pages', () => {
  let client: MongoClient;
  let db: Db;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    db = client.db(uniqueName('pages').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  it('reads back every case as last written, whatever the faults, restarts and stale writers', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { minLength: 4, maxLength: 14 }),
        fc.nat(4),
        async (ops, placed) => {
          const prefix = `r${run++}_`;
          const open = () =>
            new ReadModels(db, prefix, 2, partitionOf, {
              casesPerPage: PER_PAGE,
              placedInSummary: placed,
            });
          let writer = open();
          await writer.init();
          const oracle = new Map<string, CaseDoc>();
          // A reader that stays, as a query instance does: it remembers where cases are.
          const reader = open();
          // And one that starts after all was written, learning where cases are from the store.
          const late = async () => {
            const r = open();
            await r.init();
            await r.learned();
            return r;
          };
          const asWritten = (m: Map<string, CaseDoc>) =>
            new Map([...m].map(([id, r]) => [id, [r.view.version, r.timer, r.parked]]));
          // Partitions where the writer may hold pages an older instance
          // rewrote since: what it holds there is not checked (its next write
          // of such a page is a conflict; the reader's reads show the rest).
          const staleFor = new Set<number>();
          const readsAsWritten = async (w: ReadModels) => {
            const read = await reader.getCases([...oracle.keys(), caseIdOf(0, 99)]);
            expect(asWritten(read)).toEqual(asWritten(oracle));
            // And the writer, which applies the next events to what it reads here.
            for (let p = 0; p < PARTITIONS; p++) {
              if (staleFor.has(p)) continue;
              const own = [...oracle.keys()].filter((id) => partitionOf(id) === p);
              const held = await w.casesForWrite(p, [...own, caseIdOf(p, 99)]);
              expect(asWritten(held)).toEqual(
                asWritten(new Map([...oracle].filter(([id]) => partitionOf(id) === p))),
              );
            }
          };
          let version = 0;
          /** Writes as the projector does: what the writer holds, changed; the whole batch again after a failure. */
          const write = async (
            w: ReadModels,
            partition: number,
            ns: number[],
            t: number | null,
            park: boolean,
          ) => {
            const ids = ns.map((n) => caseIdOf(partition, n));
            version++;
            for (let attempt = 0; ; attempt++) {
              const held = await w.casesForWrite(partition, ids);
              const next = ids.map((id) => ({
                ...(held.get(id) ?? record(id, 0, null, false)),
                view: { ...emptyView(id), version, agencyId: `ag-${id}` },
                timer: t,
                parked: park,
                parkReason: park ? 'poison' : '',
                held: park ? ['AAAA'] : [],
              }));
              try {
                await w.writeCases(partition, next);
                for (const r of next) oracle.set(r._id, r);
                return;
              } catch (e) {
                if (attempt >= 3) throw e;
              }
            }
          };
          for (const o of ops) {
            if (o.kind === 'write') await write(writer, o.partition, o.cases, o.timer, o.park);
            else if (o.kind === 'fault') {
              failWrite(writer, o.after, o.landed);
              await write(writer, o.partition, o.cases, o.timer, false);
              writer = open(); // the faulty connection goes; the batch was applied on retry
              staleFor.clear();
            } else if (o.kind === 'restart') {
              writer = open();
              staleFor.clear();
            } else if (o.kind === 'older') {
              // During a rolling upgrade an instance of the version before
              // (pages on one line) takes the partition for a chunk: it reads
              // each page its cases are on whole, applies the chunk, and
              // writes the page back on one line at the next revision. Then
              // either the partition comes back to the writer here, which
              // forgets what it held (as the consumer does on assignment), or
              // the writer never saw it go: it holds the page as lines at the
              // revision before, and its next write is a conflict that reads
              // the page again.
              const ids = new Set(o.cases.map((n) => caseIdOf(o.partition, n)));
              version++;
              for (const page of await writer.casePages
                .find({ partition: o.partition })
                .toArray()) {
                const whole = JSON.parse(inflatedJson(page.body)) as Record<string, CaseDoc>;
                const mine = Object.keys(whole).filter((id) => ids.has(id));
                if (mine.length === 0) continue;
                for (const id of mine) {
                  const was = oracle.get(id);
                  const stored = whole[id];
                  if (!was || !stored) throw new Error(`case ${id} on a page but never written`);
                  whole[id] = { ...stored, view: { ...stored.view, version } };
                  oracle.set(id, { ...was, view: { ...was.view, version } });
                }
                const landed = await writer.casePages.replaceOne(
                  { _id: page._id, rev: page.rev },
                  { ...page, rev: page.rev + 1, body: deflatedJson(JSON.stringify(whole)) },
                );
                expect(landed.matchedCount).toBe(1);
              }
              if (o.rebalanced) {
                writer.forget();
                staleFor.clear();
              } else staleFor.add(o.partition);
            } else {
              // The old writer read; another took the partition and wrote the same
              // cases; the old one, writing on, is refused.
              const stale = await writer.casesForWrite(
                o.partition,
                o.cases.map((n) => caseIdOf(o.partition, n)),
              );
              const other = open();
              await write(other, o.partition, o.cases, null, false);
              const touched = [...stale.values()];
              if (touched.length > 0) {
                await expect(
                  writer.writeCases(
                    o.partition,
                    touched.map((r) => ({ ...r, timer: 1 })),
                  ),
                ).rejects.toBeInstanceOf(CaseConflict);
              }
              writer = other;
              staleFor.clear();
            }
            await readsAsWritten(writer);
          }

          // A reader started now finds every case where the writers put it.
          const fresh = await late();
          expect(
            new Map(
              [...(await fresh.getCases([...oracle.keys()]))].map(([id, r]) => [
                id,
                r.view.version,
              ]),
            ),
          ).toEqual(new Map([...oracle].map(([id, r]) => [id, r.view.version])));
          // The rules see exactly the due, unparked cases, earliest first:
          // through a reader, and through the writer, from the pages it holds
          // (unless it holds some it does not know were rewritten).
          const dueNow = [...oracle.values()]
            .filter((r) => !r.parked && r.timer !== null && r.timer !== undefined && r.timer <= 50)
            .map((r) => [r._id, r.timer])
            .sort(
              (a, b) => Number(a[1]) - Number(b[1]) || String(a[0]).localeCompare(String(b[0])),
            );
          const due = await reader.dueCases(50);
          expect(due.map((d) => [d.record._id, d.at])).toEqual(dueNow);
          if (staleFor.size === 0)
            expect((await writer.dueCases(50)).map((d) => [d.record._id, d.at])).toEqual(dueNow);
          const parked = await reader.parkedCases(100);
          expect(parked.cases.map((c) => c._id).sort()).toEqual(
            [...oracle.values()]
              .filter((r) => r.parked)
              .map((r) => r._id)
              .sort(),
          );
          // Pages fill before new ones start: at most one page per partition is not full.
          const pages = await reader.casePages.find({}).toArray();
          for (let p = 0; p < PARTITIONS; p++) {
            const own = [...oracle.keys()].filter((id) => partitionOf(id) === p).length;
            expect(pages.filter((d) => d.partition === p).length).toBeLessThanOrEqual(
              Math.ceil(own / PER_PAGE) + ops.filter((o) => o.kind === 'fault').length,
            );
          }
          await reader.drop();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a reader started on a filled store reads any case with one read, and finds cases stored after it started', async () => {
    const counted = await MongoClient.connect(stack().mongoUri, { monitorCommands: true });
    const reads: string[] = [];
    counted.on('commandStarted', (e) => {
      if (e.commandName === 'find') reads.push(String(e.command.find));
    });
    const prefix = 'one_read_';
    try {
      const writer = new ReadModels(db, prefix, 2, partitionOf, { casesPerPage: PER_PAGE });
      await writer.init();
      const ids = Array.from({ length: 40 }, (_, n) => `c-${n}`);
      for (let p = 0; p < PARTITIONS; p++)
        await writer.writeCases(
          p,
          ids.filter((id) => partitionOf(id) === p).map((id, i) => record(id, i + 1, null, false)),
        );
      const reader = new ReadModels(counted.db(db.databaseName), prefix, 2, partitionOf, {
        casesPerPage: PER_PAGE,
      });
      await reader.init();
      await reader.learned();
      for (const id of ids) {
        reads.length = 0;
        expect((await reader.getCase(id))?._id).toBe(id);
        expect(reads, id).toEqual([`${prefix}case_pages`]);
      }
      // A case stored after the reader learned the index: found through its partition's summary.
      await writer.writeCases(0, [record('c-40', 1, null, false)]);
      expect((await reader.getCase('c-40'))?.view.version).toBe(1);
      expect(await reader.getCase('c-41')).toBeNull();
      await writer.drop();
    } finally {
      await counted.close();
    }
  });

  it('names new cases in their partition summary, and in the index pages only once more than a few wait', async () => {
    const counted = await MongoClient.connect(stack().mongoUri, { monitorCommands: true });
    const writes: string[] = [];
    counted.on('commandStarted', (e) => {
      if (e.commandName === 'update' || e.commandName === 'insert')
        writes.push(String(e.command[e.commandName]));
    });
    const prefix = 'placed_';
    const open = (d: Db) =>
      new ReadModels(d, prefix, 2, partitionOf, { casesPerPage: PER_PAGE, placedInSummary: 8 });
    try {
      const writer = open(counted.db(db.databaseName));
      await writer.init();
      const ids = Array.from({ length: 9 }, (_, n) => caseIdOf(0, n));
      // Eight new cases, a chunk each: the summary says where they are, no index page is written.
      for (const id of ids.slice(0, 8)) await writer.writeCases(0, [record(id, 1, null, false)]);
      expect(writes.filter((c) => c === `${prefix}case_index`)).toEqual([]);
      expect(writes.filter((c) => c === `${prefix}case_summaries`)).toHaveLength(8);
      // Readers find them there: one that learned the store, and one asking cold.
      const learned = open(db);
      await learned.init();
      await learned.learned();
      const cold = open(db);
      for (const reader of [learned, cold])
        expect([...(await reader.getCases(ids.slice(0, 8))).keys()].sort()).toEqual(
          ids.slice(0, 8).sort(),
        );
      // The ninth goes past eight: all nine go to the index pages, and the summary lets them go.
      await writer.writeCases(0, [record(ids[8] ?? '', 1, null, false)]);
      expect(writes.filter((c) => c === `${prefix}case_index`).length).toBeGreaterThan(0);
      const summary = await writer.summaries.findOne({ partition: 0 });
      expect(summary?.placed).toBeUndefined();
      const index = await writer.caseIndex.find({}).toArray();
      expect(index.length).toBeGreaterThan(0);
      const after = open(db);
      await after.init();
      await after.learned();
      const read = await after.getCases(ids);
      expect([...read.keys()].sort()).toEqual([...ids].sort());
      // Written again, they stay on their pages, and nothing is named twice.
      await writer.writeCases(
        0,
        [...read.values()].map((r) => ({ ...r, view: { ...r.view, version: 2 } })),
      );
      const again = await open(db).getCases(ids);
      expect(new Map([...again].map(([id, r]) => [id, [r.page, r.view.version]]))).toEqual(
        new Map([...read].map(([id, r]) => [id, [r.page, 2]])),
      );
      expect(await writer.casePages.countDocuments({})).toBe(Math.ceil(ids.length / PER_PAGE));
      await writer.drop();
    } finally {
      await counted.close();
    }
  });
  it('reads and rewrites pages stored whole on one line, and writes pages any JSON reader reads whole', async () => {
    const prefix = 'one_line_';
    const open = () => new ReadModels(db, prefix, 2, partitionOf, { casesPerPage: 4 });
    const first = open();
    await first.init();
    const ids = [0, 1, 2, 3].map((n) => caseIdOf(0, n));
    await first.writeCases(
      0,
      ids.map((id, i) => record(id, i + 1, i === 2 ? 50 : null, i === 3)),
    );
    const [stored] = await first.casePages.find({}).toArray();
    if (!stored) throw new Error('no page written');
    // Written now: one JSON object whatever reads it, a record per line.
    const text = inflatedJson(stored.body);
    const whole = JSON.parse(text) as Record<string, { view: { version: number } }>;
    expect(Object.keys(whole).sort()).toEqual([...ids].sort());
    expect(ids.map((id) => whole[id]?.view.version)).toEqual([1, 2, 3, 4]);
    expect(text.split('\n')).toHaveLength(ids.length + 2);
    // As the versions before stored it: the same object on one line.
    await first.casePages.updateOne(
      { _id: stored._id },
      { $set: { body: deflatedJson(JSON.stringify(whole)) } },
    );
    const reader = open();
    expect(
      [...(await reader.getCases(ids)).values()].map((r) => [r._id, r.view.version, r.timer]),
    ).toEqual(ids.map((id, i) => [id, i + 1, i === 2 ? 50 : null]));
    // A writer that never held it changes one case: the others stay as they were.
    const writer = open();
    await writer.init();
    const [one] = (await writer.casesForWrite(0, [ids[1] ?? ''])).values();
    if (!one) throw new Error('case not found by its writer');
    await writer.writeCases(0, [{ ...one, view: { ...one.view, version: 20 }, timer: 70 }]);
    const after = await open().getCases(ids);
    expect([...after.values()].map((r) => [r._id, r.view.version, r.timer, r.parked])).toEqual(
      ids.map((id, i) => [id, i === 1 ? 20 : i + 1, i === 1 ? 70 : i === 2 ? 50 : null, i === 3]),
    );
    const [rewritten] = await writer.casePages.find({}).toArray();
    expect(inflatedJson(rewritten?.body ?? stored.body).startsWith('{\n')).toBe(true);
    // The page's earliest timer and parked count come from every case on it.
    expect([rewritten?.nextAt?.getTime(), rewritten?.parked]).toEqual([50, 1]);
    expect((await writer.dueCases(60)).map((d) => d.record._id)).toEqual([ids[2]]);
    await writer.drop();
  });
});
