import type { FeedMark } from '@enforcement/messaging';

/** An item received and not yet done with: when it happened, and its feed once it is decided. */
interface Item {
  readonly at: number;
  feed?: string;
  /** Answered UNAVAILABLE: its sender sends it again, so it holds while its stream is open and not idle. */
  parked?: boolean;
}

/** One stream's state in StreamFeeds. */
export interface StreamState {
  /** Items received and not yet done with, by their number in the stream. */
  readonly open: Map<number, Item>;
  /** Feed → the latest time of an item of it this stream stored. */
  readonly stored: Map<string, number>;
  /** Feed → how many of its open items are decided as of it (none kept at 0). */
  readonly decided: Map<string, number>;
  /** The stream ended: it sends nothing more, and holds only by its items still being stored. */
  ended: boolean;
  /** Its sender has sent nothing for a while: until it does, it holds as if ended. */
  idle: boolean;
  /**
   * The other instances can hear of it: its holds, as they were when it
   * last began to hold (it opened, or sent again after idling), are in the
   * store. Until then its items wait before they are stored (`heard`).
   */
  heard: boolean;
  /** Raised each time it begins to hold again: a write of its holds from before does not make it heard. */
  epoch: number;
  /** Resolved once it is heard, for its items waiting; rejected when its holds could not be written. */
  hearing?: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };
}

/** Under this key, a hold on every feed: a stream that has shown none yet may send any. */
export const ANY_FEED = '*';

/** Whether an open item may be of `feed` (its feed is not known until it is decided). */
const mayBe = (o: Item, feed: string) => o.feed === undefined || o.feed === feed;

/**
 * How far this instance's SubmitEvents streams have stored each feed, in
 * event time: the floor each event carries (CaseEvent.feed_floor) and the
 * marks published (FeedMark).
 *
 * Each stream sends a feed in the order things happened (docs/scoring.md),
 * and stores the items of different cases at once, so a later item may be
 * stored before an earlier one. An item's floor is the earliest of its own
 * time, the times of the items before it in its stream still being stored
 * that are of its feed or not decided yet, and, for every other stream open
 * that has shown the feed (stored an item of it, or decided one), the
 * earliest it may still store of it: its items still being stored that may
 * be of the feed, and, while it is open, the latest of the feed it stored
 * (what it sends next happened no earlier). So a loader that splits one
 * agency's history over several streams, one slower than the others, has
 * that agency judged no further than the slowest stream; until 2026-12-07
 * each stream counted alone, and the fastest one's time judged the cases
 * the slowest had not sent yet. A stream counts for a feed once it has
 * shown it: one that has shown other feeds only holds nothing of it
 * (another agency's stream holds this one's feed back in nothing), and one
 * that has shown none yet holds every feed by its items under way (its
 * first items may be of any). So streams that start together count from
 * their first items; one that starts later, with items earlier than what
 * the others have stored, is late, as is a feed a stream sends for the
 * first time after others of it went further.
 *
 * Streams on other intake instances count through what each instance shares
 * (`holds`, `shared`): every few hundred milliseconds each writes, per feed,
 * the earliest its streams may still store of it, and reads the others'.
 * An instance's floors and marks are no later than what the others shared;
 * what it shares leaves theirs out, so no hold echoes back. A hold read late
 * is only lower than the truth (what a stream stores next happened no
 * earlier), so the delay holds a feed back longer, never less. Two rules
 * keep a stream the others have not heard of yet from being overtaken:
 * - a stream's items wait, before they are stored, until its holds are in
 *   the store (`heard`: the instance writes them at once), when it opens and
 *   when it sends again after idling;
 * - an instance says of a feed no more than it had stored before it last
 *   read the others' holds (`written`, `shared`; 1970-01-01 for a feed it
 *   had stored none of), since a stream it has not heard of was written
 *   after that read, so began after that.
 * So a stream counts for the other instances from when its holds are
 * written, a few milliseconds after its first item, as one here counts from
 * its first item: its items earlier than what the others had stored by then
 * are late, as for a stream that starts later here. Until 2026-12-07 it
 * counted from when the others read it, up to two rounds later, and a fast
 * stream elsewhere ran weeks past a slow one that began with it.
 *
 * An item answered UNAVAILABLE holds while its stream is open, since its
 * sender sends it again: in the same stream, which lets it go once the
 * command is stored or refused there (`settled`), or in another; one still
 * being stored when its stream ends holds until it is done with. A stream
 * left open whose sender sends nothing (`STREAM_IDLE_MS`) stops holding by
 * what it may send next, and by its items answered UNAVAILABLE, as sources
 * are let go in stream processors' watermarks, so that a stream forgotten
 * open does not hold its feeds' clocks for good.
 */
