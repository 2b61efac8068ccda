import type { Collection, Db } from 'mongodb';
import { asFieldName, fromFieldName, isDuplicateKey } from '@enforcement/mongo-kit';
import type { IngressLedger, IngressRefusal, SettledPrefix } from '../../application/ports.js';
import {
  decodeHold,
  encodeHold,
  releasedBefore,
  type CaseHold,
} from '../../application/case-holds.js';

interface LedgerDoc {
  /** `<consumer group>|<topic>|<partition>`. */
  _id: string;
  offset: number;
  /** Feed (as a field name) → latest time stored (ms). */
  feeds: Record<string, number>;
  /**
   * Case (as a field name) → `o<start>` → that hold (`encodeHold`), as
   * written before 2026-12-06, when holds moved to their own documents
   * (`HoldDoc`): read still, never written.
   */
  holds?: Record<string, Record<string, string>>;
}

/** One hold of a case in a partition, in `ingress_holds`. */
interface HoldDoc {
  /** `<partition's record id>|o<start>|<case>`. */
  _id: string;
  /** The partition's record id. */
  p: string;
  caseId: string;
  from: number;
  /** `encodeHold`, which sorts as the hold is released. */
  state: string;
  /** When it was last written (ms); absent on holds written before 2026-12-06's evening. */
  at?: number;
}

/** A submission refused, in `ingress_refusals`. */
interface RefusalDoc {
  /** `<partition's record id>|o<offset>`. */
  _id: string;
  /** The partition's record id. */
  p: string;
  offset: number;
  /**
   * `<case id>|<command id>` as JSON: a topic made again under the same name
   * has other submissions at those offsets. JSON, because a refused
   * submission's ids may hold what the store cannot (a NUL, which
   * PostgreSQL's jsonb under FerretDB refuses, or a lone surrogate).
   */
  k?: string;
  /** The key as it was, in records written before 2026-12-07. */
  key?: string;
  /** Its receipt (JSON). */
  receipt: string;
}

/**
 * The ingress's settled prefixes in intake's database, one document per
 * partition of the submissions topic and consumer group. Raised with `$max`,
 * field by field: each field alone is a true statement (what was settled
 * before the offset, the latest time of a feed stored there), so an instance
 * still writing after its partition moved (a rebalance under way) can only
 * leave a value lower than the newest, never a false one.
 *
 * Each hold of a case is its own document (`ingress_holds`), raised the same
 * way: a hold is only ever released. A released hold goes (`forget`) once
 * the partition's committed offset has passed its release and nobody has
 * written it for a while. Not a field of the partition's record:
 * FerretDB does not isolate concurrent updates of one document (each reads
 * the document and writes it whole), so two raises of one record at once
 * could lose one's fields, and a lost hold lets the case's later
 * submissions run (seen in `ingress-ledger.int.test.ts`). A lost feed time
 * or offset is only a lower value, which the record allows.
 */
export class MongoIngressLedger implements IngressLedger {
  private readonly docs: Collection<LedgerDoc>;
  private readonly holdDocs: Collection<HoldDoc>;
  private readonly refusalDocs: Collection<RefusalDoc>;

  constructor(
    db: Db,
    private readonly group: string,
    private readonly topic: string,
    private readonly now: () => number = Date.now,
  ) {
    this.docs = db.collection<LedgerDoc>('ingress_settled');
    this.holdDocs = db.collection<HoldDoc>('ingress_holds');
    this.refusalDocs = db.collection<RefusalDoc>('ingress_refusals');
  }

  /**
   * A join reads a partition's holds, and deletes its released ones, by
   * `p` and `state`: on MongoDB by this index (FerretDB scans the
   * collection whatever it has; the released ones go, so it stays small).
   */
  async init(): Promise<void> {
    await this.holdDocs.createIndex({ p: 1, state: 1 });
    await this.refusalDocs.createIndex({ p: 1, offset: 1 });
  }

  private idOf(partition: number): string {
    return `${this.group}|${this.topic}|${partition}`;
  }

