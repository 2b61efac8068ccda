/**
 * Lookups by key that arrive while one is under way are answered together:
 * the next fetch takes every waiting key (up to `max`), so a burst of
 * concurrent lookups costs a few `$in` queries instead of one query each.
 */
export class BatchedLookup<V> {
  private waiting = new Map<
    string,
    { resolve: (v: V | undefined) => void; reject: (e: unknown) => void }[]
  >();
  private fetching = false;

  constructor(
    private readonly fetch: (keys: string[]) => Promise<Map<string, V>>,
    private readonly max = 500,
  ) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.fetching) {
        this.fetching = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.size > 0) {
      const keys = [...this.waiting.keys()].slice(0, this.max);
      const callers = keys.map((k) => [k, this.waiting.get(k) ?? []] as const);
      for (const k of keys) this.waiting.delete(k);
      try {
        const found = await this.fetch(keys);
        for (const [k, list] of callers) for (const c of list) c.resolve(found.get(k));
      } catch (e) {
        for (const [, list] of callers) for (const c of list) c.reject(e);
      }
    }
    this.fetching = false;
  }
}
