import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient, type Db } from 'mongodb';
import { stack, uniqueName } from '@enforcement/testing';
import type { RollupPage, RollupPageRow } from '../../application/ports.js';
import { listKeyOf, pageKeyOf, pagesOfPartition, partitionPagesOf } from '../../domain/rollups.js';
import { CaseConflict, ReadModels } from './read-models.js';

/**
 * A listing read through a reader that keeps the pages it parsed: every
 * rewrite of a page shows in the next listing, rows of the other listings
 * sharing the page stay out, and a page that did not move is not read again.
 */
describe('rollup pages read by a listing', () => {
  let client: MongoClient;
  let counted: MongoClient;
  let db: Db;
  const reads: { collection: string; projected: boolean }[] = [];
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    counted = await MongoClient.connect(stack().mongoUri, { monitorCommands: true });
    counted.on('commandStarted', (e) => {
      if (e.commandName === 'find')
        reads.push({
          collection: String(e.command.find),
          projected: e.command.projection !== undefined,
        });
    });
    db = client.db(uniqueName('listing').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await counted?.close();
    await client?.close();
  });

  const agencies = listKeyOf('AGENCY', 'YEAR', '2021');
  const units = listKeyOf('UNIT', 'YEAR', '2021');
  const row = (listKey: string, key: string, cases: number): RollupPageRow => ({
    id: `${listKey}|${key}`,
    key,
    agencyId: key,
    district: '',
    domain: 0,
    values: { cases, scoreSum: 90 * cases },
  });
  const casesOf = (pages: RollupPage[]) =>
    Object.fromEntries(pages.flatMap((p) => p.rows.map((r) => [r.id, r.values.cases])));
  /** Two pages of the agencies' listing: partition 0's, and partition 0's correction page. */
  const [p0 = '', p1 = ''] = partitionPagesOf(agencies, 2);
  /** The agencies' listing as this reader lists it now, read as the partitions `owned` are its own. */
  const agenciesBy = async (reader: ReadModels, owned: number[] = []) =>
    casesOf(await reader.listingPages(agencies, 2, owned));
  const page = (_id: string, hw: number, rows: RollupPageRow[]): RollupPage => ({
    _id,
    listKey: pageKeyOf(agencies),
    hw,
    rows,
  });

  it('shows every rewrite, keeps other listings out, and reads an unmoved page once', async () => {
    const partitionOf = () => 0;
    const writer = new ReadModels(db, 'w_', 4, partitionOf);
    const reader = new ReadModels(counted.db(db.databaseName), 'w_', 4, partitionOf);
    await writer.writeRollupPages([
      { page: page(p0, 5, [row(agencies, 'ag1', 1), row(units, 'u1', 7)]), fromMark: -1 },
      { page: page(p1, 3, [row(agencies, 'ag2', 2)]), fromMark: -1 },
    ]);
    expect(casesOf(await reader.listingPages(agencies, 2))).toEqual({
      [`${agencies}|ag1`]: 1,
      [`${agencies}|ag2`]: 2,
    });

    // Nothing moved: only the marks are read.
    reads.length = 0;
    expect(casesOf(await reader.listingPages(agencies, 2))).toEqual({
      [`${agencies}|ag1`]: 1,
      [`${agencies}|ag2`]: 2,
    });
    const pageReads = reads.filter((r) => r.collection.includes('rollup_pages'));
    expect(pageReads.length).toBeGreaterThan(0);
    expect(pageReads.every((r) => r.projected)).toBe(true);

    // One page rewritten: the next listing has it.
    await writer.writeRollupPages([
      { page: page(p0, 9, [row(agencies, 'ag1', 4), row(units, 'u1', 8)]), fromMark: 5 },
    ]);
    expect(casesOf(await reader.listingPages(agencies, 2))).toEqual({
      [`${agencies}|ag1`]: 4,
      [`${agencies}|ag2`]: 2,
    });
    expect(casesOf(await reader.listingPages(units, 2))).toEqual({
      [`${units}|u1`]: 8,
    });
  });

  it("goes by the partitions' rolled marks: reads only the summaries while none moves, then only the moved partition's pages", async () => {
    const partitionOf = () => 0;
    const writer = new ReadModels(db, 'r_', 4, partitionOf);
    const reader = new ReadModels(counted.db(db.databaseName), 'r_', 4, partitionOf);
    // Partition 0's and partition 1's pages of the agencies' listing.
    const [a0 = ''] = pagesOfPartition(pageKeyOf(agencies), 0);
    const ofP1 = new Set(pagesOfPartition(pageKeyOf(agencies), 1));
    const [a1 = ''] = ofP1;
    const rolled = (partition: number) => writer.writeCases(partition, [], [pageKeyOf(agencies)]);
    await writer.writeRollupPages([
      { page: page(a0, 5, [row(agencies, 'ag1', 1)]), fromMark: -1 },
      { page: page(a1, 3, [row(agencies, 'ag2', 2)]), fromMark: -1 },
    ]);
    await rolled(0);
    await rolled(1);
    expect(await agenciesBy(reader)).toEqual({
      [`${agencies}|ag1`]: 1,
      [`${agencies}|ag2`]: 2,
    });

    // Nothing moved: the summaries are read, and no page, not even its mark.
    reads.length = 0;
    expect(await agenciesBy(reader)).toEqual({
      [`${agencies}|ag1`]: 1,
      [`${agencies}|ag2`]: 2,
    });
    expect(reads.filter((r) => r.collection.includes('rollup_pages'))).toEqual([]);
    expect(reads.filter((r) => r.collection.includes('case_summaries'))).toHaveLength(1);

    // Partition 1's page rewritten and its mark moved: only its pages are read.
    await writer.writeRollupPages([{ page: page(a1, 8, [row(agencies, 'ag2', 6)]), fromMark: 3 }]);
    await rolled(1);
    reads.length = 0;
    const asked: string[][] = [];
    const listen = (e: { commandName: string; command: Record<string, unknown> }) => {
      const filter = e.command.filter as { _id?: { $in?: string[] } } | undefined;
      if (e.commandName === 'find' && String(e.command.find).includes('rollup_pages'))
        asked.push(filter?._id?.$in ?? []);
    };
    counted.on('commandStarted', listen);
    try {
      expect(await agenciesBy(reader)).toEqual({
        [`${agencies}|ag1`]: 1,
        [`${agencies}|ag2`]: 6,
      });
    } finally {
      counted.off('commandStarted', listen);
    }
    expect(asked.flat().length).toBeGreaterThan(0);
    expect(asked.flat().every((id) => ofP1.has(id))).toBe(true);

    // A page edited by hand, its partition's mark left: a reader holding the page goes on
    // showing what it read, until the mark moves.
    await writer.writeRollupPages([{ page: page(a0, 9, [row(agencies, 'ag1', 4)]), fromMark: 5 }]);
    expect((await agenciesBy(reader))[`${agencies}|ag1`]).toBe(1);
    await rolled(0);
    expect((await agenciesBy(reader))[`${agencies}|ag1`]).toBe(4);

    // A page key a partition has no mark of has no pages there, even if a page was put there by hand.
    const other = listKeyOf('AGENCY', 'YEAR', '2022');
    const [q0 = ''] = pagesOfPartition(pageKeyOf(other), 0);
    await writer.writeRollupPages([
      { page: { ...page(q0, 1, [row(other, 'ag1', 1)]), listKey: pageKeyOf(other) }, fromMark: -1 },
    ]);
    expect(await reader.listingPages(other, 2)).toEqual([]);
    await writer.writeCases(0, [], [pageKeyOf(other)]);
    expect(casesOf(await reader.listingPages(other, 2))).toEqual({ [`${other}|ag1`]: 1 });
  });

  it("takes the marks of the partitions it applies from what its writer holds, and reads only the others' summaries", async () => {
    const partitionOf = () => 0;
    // This process applies partition 0 and writes through `mine`; another applies partition 1.
    const mine = new ReadModels(counted.db(db.databaseName), 'o_', 4, partitionOf);
    const theirs = new ReadModels(db, 'o_', 4, partitionOf);
    const [a0 = ''] = pagesOfPartition(pageKeyOf(agencies), 0);
    const [a1 = ''] = pagesOfPartition(pageKeyOf(agencies), 1);
    const key = [pageKeyOf(agencies)];
    const list = () => agenciesBy(mine, [0]);
    await theirs.writeRollupPages([{ page: page(a0, 1, [row(agencies, 'ag1', 1)]), fromMark: -1 }]);
    await theirs.writeCases(0, [], key);
    await theirs.writeRollupPages([{ page: page(a1, 1, [row(agencies, 'ag2', 2)]), fromMark: -1 }]);
    await theirs.writeCases(1, [], key);
    // Partition 0 came to this process (its summary is read once, whole, as its writer reads it).
    expect(await list()).toEqual({ [`${agencies}|ag1`]: 1, [`${agencies}|ag2`]: 2 });

    // Nothing moved: only partition 1's summary is read, and no page.
    /** The documents asked for by `_id` since the last call, as `<collection>:<id>`. */
    const seen: string[] = [];
    const asked = () => seen.splice(0);
    const listen = (e: { commandName: string; command: Record<string, unknown> }) => {
      if (e.commandName !== 'find') return;
      const filter = e.command.filter as { _id?: { $in?: string[] } } | undefined;
      seen.push(...(filter?._id?.$in ?? ['(scan)']).map((id) => `${String(e.command.find)}:${id}`));
    };
    counted.on('commandStarted', listen);
    try {
      expect(await list()).toEqual({ [`${agencies}|ag1`]: 1, [`${agencies}|ag2`]: 2 });
      expect(asked()).toEqual(['o_case_summaries:s0001']);

      // This process writes partition 0: its next listing has it, from what its writer holds.
      await mine.writeRollupPages([{ page: page(a0, 4, [row(agencies, 'ag1', 5)]), fromMark: 1 }]);
      await mine.writeCases(0, [], key);
      asked();
      expect(await list()).toEqual({ [`${agencies}|ag1`]: 5, [`${agencies}|ag2`]: 2 });
      expect(asked().filter((id) => id.includes('case_summaries'))).toEqual([
        'o_case_summaries:s0001',
      ]);

      // The other process writes partition 1: read from its summary.
      await theirs.writeRollupPages([
        { page: page(a1, 3, [row(agencies, 'ag2', 7)]), fromMark: 1 },
      ]);
      await theirs.writeCases(1, [], key);
      expect(await list()).toEqual({ [`${agencies}|ag1`]: 5, [`${agencies}|ag2`]: 7 });

      // The partitions moved (the group joined again): what the writer held is read again.
      mine.forget();
      asked();
      expect(await list()).toEqual({ [`${agencies}|ag1`]: 5, [`${agencies}|ag2`]: 7 });
      expect(
        asked()
          .filter((id) => id.includes('case_summaries'))
          .sort(),
      ).toEqual(['o_case_summaries:s0000', 'o_case_summaries:s0001']);
    } finally {
      counted.off('commandStarted', listen);
    }
  });

  it('folds a listing again only when one of its pages moved', async () => {
    const partitionOf = () => 0;
    const writer = new ReadModels(db, 'f_', 4, partitionOf);
    const reader = new ReadModels(db, 'f_', 4, partitionOf);
    let folds = 0;
    const fold = (pages: RollupPage[]) => {
      folds++;
      return Object.entries(casesOf(pages)).sort(([a], [b]) => a.localeCompare(b));
    };
    const listing = (listKey: string) => reader.listing(listKey, 2, fold);
    await writer.writeRollupPages([
      { page: page(p0, 1, [row(agencies, 'ag1', 1), row(units, 'u1', 7)]), fromMark: -1 },
      { page: page(p1, 1, [row(agencies, 'ag2', 2)]), fromMark: -1 },
    ]);
    const first = await listing(agencies);
    expect(first).toEqual([
      [`${agencies}|ag1`, 1],
      [`${agencies}|ag2`, 2],
    ]);
    // Nothing moved: the same rows, not folded again.
    expect(await listing(agencies)).toBe(first);
    expect(folds).toBe(1);
    // Another listing on the same pages is its own.
    expect(await listing(units)).toEqual([[`${units}|u1`, 7]]);
    expect(folds).toBe(2);

    // Either page rewritten, by another writer: the next listing has it.
    await writer.writeRollupPages([{ page: page(p1, 2, [row(agencies, 'ag2', 5)]), fromMark: 1 }]);
    expect(await listing(agencies)).toEqual([
      [`${agencies}|ag1`, 1],
      [`${agencies}|ag2`, 5],
    ]);
    await writer.writeRollupPages([
      { page: page(p0, 2, [row(agencies, 'ag1', 3), row(units, 'u1', 7)]), fromMark: 1 },
    ]);
    expect(await listing(agencies)).toEqual([
      [`${agencies}|ag1`, 3],
      [`${agencies}|ag2`, 5],
    ]);
    expect(folds).toBe(4);

    // A reader with no room for the listing folds it on every call, and answers the same.
    const cramped = new ReadModels(db, 'f_', 4, partitionOf, { listingsBytes: 10 });
    const before = folds;
    for (let i = 0; i < 3; i++)
      expect(await cramped.listing(agencies, 2, fold)).toEqual([
        [`${agencies}|ag1`, 3],
        [`${agencies}|ag2`, 5],
      ]);
    expect(folds - before).toBe(3);
  });

  it("keeps every page of a listing when reading one of them pushes another out of the reader's cache", async () => {
    const partitionOf = () => 0;
    const small = [row(agencies, 'ag1', 1)];
    const grown = Array.from({ length: 20 }, (_, i) => row(agencies, `big${i}`, 1));
    const bytes = (rows: RollupPageRow[]) => JSON.stringify(rows).length;
    // Room for both pages as first read, not for the first beside the second once it grew.
    const room = bytes(small) + bytes(grown) - 1;
    const writer = new ReadModels(db, 'e_', 4, partitionOf);
    const reader = new ReadModels(db, 'e_', 4, partitionOf, { readPagesBytes: room });
    await writer.writeRollupPages([
      { page: page(p0, 1, small), fromMark: -1 },
      { page: page(p1, 1, [row(agencies, 'ag2', 2)]), fromMark: -1 },
    ]);
    expect(Object.keys(casesOf(await reader.listingPages(agencies, 2)))).toHaveLength(2);
    await writer.writeRollupPages([{ page: page(p1, 2, grown), fromMark: 1 }]);
    // The first page did not move; reading the second pushes it out of the cache, not out of the listing.
    const listed = casesOf(await reader.listingPages(agencies, 2));
    expect(Object.keys(listed)).toHaveLength(21);
    expect(listed[`${agencies}|ag1`]).toBe(1);
  });

  it("keeps each corrected case's part of a partition's correction page at the case's latest version, and lists it beside the rollups", async () => {
    const partitionOf = () => 0;
    const writer = new ReadModels(db, 'x_', 4, partitionOf);
    const stale = new ReadModels(db, 'x_', 4, partitionOf);
    const reader = new ReadModels(db, 'x_', 4, partitionOf);
    const part = (caseId: string, version: number, scoreSum: number) =>
      new Map([
        [
          pageKeyOf(agencies),
          [
            {
              caseId,
              version,
              rows: [{ ...row(agencies, 'ag1', 0), values: { scoreSum, corrected: 1 } }],
            },
          ],
        ],
      ]);
    const fixed = async () => {
      const rows = (await reader.listingPages(agencies, 2)).flatMap((p) =>
        p._id.endsWith('|fix') ? p.rows : [],
      );
      return rows.map((r) => r.values);
    };
    await writer.writeRollupPages([{ page: page(p0, 4, [row(agencies, 'ag1', 1)]), fromMark: -1 }]);
    await writer.writeCorrections(0, part('case-t', 7, -20));
    await writer.writeCorrections(0, part('case-u', 3, -20));
    // Two cases' parts on partition 0's page, added up for readers, beside the partition's rollups.
    expect(await fixed()).toEqual([{ scoreSum: -40, corrected: 2 }]);
    expect((await reader.listingPages(agencies, 2)).find((p) => p._id === p0)?.rows).toEqual([
      row(agencies, 'ag1', 1),
    ]);

    // A later version of a case replaces its part; an earlier one, or the same again, leaves it.
    await writer.writeCorrections(0, part('case-t', 9, -12));
    await stale.writeCorrections(0, part('case-t', 8, -20));
    await stale.writeCorrections(0, part('case-t', 9, -3));
    expect(await fixed()).toEqual([{ scoreSum: -32, corrected: 2 }]);

    // Two writers at once: one may be refused as a conflict (its batch is retried); retried, the later version stands.
    const both = await Promise.allSettled([
      stale.writeCorrections(0, part('case-t', 10, -5)),
      writer.writeCorrections(0, part('case-t', 11, -6)),
    ]);
    for (const r of both)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(CaseConflict);
    await writer.writeCorrections(0, part('case-t', 11, -6));
    await stale.writeCorrections(0, part('case-t', 10, -5));
    expect(await fixed()).toEqual([{ scoreSum: -26, corrected: 2 }]);
  });
});
