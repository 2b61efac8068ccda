import { isDuplicateKey } from '@enforcement/mongo-kit';
import type { Collection } from 'mongodb';

interface BlockDoc {
  _id: number;
  claimedAt: Date;
}

/**
 * Global positions, handed out in blocks so that most appends need no round
 * trip. A block is claimed by inserting its number: the unique `_id` makes
 * the claim atomic on MongoDB and on FerretDB alike (FerretDB 1.x does not
 * isolate concurrent updates of one document, so a shared counter would hand
 * the same block to two instances). Positions increase within an instance,
 * are unique across instances, and may have gaps.
 */
export class PositionAllocator {
  private next = 0;
  private end = 0;
  private lastBlock = -1;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly blocks: Collection<BlockDoc>,
    private readonly size: number,
  ) {}

  async take(n: number): Promise<number> {
    if (n > this.size)
      throw new Error(`a commit of ${n} events exceeds the position block of ${this.size}`);
    while (this.end - this.next < n) {
      this.pending ??= this.claim().finally(() => {
        this.pending = undefined;
      });
      await this.pending;
    }
    const first = this.next;
    this.next += n;
    return first;
  }

  /** The highest position handed out by any instance (0 before the first): read fresh. */
  async head(): Promise<number> {
    const top = await this.blocks.find({}, { projection: { _id: 1 } }).toArray();
    const block = top.reduce((m, b) => Math.max(m, b._id), -1);
    return (block + 1) * this.size;
  }

  private async claim(): Promise<void> {
    if (this.lastBlock < 0) {
      const top = await this.blocks.find({}).sort({ _id: -1 }).limit(1).toArray();
      this.lastBlock = top[0]?._id ?? -1;
    }
    for (let block = this.lastBlock + 1; ; block++) {
      try {
        await this.blocks.insertOne({ _id: block, claimedAt: new Date() });
      } catch (e) {
        if (isDuplicateKey(e)) continue;
        throw e;
      }
      this.lastBlock = block;
      // Positions start at 1; 0 means "before everything" in ReadAll.
      this.next = block * this.size + 1;
      this.end = (block + 1) * this.size + 1;
      return;
    }
  }
}
