import type { Collection, Db, Filter } from 'mongodb';
import { bulkFailures, isDuplicateKey, PartitionedCollection } from '@enforcement/mongo-kit';
import type { CaseRecord, CorrectionRequest, RollupShareWrite } from '../../application/ports.js';
import { settled } from '../../application/settled.js';
import type { OrderView } from '../../domain/case-view.js';

/** The projection of one case, as stored. */
export type CaseDoc = CaseRecord & { updatedAt: Date };

/**
 * One writer's share of a rollup: `_id` is the rollup id and the partition
 * (or release) that writes it. FerretDB 1.x does not serialize concurrent
 * updates of one document, so no document has two writers: Kafka gives each
 * partition to one consumer, and readers add the shares up.
 */
export interface RollupDoc {
  _id: string;
  rollupId: string;
  listKey: string;
  groupBy: string;
  key: string;
  periodKind: string;
  period: string;
  agencyId: string;
  district: string;
  domain: number;
  scoreSum: number;
  cases: number;
  corrected: number;
  /** Highest message offset this share applied: the exactly-once guard. */
  hw: number;
  [indicator: `ind_${string}`]: number;
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
}

export class CaseConflict extends Error {}

/**
 * The scoring read models on MongoDB / FerretDB. `prefix` names one
 * generation of them: a rebuild fills a new prefix and then becomes active.
 */
export class ReadModels {
  readonly cases: PartitionedCollection<CaseDoc>;
  readonly rollups: PartitionedCollection<RollupDoc>;
  readonly orders: Collection<OrderDoc>;
  readonly timers: Collection<TimerDoc>;
  /** Corrections waiting for their case's partition: few, and gone once applied. */
  readonly corrections: Collection<CorrectionRequest>;

  constructor(
    db: Db,
    readonly prefix: string,
    buckets: number,
  ) {
    this.cases = new PartitionedCollection<CaseDoc>(db, `${prefix}cases`, buckets);
    this.rollups = new PartitionedCollection<RollupDoc>(
      db,
      `${prefix}rollups`,
      Math.max(1, Math.floor(buckets / 2)),
    );
    this.orders = db.collection<OrderDoc>(`${prefix}orders`);
    this.timers = db.collection<TimerDoc>(`${prefix}timers`);
    this.corrections = db.collection<CorrectionRequest>(`${prefix}corrections`);
  }

  async init(): Promise<void> {
    await this.rollups.createIndex({ listKey: 1 });
    await this.orders.createIndex({ agencyId: 1 });
    await this.timers.createIndex({ nextAt: 1, _id: 1 });
    await this.corrections.createIndex({ partition: 1 });
    for (const c of this.cases.all()) await c.createIndex({ updatedAt: 1 });
  }

  async drop(): Promise<void> {
    await this.cases.drop();
    await this.rollups.drop();
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

  getCase(caseId: string): Promise<CaseDoc | null> {
    return this.cases.for(caseId).findOne({ _id: caseId });
  }

  async getCases(caseIds: readonly string[]): Promise<Map<string, CaseDoc>> {
    const found = new Map<string, CaseDoc>();
    await Promise.all(
      [...this.cases.group(caseIds, (id) => id)].map(async ([bucket, ids]) => {
        for (const d of await this.cases
          .at(bucket)
          .find({ _id: { $in: ids } })
          .toArray())
          found.set(d._id, d);
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
          await this.cases.at(bucket).insertMany(list, { ordered: false });
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
        await col.insertOne(next);
      } catch (e) {
        if (isDuplicateKey(e)) throw new CaseConflict(doc._id);
        throw e;
      }
      return next;
    }
    const r = await col.replaceOne({ _id: doc._id, rev: doc.rev }, next);
    if (r.matchedCount === 0) throw new CaseConflict(doc._id);
    return next;
  }

  async rollupShareMarks(
    shares: readonly { id: string; listKey: string }[],
  ): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    await Promise.all(
      [...this.rollups.group(shares, (x) => x.listKey)].map(async ([bucket, list]) => {
        const docs = await this.rollups
          .at(bucket)
          .find({ _id: { $in: list.map((x) => x.id) } }, { projection: { hw: 1 } })
          .toArray();
        for (const d of docs) out.set(d._id, d.hw ?? -1);
      }),
    );
    return out;
  }

  /**
   * Writes each share once per batch: its summed increments and the offset it
   * reached, provided it still holds the offset the batch read (its only
   * writer is this partition's consumer, so that is a safety net, and a
   * replayed batch never counts twice).
   */
  async writeRollupShares(shares: readonly RollupShareWrite[]): Promise<void> {
    // New shares go in together; one that exists by now takes the guarded update below.
    const fresh = shares.filter((x) => x.fromMark < 0);
    const retry: RollupShareWrite[] = shares.filter((x) => x.fromMark >= 0);
    await settled(
      [...this.rollups.group(fresh, (x) => x.delta.listKey)].map(async ([bucket, list]) => {
        const docs = list.map(({ id, delta: d, toSeq }) => ({
          ...d.inc,
          _id: id,
          hw: toSeq,
          rollupId: d.rollupId,
          listKey: d.listKey,
          groupBy: d.groupBy,
          key: d.key,
          periodKind: d.periodKind,
          period: d.period,
          agencyId: d.agencyId,
          district: d.district,
          domain: d.domain,
        }));
        try {
          await this.rollups.at(bucket).insertMany(docs as never[], { ordered: false });
        } catch (e) {
          const failed = bulkFailures(e);
          if (!failed?.every((f) => f.duplicate)) throw e;
          for (const f of failed) {
            const x = list[f.index];
            if (x) retry.push(x);
          }
        }
      }),
    );
    await settled(
      retry.map(async ({ id, delta: d, fromMark, toSeq }) => {
        const filter: Filter<RollupDoc> = {
          _id: id,
          $or: [{ hw: { $exists: false } }, { hw: { $lte: fromMark } }],
        };
        const update = {
          $inc: d.inc,
          $set: {
            hw: toSeq,
            rollupId: d.rollupId,
            listKey: d.listKey,
            groupBy: d.groupBy,
            key: d.key,
            periodKind: d.periodKind,
            period: d.period,
            agencyId: d.agencyId,
            district: d.district,
            domain: d.domain,
          },
        } as never;
        const col = this.rollups.for(d.listKey);
        try {
          await col.updateOne(filter, update, { upsert: true });
        } catch (e) {
          if (!isDuplicateKey(e)) throw e;
          // The upsert's insert collided: the share exists and moved on (then
          // the guarded update matches nothing), or a crashed writer's last
          // request landed a moment ago.
          await col.updateOne(filter, update);
        }
      }),
    );
  }

  listRollups(listKey: string): Promise<RollupDoc[]> {
    return this.rollups.for(listKey).find({ listKey }).toArray();
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

  async setTimer(caseId: string, agencyId: string, at: number | null): Promise<void> {
    if (at === null) await this.timers.deleteOne({ _id: caseId });
    else
      await this.timers.replaceOne(
        { _id: caseId },
        { agencyId, nextAt: new Date(at) },
        { upsert: true },
      );
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
        const ops = page.flatMap((rec) => {
          const at = rec.view.kind === 'ENFORCEMENT' ? next(rec) : null;
          return at === null
            ? []
            : [
                {
                  replaceOne: {
                    filter: { _id: rec._id },
                    replacement: { agencyId: rec.view.agencyId, nextAt: new Date(at) },
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
