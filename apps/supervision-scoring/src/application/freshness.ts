/**
 * The greatest version let through per key, for the `capacity` keys updated
 * last: what keeps a live feed from going back in time. Two instances can
 * publish one case's updates out of order (a partition moving from one to
 * the other, a replay after a restart); an update older than one already let
 * through is stale, and the feed drops it. A key not updated among the last
 * `capacity` is forgotten, so an update of it passes, whatever its version.
 */
export class Freshness {
  /** Key to greatest version, least recently updated first. */
  private readonly latest = new Map<string, number>();

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, not ${capacity}`);
  }

  /**
   * Whether an update of `key` at `version` goes out: not when one of a
   * greater version went before it. An equal version goes (a score taken
   * again under a new model has its case's version). Version 0 is unknown
   * (an older publisher) and always goes.
   */
  admit(key: string, version: number): boolean {
    if (!(version > 0)) return true;
    const last = this.latest.get(key);
    if (last !== undefined && version < last) return false;
    this.latest.delete(key);
    this.latest.set(key, version);
    if (this.latest.size > this.capacity) {
      const oldest = this.latest.keys().next();
      if (!oldest.done) this.latest.delete(oldest.value);
    }
    return true;
  }

  /** Keys remembered now (at most `capacity`). */
  get size(): number {
    return this.latest.size;
  }
}