export class StreamFeeds {
  private readonly streams = new Set<StreamState>();
  /** Feed → the latest time of an item of it stored by any stream here. */
  private readonly stored = new Map<string, number>();
  /** Feed → how far it has been said to be stored (a floor or a mark). */
  private readonly said = new Map<string, number>();
  /** Feed (or ANY_FEED) → the earliest the other instances' streams may still store of it, as last read. */
  private remote: ReadonlyMap<string, number> = new Map();
  /** Asks the exchange for a round soon; set once it shares with other instances (`shareWith`). */
  private wake: (() => void) | undefined;
  /** How long an item waits for its stream to be heard before it is answered UNAVAILABLE (ms; `shareWith`). */
  private hearingMs = 0;
  /**
   * Feed → how far this instance had stored it just before it last read the
   * others' holds: nothing said goes further (a feed absent: 1970-01-01).
   * Unset while it shares with none.
   */
  private cap: ReadonlyMap<string, number> | undefined;
  /** What `cap` becomes once the holds just written are followed by a read of the others'. */
  private nextCap: ReadonlyMap<string, number> | undefined;
  /** Streams not heard yet whose holds are in the write under way, at their epoch then. */
  private writing = new Map<StreamState, number>();

  /** A stream began: it tells its items to what this returns, and closes it when it ends. */
  open(): StreamFloor {
    const s: StreamState = {
      open: new Map(),
      stored: new Map(),
      decided: new Map(),
      ended: false,
      idle: false,
      heard: false,
      epoch: 0,
    };
    this.streams.add(s);
    return new StreamFloor(this, s);
  }

  /** Streams open, or ended with items still being stored. */
  get size(): number {
    return this.streams.size;
  }

  /** @internal */
  received(s: StreamState, nth: number, at: number): void {
    s.open.set(nth, { at });
    if (s.idle) {
      // It held nothing by what it sends next meanwhile, nor did the holds written then.
      s.idle = false;
      s.heard = false;
      s.epoch++;
    }
  }

  /**
   * @internal Resolves once the other instances can hear of `s`: once its
   * holds are in the store. Undefined when they already can, or when this
   * instance shares with none.
   */
  heard(s: StreamState): Promise<void> | undefined {
    if (!this.wake || s.heard) return undefined;
    if (!s.hearing) {
      let resolve = () => undefined as void;
      let reject: (e: unknown) => void = () => undefined;
      const promise = new Promise<void>((ok, fail) => {
        resolve = ok;
        reject = fail;
      });
      // Its items take the rejection; none left waiting makes it no fault.
      promise.catch(() => undefined);
      s.hearing = { promise, resolve, reject };
    }
    this.wake();
    return s.hearing.promise;
  }

  /**
   * From now on, this instance shares its streams' holds with others
   * (`holds`, `written`, `shared`): a stream's items wait, before they are
   * stored, until its holds are written (`wake` asks for that soon), and
   * nothing is said past what was stored before the others' holds were last
   * read. An item waits `withinMs` at most, then is answered UNAVAILABLE.
   */
  shareWith(wake: () => void, withinMs: number): void {
    this.wake = wake;
    this.hearingMs = withinMs;
    this.cap ??= new Map();
  }

  /** @internal */
  get heardWithinMs(): number {
    return this.hearingMs;
  }

  /** @internal */
  settled(s: StreamState, nth: number, storedAs?: string): void {
    const item = this.remove(s, nth);
    if (storedAs !== undefined && item) {
      if (item.at > (s.stored.get(storedAs) ?? -Infinity)) s.stored.set(storedAs, item.at);
      if (item.at > (this.stored.get(storedAs) ?? -Infinity)) this.stored.set(storedAs, item.at);
    }
    this.forgetIfDone(s);
  }

  /** @internal */
  parked(s: StreamState, nth: number): void {
    const item = s.open.get(nth);
    if (!item) return;
    if (s.ended) this.remove(s, nth);
    else item.parked = true;
    this.forgetIfDone(s);
  }

  /**
   * @internal The stream ended: it holds back no feed but by its items still
   * being stored, and what that lets rise is marked. Its items answered
   * UNAVAILABLE hold no more: their sender sends them again in another
   * stream (one ended before they are sent there leaves them late).
   */
  ended(s: StreamState): FeedMark[] {
    s.ended = true;
    for (const [nth, item] of s.open) if (item.parked) this.remove(s, nth);
    this.forgetIfDone(s);
    return this.marks();
  }

