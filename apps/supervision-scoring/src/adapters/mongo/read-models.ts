import { Binary, type Collection, type Db } from 'mongodb';
import { bulkFailures, isDuplicateKey, PartitionedCollection } from '@enforcement/mongo-kit';
import type {
  CaseRecord,
  CorrectionRequest,
  RollupPage,
  RollupPageWrite,
} from '../../application/ports.js';
import { partitionPagesOf, type GroupBy } from '../../domain/rollups.js';
import { settled } from '../../application/settled.js';
import type { OrderView } from '../../domain/case-view.js';

/** The projection of one case. */
export type CaseDoc = CaseRecord & { updatedAt: Date };

/**
 * A case record as stored: what writes and the backfill filter on at the top,
 * the rest as one JSON blob. A server that speaks the MongoDB wire protocol
 * converts one large value far faster than a nested document (FerretDB's
 * conversion held a core at 100% with the records nested).
 */
export interface StoredCase {
  _id: string;
  rev: number;
  updatedAt: Date;
  parked: boolean;
  timer?: number | null;
  body: Binary;
}

const blob = (value: unknown) => new Binary(Buffer.from(JSON.stringify(value)));
const unblob = <T>(b: Binary): T => JSON.parse(Buffer.from(b.buffer).toString('utf8')) as T;

function packCase(d: CaseDoc): StoredCase {
  const { _id, rev, updatedAt, parked, timer, ...body } = d;
  return {
    _id,
    rev,
    updatedAt,
    parked,
    ...(timer !== undefined ? { timer } : {}),
    body: blob(body),
  };
}

export function unpackCase(s: StoredCase): CaseDoc {
  const { _id, rev, updatedAt, parked, timer } = s;
  return {
    ...unblob<Omit<CaseDoc, '_id' | 'rev' | 'updatedAt' | 'parked' | 'timer'>>(s.body),
    _id,
    rev,
    updatedAt,
    parked,
    ...(timer !== undefined ? { timer } : {}),
  };
}

/** A rollup page as stored: its rows as one JSON blob, for the same reason. */
export interface StoredPage {
  _id: string;
  listKey: string;
  hw: number;
  rows: Binary;
}

const packPage = (p: RollupPage): StoredPage => ({ ...p, rows: blob(p.rows) });
export const unpackPage = (s: StoredPage): RollupPage => ({ ...s, rows: unblob(s.rows) });

/** Pages written by releases and corrections, whose ids readers cannot enumerate: found by listing. */
interface ExtraPageDoc {
  _id: string;
  listKey: string;
}

export interface OrderDoc extends OrderView {
  _id: string;
  caseId: string;
  agencyId: string;
}

/** The rules' timers: each case with something still to do, under the moment it falls due. */
export interface TimerDoc {
  _id: string;
  agencyId: string;
  nextAt: Date;
  /** The case version the projection computed it on. */
  version?: number;
}

export class CaseConflict extends Error {}

/**
 * The scoring read models on MongoDB / FerretDB. `prefix` names one
 * generation of them: a rebuild fills a new prefix and then becomes active.
 */
export class ReadModels {
  readonly cases: PartitionedCollection<StoredCase>;
  readonly rollups: PartitionedCollection<StoredPage>;
  readonly extraPages: Collection<ExtraPageDoc>;
  readonly orders: Collection<OrderDoc>;
  readonly timers: Collection<TimerDoc>;
  /** Corrections waiting for their case's partition: few, and gone once applied. */
  readonly corrections: Collection<CorrectionRequest>;

  constructor(
    db: Db,
    readonly prefix: string,
    buckets: number,
  ) {
    this.cases = new PartitionedCollection<StoredCase>(db, `${prefix}cases`, buckets);
    this.rollups = new PartitionedCollection<StoredPage>(
      db,
      `${prefix}rollup_pages`,
      Math.max(1, Math.floor(buckets / 2)),
    );
    this.extraPages = db.collection<ExtraPageDoc>(`${prefix}rollup_extra_pages`);
    this.orders = db.collection<OrderDoc>(`${prefix}orders`);
    this.timers = db.collection<TimerDoc>(`${prefix}timers`);
    this.corrections = db.collection<CorrectionRequest>(`${prefix}corrections`);
  }

  async init(): Promise<void> {
    await this.extraPages.createIndex({ listKey: 1 });
    await this.orders.createIndex({ agencyId: 1 });
    await this.timers.createIndex({ nextAt: 1, _id: 1 });
    await this.corrections.createIndex({ partition: 1 });
    for (const c of this.cases.all()) await c.createIndex({ updatedAt: 1 });
  }

  async drop(): Promise<void> {
    await this.cases.drop();
    await this.rollups.drop();
    await this.extraPages.drop().catch(() => undefined);
    await this.orders.drop().catch(() => undefined);
    await this.timers.drop().catch(() => undefined);
    await this.corrections.drop().catch(() => undefined);
  }