  async load(partitions: readonly number[]): Promise<Map<number, SettledPrefix>> {
    const ids = new Map(partitions.map((p) => [this.idOf(p), p]));
    const [found, holdDocs, refusalDocs] = await Promise.all([
      this.docs.find({ _id: { $in: [...ids.keys()] } }).toArray(),
      this.holdDocs.find({ p: { $in: [...ids.keys()] } }).toArray(),
      this.refusalDocs.find({ p: { $in: [...ids.keys()] } }).toArray(),
    ]);
    /** Partition → case → start → the furthest state written. */
    const states = new Map<number, Map<string, Map<number, string>>>();
    const note = (p: number, caseId: string, from: number, state: string) => {
      const cases = states.get(p) ?? new Map<string, Map<number, string>>();
      states.set(p, cases);
      const starts = cases.get(caseId) ?? new Map<number, string>();
      cases.set(caseId, starts);
      if (state > (starts.get(from) ?? '')) starts.set(from, state);
    };
    const out = new Map<number, SettledPrefix>();
    for (const d of found) {
      const p = ids.get(d._id);
      if (p === undefined) continue;
      // Two fields may name one feed (one written before white space at its
      // ends was escaped, on a server that took it): the higher counts.
      const feeds = new Map<string, number>();
      for (const [f, t] of Object.entries(d.feeds ?? {}))
        feeds.set(fromFieldName(f), Math.max(Number(t), feeds.get(fromFieldName(f)) ?? -Infinity));
      for (const [c, byStart] of Object.entries(d.holds ?? {}))
        for (const [start, state] of Object.entries(byStart ?? {}))
          note(p, fromFieldName(c), Number(start.slice(1)), String(state));
      out.set(p, { offset: Number(d.offset), feeds, holds: new Map() });
    }
    for (const h of holdDocs) {
      const p = ids.get(h.p);
      if (p !== undefined) note(p, h.caseId, Number(h.from), String(h.state));
    }
    for (const [p, cases] of states) {
      const holds = new Map<string, CaseHold[]>();
      for (const [caseId, starts] of cases) {
        const hs = [...starts].flatMap(([from, state]) => decodeHold(from, state) ?? []);
        if (hs.length > 0) holds.set(caseId, hs);
      }
      const prefix = out.get(p) ?? { offset: -1, feeds: new Map<string, number>() };
      out.set(p, { ...prefix, holds });
    }
    const refusals = new Map<number, Map<number, IngressRefusal>>();
    for (const r of refusalDocs) {
      const p = ids.get(r.p);
      if (p === undefined) continue;
      const byOffset = refusals.get(p) ?? new Map<number, IngressRefusal>();
      const key = r.k !== undefined ? (JSON.parse(r.k) as string) : String(r.key);
      const refusal = { key, receipt: String(r.receipt) };
      refusals.set(p, byOffset.set(Number(r.offset), refusal));
    }
    for (const [p, byOffset] of refusals) {
      const prefix = out.get(p) ?? {
        offset: -1,
        feeds: new Map<string, number>(),
        holds: new Map(),
      };
      out.set(p, { ...prefix, refusals: byOffset });
    }
    return out;
  }

  async raise(partition: number, prefix: SettledPrefix): Promise<void> {
    const id = this.idOf(partition);
    const max: Record<string, number | string> = { offset: prefix.offset };
    for (const [feed, t] of prefix.feeds) max[`feeds.${asFieldName(feed)}`] = t;
    await Promise.all([
      // The holds and the record at once: the raise is done when every write is.
      ...[...prefix.holds].flatMap(([caseId, hs]) =>
        hs.map((h) =>
          upsertMax(
            this.holdDocs as unknown as Collection<Raised>,
            `${id}|o${h.from}|${caseId}`,
            { state: encodeHold(h), at: this.now() },
            { p: id, caseId, from: h.from },
          ),
        ),
      ),
      upsertMax(this.docs as unknown as Collection<Raised>, id, max),
    ]);
  }

  async refused(partition: number, offset: number, refusal: IngressRefusal): Promise<void> {
    const p = this.idOf(partition);
    await this.refusalDocs.replaceOne(
      { _id: `${p}|o${offset}` },
      { p, offset, k: JSON.stringify(refusal.key), receipt: refusal.receipt },
      { upsert: true },
    );
  }

  async forget(committed: ReadonlyMap<number, number>, writtenBefore: number): Promise<number> {
    let deleted = 0;
    for (const [partition, offset] of committed) {
      const gone = await this.refusalDocs.deleteMany({
        p: this.idOf(partition),
        offset: { $lt: offset },
      });
      deleted += gone.deletedCount;
      const { lowest, below } = releasedBefore(offset);
      const r = await this.holdDocs.deleteMany({
        p: this.idOf(partition),
        state: { $gte: lowest, $lt: below },
        $or: [{ at: { $lt: writtenBefore } }, { at: { $exists: false } }],
      });
      deleted += r.deletedCount;
    }
    return deleted;
  }
}

/** A document as `upsertMax` sees it: an id, and fields to raise. */
type Raised = { _id: string } & Record<string, unknown>;

/** `$max` of `max` on document `_id`, made with `fixed` if new. */
async function upsertMax(
  docs: Collection<Raised>,
  _id: string,
  max: Record<string, number | string>,
  fixed: Record<string, number | string> = {},
): Promise<void> {
  const raise = () =>
    docs.updateOne(
      { _id },
      Object.keys(fixed).length > 0 ? { $max: max, $setOnInsert: fixed } : { $max: max },
      { upsert: true },
    );
  // Two first raises at once: one inserts, the other finds it the second time.
  await raise().catch((e: unknown) => {
    if (!isDuplicateKey(e)) throw e;
    return raise();
  });
}
