/**
 * The bytes of requests a server holds at once, decoded and not yet
 * answered. grpc-js decodes every request it receives and hands it on, so
 * without a bound a client that sends many large requests at once (200
 * registrations of 3.9 MB each) fills the heap and the process dies with
 * every other caller's calls. A request taken is held until its call is
 * answered (a streamed item, until the service says it is done with it);
 * one that would pass the bound is not decoded at all and is answered
 * UNAVAILABLE: the same request again later is safe.
 */
export class RequestBudget {
  private held = 0;
  /** Each decoded request's bytes, and whether they are held now. */
  private readonly sizes = new WeakMap<object, { readonly bytes: number; held: boolean }>();
  private waiting: (() => void)[] = [];

  constructor(readonly maxBytes: number) {}

  /**
   * Takes `bytes` for a request about to be decoded, or refuses when they
   * would pass the bound. A request larger than the bound alone is taken
   * while nothing else is held, so no request a server accepts is refused
   * for good.
   */
  take(bytes: number): boolean {
    if (this.held > 0 && this.held + bytes > this.maxBytes) return false;
    this.held += bytes;
    return true;
  }

  /** Bytes taken for a request that was not decoded after all. */
  giveBack(bytes: number): void {
    this.held -= bytes;
  }

  /** The decoded request the bytes were taken for: released with it. */
  hold(request: unknown, bytes: number): void {
    if (typeof request === 'object' && request !== null)
      this.sizes.set(request, { bytes, held: true });
    else this.held -= bytes;
  }

  /**
   * A streamed item's bytes, noted when it is decoded but not taken: its
   * stream takes them when it reads the item (`takeItem`), so an item its
   * stream never reads (a stream refused or cancelled with items still
   * buffered) holds nothing.
   */
  measure(request: unknown, bytes: number): void {
    if (typeof request === 'object' && request !== null)
      this.sizes.set(request, { bytes, held: false });
  }

  /** A streamed item is read: its bytes are held, whatever else is (its stream stops reading while `full`). */
  takeItem(request: unknown): void {
    if (typeof request !== 'object' || request === null) return;
    const entry = this.sizes.get(request);
    if (!entry || entry.held) return;
    entry.held = true;
    this.held += entry.bytes;
  }

  /** The request is answered (or dropped): its bytes go back. Once per request; later calls do nothing. */
  release(request: unknown): void {
    if (typeof request !== 'object' || request === null) return;
    const entry = this.sizes.get(request);
    if (entry === undefined) return;
    this.sizes.delete(request);
    if (!entry.held) return;
    this.held -= entry.bytes;
    if (!this.full && this.waiting.length > 0) {
      const waiting = this.waiting;
      this.waiting = [];
      for (const f of waiting) f();
    }
  }

  /** Whether the requests held reach the bound. */
  get full(): boolean {
    return this.held >= this.maxBytes;
  }

  /** Calls `f` once, the next time a release leaves the budget below its bound. */
  whenRoom(f: () => void): void {
    this.waiting.push(f);
  }

  /** Bytes of requests held now. */
  get heldBytes(): number {
    return this.held;
  }
}

/** The code a request refused for the bound is answered with (UNAVAILABLE). */
export const BUSY_CODE = 'REQUEST.BUSY';

export const busyReason = (bytes: number, budget: RequestBudget): string =>
  `the server holds ${mib(budget.heldBytes)} of requests, and this one of ${mib(bytes)} would pass its bound of ${mib(budget.maxBytes)} (REQUEST_BYTES_IN_FLIGHT); send it again shortly`;

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