  async requestCorrections(requests: readonly CorrectionRequest[]): Promise<void> {
    await this.corrections
      .insertMany(
        requests.map((r) => ({ ...r })),
        { ordered: false },
      )
      .catch((e: unknown) => {
        // Asked before (a replayed batch): the request stands, or was applied already.
        if (!isDuplicateKey(e) && !bulkFailures(e)?.every((f) => f.duplicate)) throw e;
      });
  }

  correctionsFor(partition: number): Promise<CorrectionRequest[]> {
    return this.corrections.find({ partition }).toArray();
  }

  async correctionsDone(reviewIds: readonly string[]): Promise<void> {
    await this.corrections.deleteMany({ _id: { $in: [...reviewIds] } });
  }

  /**
   * Parked cases, oldest first, at most `limit`, and how many in all. It
   * reads every bucket without an index (parking is rare, and an index on
   * it would cost every case write): callers keep the answer a while.
   */
  async parkedCases(limit: number): Promise<{ cases: CaseDoc[]; total: number }> {
    const found = (
      await Promise.all(
        this.cases.all().map((c) => c.find({ parked: true }).sort({ updatedAt: 1 }).toArray()),
      )
    )
      .flat()
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime());
    return { cases: found.slice(0, limit).map(unpackCase), total: found.length };
  }

  async getCase(caseId: string): Promise<CaseDoc | null> {
    const s = await this.cases.for(caseId).findOne({ _id: caseId });
    return s ? unpackCase(s) : null;
  }

  async getCases(caseIds: readonly string[]): Promise<Map<string, CaseDoc>> {
    const found = new Map<string, CaseDoc>();
    await Promise.all(
      [...this.cases.group(caseIds, (id) => id)].map(async ([bucket, ids]) => {
        for (const d of await this.cases
          .at(bucket)
          .find({ _id: { $in: ids } })
          .toArray())
          found.set(d._id, unpackCase(d));
      }),
    );
    return found;
  }

  /** Inserts new cases, one `insertMany` per bucket; CaseConflict when one exists by now. */
  async insertCases(docs: readonly CaseDoc[]): Promise<CaseDoc[]> {
    const now = new Date();
    const next = docs.map((d) => ({ ...d, rev: 1, updatedAt: now }));
    let conflict: string | undefined;
    await Promise.all(
      [...this.cases.group(next, (d) => d._id)].map(async ([bucket, list]) => {
        try {
          await this.cases.at(bucket).insertMany(list.map(packCase), { ordered: false });
        } catch (e) {
          if (!isDuplicateKey(e) && !bulkFailures(e)?.every((f) => f.duplicate)) throw e;
          conflict = list[0]?._id;
        }
      }),
    );
    if (conflict !== undefined) throw new CaseConflict(conflict);
    return next;
  }

  /** Writes the case if nobody else did since `doc.rev` was read; else CaseConflict. */
  async saveCase(doc: CaseDoc): Promise<CaseDoc> {
    const next = { ...doc, rev: doc.rev + 1, updatedAt: new Date() };
    const col = this.cases.for(doc._id);
    if (doc.rev === 0) {
      try {
        await col.insertOne(packCase(next));
      } catch (e) {
        if (isDuplicateKey(e)) throw new CaseConflict(doc._id);
        throw e;
      }
      return next;
    }
    const r = await col.replaceOne({ _id: doc._id, rev: doc.rev }, packCase(next));
    if (r.matchedCount === 0) throw new CaseConflict(doc._id);
    return next;
  }

  async rollupPages(
    ids: readonly { id: string; listKey: string }[],
  ): Promise<Map<string, RollupPage>> {
    const out = new Map<string, RollupPage>();
    await Promise.all(
      [...this.rollups.group(ids, (x) => x.listKey)].map(async ([bucket, list]) => {
        for (const d of await this.rollups
          .at(bucket)
          .find({ _id: { $in: list.map((x) => x.id) } })
          .toArray())
          out.set(d._id, unpackPage(d));
      }),
    );
    return out;
  }

  /**
   * Writes pages whole: new ones together (one insert per bucket), the
   * others each replaced provided it still holds the mark it was read with.
   * A page that moved meanwhile (a writer that lost its partition, or this
   * one's earlier write whose answer was lost) is a CaseConflict: the batch
   * is read again and retried.
   */
  async writeRollupPages(writes: readonly RollupPageWrite[]): Promise<void> {
    const fresh = writes.filter((w) => w.fromMark < 0).map((w) => w.page);
    const extras = fresh.filter((p) => !/\|p\d+\|\d+$/.test(p._id));
    if (extras.length > 0)
      await this.extraPages
        .insertMany(
          extras.map((p) => ({ _id: p._id, listKey: p.listKey })),
          { ordered: false },
        )
        .catch((e: unknown) => {
          if (!bulkFailures(e)?.every((f) => f.duplicate)) throw e;
        });
    let conflict: string | undefined;
    await settled([
      ...[...this.rollups.group(fresh, (p) => p.listKey)].map(async ([bucket, list]) => {
        try {
          await this.rollups.at(bucket).insertMany(list.map(packPage), { ordered: false });
        } catch (e) {
          if (!isDuplicateKey(e) && !bulkFailures(e)?.every((f) => f.duplicate)) throw e;
          conflict = list[0]?._id;
        }
      }),
      ...writes
        .filter((w) => w.fromMark >= 0)
        .map(async ({ page, fromMark }) => {
          const r = await this.rollups
            .for(page.listKey)
            .replaceOne({ _id: page._id, hw: fromMark }, packPage(page));
          if (r.matchedCount === 0) conflict = page._id;
        }),
    ]);
    if (conflict !== undefined) throw new CaseConflict(conflict);
  }

  /**
   * Every page of a listing: each partition's (by `_id`), and the releases'
   * and corrections', looked up at the same time (there are seldom any).
   */
  async listingPages(listKey: string, groupBy: GroupBy, partitions: number): Promise<RollupPage[]> {
    const pages = this.rollups.for(listKey);
    const [extra, found] = await Promise.all([
      this.extraPages.find({ listKey }).toArray(),
      pages.find({ _id: { $in: partitionPagesOf(listKey, groupBy, partitions) } }).toArray(),
    ]);
    const more =
      extra.length === 0
        ? []
        : await pages.find({ _id: { $in: extra.map((x) => x._id) } }).toArray();
    return [...found, ...more].map(unpackPage);
  }

  async upsertOrders(
    caseId: string,
    agencyId: string,
    orders: readonly OrderView[],
  ): Promise<void> {
    for (const o of orders) {
      await this.orders.replaceOne(
        { _id: `${caseId}/${o.orderId}` },
        { ...o, caseId, agencyId },
        { upsert: true },
      );
    }
  }

  /**
   * Moves the timers of a chunk's cases in two calls, whatever their number:
   * the old ones deleted, the new ones inserted (FerretDB updates documents
   * one at a time, and inserts many at once). The case records are written
   * after, so a crash in between replays the chunk and sets them again.
   */
  async setTimers(
    timers: readonly { caseId: string; agencyId: string; at: number | null; version: number }[],
  ): Promise<void> {
    if (timers.length === 0) return;
    await this.timers.deleteMany({ _id: { $in: timers.map((t) => t.caseId) } });
    const set = timers.flatMap((t) =>
      t.at === null
        ? []
        : [{ _id: t.caseId, agencyId: t.agencyId, nextAt: new Date(t.at), version: t.version }],
    );
    if (set.length === 0) return;
    await this.timers.insertMany(set, { ordered: false }).catch((e: unknown) => {
      // Written meanwhile by the one-off backfill of old records: the rules mend it.
      if (!bulkFailures(e)?.every((f) => f.duplicate)) throw e;
    });
  }

  /**
   * Writes the timer of every stored enforcement case: read models projected
   * before timers existed get them once (the runtime records that it ran).
   * Reads the cases a page at a time, so it holds no cursor open for long.
   */
  async backfillTimers(
    next: (rec: CaseDoc) => number | null,
    stopped: () => boolean = () => false,
  ): Promise<number | undefined> {
    let written = 0;
    for (const bucket of this.cases.all()) {
      let after = '';
      for (;;) {
        if (stopped()) return undefined;
        // Records projected since timers exist carry theirs (`timer`), and the
        // projection keeps their timer documents: only older ones need one.
        const page = await bucket
          .find({ _id: { $gt: after }, timer: { $exists: false } })
          .sort({ _id: 1 })
          .limit(500)
          .toArray();
        const last = page[page.length - 1];
        if (!last) break;
        after = last._id;
        const ops = page.flatMap((stored) => {
          const rec = unpackCase(stored);
          const at = rec.view.kind === 'ENFORCEMENT' ? next(rec) : null;
          return at === null
            ? []
            : [
                {
                  replaceOne: {
                    filter: { _id: rec._id },
                    replacement: {
                      agencyId: rec.view.agencyId,
                      nextAt: new Date(at),
                      version: rec.view.version,
                    },
                    upsert: true,
                  },
                },
              ];
        });
        if (ops.length > 0) await this.timers.bulkWrite(ops, { ordered: false });
        written += ops.length;
      }
    }
    return written;
  }

  /**
   * Puts a case's timer where its record says, unless the projection moved it
   * meanwhile (`seen` is the time the caller read): a timer left behind by an
   * interrupted write, or a backfill racing the projection, is mended.
   */
  async mendTimer(caseId: string, seen: Date, at: number | null): Promise<void> {
    if (at === null) await this.timers.deleteOne({ _id: caseId, nextAt: seen });
    else
      await this.timers.updateOne(
        { _id: caseId, nextAt: seen },
        { $set: { nextAt: new Date(at) } },
      );
  }

  /** Timers due by `until`, earliest first, a page at a time after `after`. */
  dueTimers(until: number, limit: number, after?: { at: Date; id: string }): Promise<TimerDoc[]> {
    const due = { nextAt: { $lte: new Date(until) } };
    const filter = after
      ? {
          $and: [
            due,
            { $or: [{ nextAt: { $gt: after.at } }, { nextAt: after.at, _id: { $gt: after.id } }] },
          ],
        }
      : due;
    return this.timers.find(filter).sort({ nextAt: 1, _id: 1 }).limit(limit).toArray();
  }
}
