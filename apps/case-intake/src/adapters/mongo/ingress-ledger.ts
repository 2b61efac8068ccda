import type { Collection, Db } from 'mongodb';
import { asFieldName, fromFieldName, isDuplicateKey } from '@enforcement/mongo-kit';
import type { IngressLedger, SettledPrefix } from '../../application/ports.js';
import { decodeHold, encodeHold, type CaseHold } from '../../application/case-holds.js';

interface LedgerDoc {
  /** `<consumer group>|<topic>|<partition>`. */
  _id: string;
  offset: number;
  /** Feed (as a field name) → latest time stored (ms). */
  feeds: Record<string, number>;
  /** Case (as a field name) → `o<start>` → that hold (`encodeHold`, which sorts as it is released). */
  holds?: Record<string, Record<string, string>>;
}

/**
 * The ingress's settled prefixes in intake's database, one document per
 * partition of the submissions topic and consumer group. Raised with `$max`,
 * field by field: each field alone is a true statement (what was settled
 * before the offset, the latest time of a feed stored there), so an instance
 * still writing after its partition moved (a rebalance under way) can only
 * leave a value lower than the newest, never a false one. A case's holds
 * are kept the same way, one field for each where it starts: a hold is
 * only ever released.
 */
export class MongoIngressLedger implements IngressLedger {
  private readonly docs: Collection<LedgerDoc>;

  constructor(
    db: Db,
    private readonly group: string,
    private readonly topic: string,
  ) {
    this.docs = db.collection<LedgerDoc>('ingress_settled');
  }

  private idOf(partition: number): string {
    return `${this.group}|${this.topic}|${partition}`;
  }

  async load(partitions: readonly number[]): Promise<Map<number, SettledPrefix>> {
    const ids = new Map(partitions.map((p) => [this.idOf(p), p]));
    const found = await this.docs.find({ _id: { $in: [...ids.keys()] } }).toArray();
    const out = new Map<number, SettledPrefix>();
    for (const d of found) {
      const p = ids.get(d._id);
      if (p === undefined) continue;
      const feeds = new Map(
        Object.entries(d.feeds ?? {}).map(([f, t]) => [fromFieldName(f), Number(t)] as const),
      );
      const holds = new Map<string, CaseHold[]>();
      for (const [c, byStart] of Object.entries(d.holds ?? {}))
        for (const [start, encoded] of Object.entries(byStart ?? {})) {
          const hold = decodeHold(Number(start.slice(1)), String(encoded));
          if (hold) holds.set(fromFieldName(c), [...(holds.get(fromFieldName(c)) ?? []), hold]);
        }
      out.set(p, { offset: Number(d.offset), feeds, holds });
    }
    return out;
  }

  async raise(partition: number, prefix: SettledPrefix): Promise<void> {
    const max: Record<string, number | string> = { offset: prefix.offset };
    for (const [feed, t] of prefix.feeds) max[`feeds.${asFieldName(feed)}`] = t;
    for (const [caseId, hs] of prefix.holds)
      for (const h of hs) max[`holds.${asFieldName(caseId)}.o${h.from}`] = encodeHold(h);
    const raise = () =>
      this.docs.updateOne({ _id: this.idOf(partition) }, { $max: max }, { upsert: true });
    // Two first raises at once: one inserts, the other finds it the second time.
    await raise().catch((e: unknown) => {
      if (!isDuplicateKey(e)) throw e;
      return raise();
    });
  }
}
