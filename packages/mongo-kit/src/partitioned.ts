import { createHash } from 'node:crypto';
import type { Collection, Db, Document, IndexSpecification, CreateIndexesOptions } from 'mongodb';

/**
 * A logical collection stored as `buckets` physical collections, chosen by a
 * stable hash of a key (the case id). FerretDB 1.x answers every filtered
 * query by scanning its table (indexes are enforced, not used for reads; see
 * infra/README.md), so a lookup costs the size of one bucket instead of the
 * whole collection. On MongoDB the buckets are merely harmless. All documents
 * of one key live in one bucket, so per-key unique indexes keep working.
 */
export class PartitionedCollection<T extends Document> {
  readonly name: string;
  readonly buckets: number;
  private readonly physical: Collection<T>[];

  constructor(db: Db, name: string, buckets: number) {
    if (!Number.isInteger(buckets) || buckets < 1 || buckets > 4096)
      throw new Error(`buckets must be an integer in 1..4096, got ${buckets}`);
    this.name = name;
    this.buckets = buckets;
    const width = String(buckets - 1).length;
    this.physical = Array.from({ length: buckets }, (_, i) =>
      db.collection<T>(buckets === 1 ? name : `${name}_${String(i).padStart(width, '0')}`),
    );
  }

  bucketOf(key: string): number {
    return createHash('sha1').update(key).digest().readUInt32BE(0) % this.buckets;
  }

  /** Items grouped by the bucket their key falls in, each group in the items' order. */
  group<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<number, T[]> {
    const out = new Map<number, T[]>();
    for (const item of items) {
      const b = this.bucketOf(keyOf(item));
      const list = out.get(b);
      if (list) list.push(item);
      else out.set(b, [item]);
    }
    return out;
  }

  /** The physical collection that holds `key`'s documents. */
  for(key: string): Collection<T> {
    return this.at(this.bucketOf(key));
  }

  at(bucket: number): Collection<T> {
    const c = this.physical[bucket];
    if (!c) throw new RangeError(`bucket ${bucket} outside 0..${this.buckets - 1}`);
    return c;
  }

  all(): readonly Collection<T>[] {
    return this.physical;
  }

  /** Creates the index on every bucket (idempotent). */
  async createIndex(spec: IndexSpecification, options: CreateIndexesOptions = {}): Promise<void> {
    for (const c of this.physical) await c.createIndex(spec, options);
  }

  async drop(): Promise<void> {
    for (const c of this.physical) await c.drop().catch(() => undefined);
  }
}
