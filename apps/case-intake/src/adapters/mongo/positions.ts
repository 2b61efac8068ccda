import type { Collection } from 'mongodb';

interface CounterDoc {
  _id: string;
  next: number;
}

/**
 * Global positions, handed out in blocks so that most appends need no
 * round trip. Every instance takes its own blocks: positions increase within
 * an instance and are unique across instances; gaps are allowed.
 */
export class PositionAllocator {
  private next = 0;
  private end = 0;
  private pending: Promise<void> | undefined;

  constructor(
    private readonly counters: Collection<CounterDoc>,
    private readonly block: number,
  ) {}

  async take(n: number): Promise<number> {
    while (this.end - this.next < n) {
      this.pending ??= this.reserve(Math.max(this.block, n)).finally(() => {
        this.pending = undefined;
      });
      await this.pending;
    }
    const first = this.next;
    this.next += n;
    return first;
  }

  private async reserve(size: number): Promise<void> {
    const doc = await this.counters.findOneAndUpdate(
      { _id: 'position' },
      { $inc: { next: size } },
      { upsert: true, returnDocument: 'after' },
    );
    const top = doc?.next ?? size;
    // Positions start at 1; 0 means "before everything" in ReadAll.
    this.next = top - size + 1;
    this.end = top + 1;
  }
}
