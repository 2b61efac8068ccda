import type { Collection, Db } from 'mongodb';
import { withDeadline } from '@enforcement/errors';
import { SOCKET_TIMEOUT_MS } from '@enforcement/mongo-kit';
import type { FeedMark } from '@enforcement/messaging';

/** Leases after which a record whose beat has not moved is deleted. */
const GONE_AFTER_LEASES = 6;

/** One instance's holds, as it last wrote them. */
interface HoldsDoc {
  /** The instance. */
  _id: string;
  /** Per feed (or ANY_FEED), the earliest its streams may still store of it (ms). */
  holds: { feed: string; t: number }[];
  /** Raised on every write: an instance whose beat stops moving has gone. */
  beat: number;
}

/** The part of StreamFeeds the exchange reads and tells. */
export interface SharedFeeds {
  shareWith(wake: () => void, withinMs: number): void;
  holds(): ReadonlyMap<string, number>;
  written(): void;
  unwritten(e: unknown): void;
  shared(remote: ReadonlyMap<string, number>): FeedMark[];
}

/** How long a step of a round (a write, a read) goes unanswered before it is logged (ms); it is waited for all the same. */
export const roundStepSlowMs = (everyMs: number): number => Math.max(everyMs * 4, 2_000);

/**
 * How long a stream's items wait for its holds to be written before they
 * are answered UNAVAILABLE (ms): the round under way and the next one's
 * write, each step given up by the driver at the socket's deadline, past
 * which a command's own write would have been too.
 */
export const heardWithinMs = (everyMs: number): number => 2 * SOCKET_TIMEOUT_MS + everyMs;

export interface StreamHoldsOptions {
  /** This instance, unique among those sharing the store. */
  readonly instance: string;
  /** How often the holds are written and read (ms). */
  readonly everyMs: number;
  /** How long an instance's holds count once its beat stops moving (ms): it stopped, or cannot reach the store. */
  readonly leaseMs: number;
  /** Publishes the marks the others' holds let rise. */
  readonly publish: (marks: FeedMark[]) => void;
  readonly log: (msg: string, err?: unknown) => void;
}

/**
 * Shares the holds of SubmitEvents streams between the intake instances on
 * one store (StreamFeeds, "Streams on other intake instances"): each round,
 * this instance writes its own and reads the others', which its floors and
 * marks go by until the next. An instance that stops deletes its record; one
 * that dies, or cannot write, is let go once its beat has not moved for
 * `leaseMs` as this instance's clock counts, so clocks set apart do not
 * matter. A round that fails keeps the holds read last: read late, a hold is
 * only lower than the truth. A stream that begins to hold asks for a round
 * at once (`soon`): its items wait for it, and are answered with the
 * store's error when its write fails (a store away). A round waits for each step's
 * answer (the driver gives up at the socket's deadline), logging one that
 * is slow, and no round starts while one waits: a step given up on and
 * left running, with a new one sent each round, filled the connection
 * pool while a lock held intake's tables.
 */
export class StreamHoldsExchange {
  private readonly docs: Collection<HoldsDoc>;
  /** Per other instance: the beat last read, and when (this clock) it last moved. */
  private readonly seen = new Map<string, { beat: number; movedAt: number }>();
  private beat = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Asked for while a round ran: another follows it. */
  private again = false;
  private stopped = false;
  private failing = false;

  constructor(
    db: Db,
    private readonly feeds: SharedFeeds,
    private readonly o: StreamHoldsOptions,
  ) {
    this.docs = db.collection<HoldsDoc>('stream_holds');
    feeds.shareWith(() => this.soon(), heardWithinMs(o.everyMs));
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.run();
    }, this.o.everyMs);
    this.timer.unref();
  }

  /** A round now, or right after the one under way (whose holds were taken before it was asked for). */
  soon(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.run();
  }

  private run(): void {
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.run();
      }
    });
  }

  /** One round: writes this instance's holds, reads the others', tells the feeds. */
  async round(): Promise<void> {
    let wrote = false;
    try {
      const holds = [...this.feeds.holds()].map(([feed, t]) => ({ feed, t }));
      await this.step(
        this.docs.replaceOne(
          { _id: this.o.instance },
          { holds, beat: ++this.beat },
          { upsert: true },
        ),
        'writing the streams’ holds',
      );
      this.feeds.written();
      wrote = true;
      const others = await this.step(
        this.docs.find({ _id: { $ne: this.o.instance } }).toArray(),
        'reading the other instances’ stream holds',
      );
      const now = Date.now();
      const remote = new Map<string, number>();
      for (const d of others) {
        const last = this.seen.get(d._id);
        if (!last || last.beat !== d.beat) this.seen.set(d._id, { beat: d.beat, movedAt: now });
        const still = now - (this.seen.get(d._id)?.movedAt ?? now);
        if (still > this.o.leaseMs) {
          // Gone long since (it died without deleting its record): cleared
          // away, unless it has written since it was read.
          if (still > this.o.leaseMs * GONE_AFTER_LEASES)
            await this.step(
              this.docs.deleteOne({ _id: d._id, beat: d.beat }),
              'clearing a gone instance’s stream holds',
            );
          continue;
        }
        for (const h of d.holds) remote.set(h.feed, Math.min(remote.get(h.feed) ?? Infinity, h.t));
      }
      const present = new Set(others.map((d) => d._id));
      for (const id of this.seen.keys()) if (!present.has(id)) this.seen.delete(id);
      const marks = this.feeds.shared(remote);
      if (marks.length > 0) this.o.publish(marks);
      if (this.failing) this.o.log('stream holds: shared again');
      this.failing = false;
    } catch (e) {
      // The streams waiting for this write: their items are answered as a failed write of theirs would be.
      if (!wrote) this.feeds.unwritten(e);
      if (!this.failing) this.o.log('stream holds: not shared, keeping the holds read last', e);
      this.failing = true;
    }
  }

  /** Waits for `p`, saying so once it has gone unanswered for a while. */
  private async step<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = roundStepSlowMs(this.o.everyMs);
    const slow = setTimeout(
      () => this.o.log(`stream holds: ${what} has had no answer for ${ms} ms; waiting`),
      ms,
    );
    try {
      return await p;
    } finally {
      clearTimeout(slow);
    }
  }

  /** Stops sharing, its holds left for the others to let go by lease (a crash, as they see it). */
  abort(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** Stops sharing, and takes this instance's holds away. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await withDeadline(this.running ?? Promise.resolve(), 2_000, 'the round under way').catch(
      () => undefined,
    );
    await withDeadline(
      this.docs.deleteOne({ _id: this.o.instance }),
      2_000,
      'deleting the streams’ holds',
    ).catch((e: unknown) => this.o.log('stream holds: not deleted (let go by lease)', e));
  }
}