  /**
   * @internal Its sender has sent nothing for a while: the stream no longer
   * holds a feed back by what it may send next (its items still being
   * stored do), and what that lets rise is marked. It holds again from its
   * next item; one earlier than what was said meanwhile is late.
   */
  idle(s: StreamState): FeedMark[] {
    s.idle = true;
    return this.marks();
  }

  /** @internal */
  floorOf(s: StreamState, nth: number, at: number, feed: string): number {
    const self = s.open.get(nth);
    if (self && self.feed === undefined) {
      self.feed = feed;
      s.decided.set(feed, (s.decided.get(feed) ?? 0) + 1);
    }
    const floor = this.capped(feed, this.bound(feed, at, { stream: s, nth }));
    this.say(feed, floor);
    return floor;
  }

  /**
   * What this instance's streams may still store, for the other instances to
   * hold their floors by: per feed a stream here has shown, the earliest of
   * it they may still store, and under ANY_FEED the earliest item of a
   * stream that has shown no feed yet. The other instances' holds are left
   * out. Its streams not heard yet that hold are heard once these are
   * written (`written`).
   */
  holds(): Map<string, number> {
    this.writing = new Map(
      [...this.streams].filter((s) => !s.heard && s.open.size > 0).map((s) => [s, s.epoch]),
    );
    const out = new Map<string, number>();
    const shown = new Set<string>();
    for (const s of this.streams)
      for (const f of [...s.stored.keys(), ...s.decided.keys()]) shown.add(f);
    for (const feed of shown) {
      const t = this.bound(feed, Infinity, undefined, false);
      if (t < Infinity) out.set(feed, t);
    }
    let any = Infinity;
    for (const s of this.streams)
      if (this.fresh(s))
        for (const o of s.open.values()) if (!(o.parked && s.idle)) any = Math.min(any, o.at);
    if (any < Infinity) out.set(ANY_FEED, any);
    return out;
  }

  /**
   * What `holds` last returned is in the store: the streams it held for are
   * heard, their items stored from now on. What this instance has stored by
   * now is how far it may say once the others' holds are read next.
   */
  written(): void {
    for (const [s, epoch] of this.writing) {
      if (s.epoch !== epoch) continue;
      s.heard = true;
      s.hearing?.resolve();
      s.hearing = undefined;
    }
    this.writing.clear();
    this.nextCap = new Map(this.stored);
  }

  /**
   * What `holds` last returned could not be written (the store did not take
   * it): the items waiting for their stream to be heard are answered with
   * `e`, as a command whose own write failed is, and their sender sends
   * them again. The next write may hear their stream.
   */
  unwritten(e: unknown): void {
    for (const s of this.streams) {
      s.hearing?.reject(e);
      s.hearing = undefined;
    }
    this.writing.clear();
  }

  /**
   * The other instances' holds, as just read (each feed's earliest, and
   * ANY_FEED's): floors from now on are no later, nor later than what was
   * stored here before the read (`written`). Returns the marks that lets
   * rise, to publish.
   */
  shared(remote: ReadonlyMap<string, number>): FeedMark[] {
    this.remote = remote;
    if (this.cap && this.nextCap) this.cap = this.nextCap;
    this.nextCap = undefined;
    return this.marks();
  }

  /**
   * Each feed stored here whose floor rose past what was said: how far it is
   * stored now, as far as every stream here, and what the other instances
   * shared, can tell.
   */
  marks(): FeedMark[] {
    const out: FeedMark[] = [];
    for (const [feed, latest] of this.stored) {
      const before = this.capped(feed, this.bound(feed, latest));
      if (this.say(feed, before)) out.push({ feed, before });
    }
    return out;
  }

  /**
   * `from`, lowered to the earliest time of `feed` an item not yet stored
   * may hold: those still open (in `self`'s stream, the ones before it: the
   * ones after it happened no earlier), what the other open streams
   * that have shown the feed may still send of it, and what the other
   * instances shared.
   */
  private bound(
    feed: string,
    from: number,
    self?: { stream: StreamState; nth: number },
    /** Whether the other instances' holds count (not in what this one shares). */
    others = true,
  ): number {
    let t = from;
    if (others)
      t = Math.min(t, this.remote.get(feed) ?? Infinity, this.remote.get(ANY_FEED) ?? Infinity);
    for (const s of this.streams) {
      const own = s === self?.stream;
      if (!own && !this.shows(s, feed) && !this.fresh(s)) continue;
      for (const [nth, o] of s.open) {
        if (own && nth >= (self?.nth ?? Infinity)) continue;
        // Idle, the stream holds only by what it is storing.
        if (o.parked && s.idle) continue;
        if (o.at < t && mayBe(o, feed)) t = o.at;
      }
      if (!own && !s.ended && !s.idle) t = Math.min(t, s.stored.get(feed) ?? t);
    }
    return t;
  }

  /** `t`, no later than what was stored of `feed` here before the others' holds were last read. */
  private capped(feed: string, t: number): number {
    return this.cap ? Math.min(t, this.cap.get(feed) ?? 0) : t;
  }

  /** Whether `s` has shown `feed`: stored an item of it, or decided one still open. */
  private shows(s: StreamState, feed: string): boolean {
    return s.stored.has(feed) || s.decided.has(feed);
  }

  /** Whether `s` has shown no feed yet: its first items, not decided yet, may be of any. */
  private fresh(s: StreamState): boolean {
    return s.stored.size === 0 && s.decided.size === 0;
  }

  /** Takes item `nth` out of `s`'s open items, and out of its decided counts. */
  private remove(s: StreamState, nth: number): Item | undefined {
    const item = s.open.get(nth);
    s.open.delete(nth);
    if (item?.feed !== undefined) {
      const left = (s.decided.get(item.feed) ?? 0) - 1;
      if (left > 0) s.decided.set(item.feed, left);
      else s.decided.delete(item.feed);
    }
    return item;
  }

  private forgetIfDone(s: StreamState): void {
    if (s.ended && s.open.size === 0) this.streams.delete(s);
  }

  private say(feed: string, t: number): boolean {
    if (t <= (this.said.get(feed) ?? -Infinity)) return false;
    this.said.set(feed, t);
    return true;
  }
}

/**
 * One SubmitEvents stream's part of StreamFeeds: its items as it receives,
 * decides and settles them. Made alone (`new StreamFloor()`), it is the only
 * stream of a StreamFeeds of its own.
 */
export class StreamFloor {
  private readonly feeds: StreamFeeds;
  private readonly stream: StreamState;

  constructor(feeds?: StreamFeeds, stream?: StreamState) {
    if (feeds && stream) {
      this.feeds = feeds;
      this.stream = stream;
    } else {
      const own = new StreamFeeds().open();
      this.feeds = own.feeds;
      this.stream = own.stream;
    }
  }

  received(nth: number, occurredAt: Date): void {
    this.feeds.received(this.stream, nth, occurredAt.getTime());
  }

  /**
   * Resolves once the other intake instances can hear of this stream, which
   * its items wait for before they are stored (StreamFeeds.heard);
   * undefined when they need not wait.
   */
  heard(): Promise<void> | undefined {
    return this.feeds.heard(this.stream);
  }

  /** How long an item waits for `heard` before it is answered UNAVAILABLE (ms). */
  get heardWithinMs(): number {
    return this.feeds.heardWithinMs;
  }

  /**
   * The item ended: `storedAs` is the feed of its events when they are in the
   * store (stored now, or before: a duplicate), undefined when it was refused.
   */
  settled(nth: number, storedAs?: string): void {
    this.feeds.settled(this.stream, nth, storedAs);
  }

  /** The item was answered UNAVAILABLE: it holds while the stream is open (its sender sends it again). */
  parked(nth: number): void {
    this.feeds.parked(this.stream, nth);
  }

  /** The floor of item `nth` of `feed`, which happened at `occurredAt`; its event carries it. */
  of(nth: number, occurredAt: Date, feed: string): Date {
    return new Date(this.feeds.floorOf(this.stream, nth, occurredAt.getTime(), feed));
  }

  /** Each feed stored on this instance whose floor rose past what was said (StreamFeeds.marks). */
  marks(): FeedMark[] {
    return this.feeds.marks();
  }

  /** Its sender has sent nothing for a while (StreamFeeds.idle); returns the marks that makes. */
  idle(): FeedMark[] {
    return this.feeds.idle(this.stream);
  }

  /**
   * The stream ended, however: from now on it holds no feed back but by its
   * items still being stored. Returns the marks that makes (to publish);
   * closing again marks only what rose since.
   */
  close(): FeedMark[] {
    return this.feeds.ended(this.stream);
  }
}
