import type { Kafka, Message, Producer } from 'kafkajs';
import { events } from '@enforcement/contracts';
import { metrics, SpanStatusCode, type Counter, type ObservableResult } from '@opentelemetry/api';
import { withDeadline } from '@enforcement/errors';
import {
  DeliveryCheck,
  encodeFeedMark,
  Header,
  startPublishSpan,
  traceHeaders,
  type FeedMark,
} from '@enforcement/messaging';
import type { Checkpoint } from '../../application/chain.js';
import type { Commit, Publisher } from '../../application/ports.js';
import { commitKeyOf, type MongoEventStore } from '../mongo/event-store.js';

/** Where the relay records each case's new head once its events are on Kafka. */
export interface CheckpointSink {
  readonly topic: string;
  message(c: Checkpoint): Message;
  note(c: Checkpoint): void;
  /** The highest head of the case known here (published by this instance or read from the topic). */
  get(caseId: string): Checkpoint | undefined;
}

export interface RelayOptions {
  readonly topic: string;
  /** Where feed marks go (see `mark`). */
  readonly marksTopic: string;
  readonly checkpoints: CheckpointSink;
  readonly batchSize: number;
  /**
   * The bytes of events one send carries at most (a single commit larger
   * goes alone): Kafka refuses a partition's record batch over the topic's
   * `max.message.bytes`, whatever each event's size.
   */
  readonly maxBatchBytes: number;
  /** Outbox entries older than this are republished by the sweep (a peer, or this process, crashed). */
  readonly sweepAfterMs: number;
  readonly sweepEveryMs: number;
  readonly onError?: (err: unknown) => void;
}

interface Queued {
  /** Its place among everything ever queued here (marks wait for theirs). */
  readonly seq: number;
  readonly commit: Commit;
  readonly trace: Record<string, string>;
  /** Why its stored events cannot be read back: it is parked where its turn comes, never sent. */
  readonly unreadable?: string;
}

/**
 * Each queued event encoded once: the batch is sized by it (`bytesOf`) and
 * sent with it (`toMessages`), however often it is sent again.
 */
const encodings = new WeakMap<object, Buffer>();
function encoded(e: Commit['events'][number]): Buffer {
  let b = encodings.get(e);
  if (!b) {
    b = Buffer.from(events.CaseEvent.encode(e).finish());
    encodings.set(e, b);
  }
  return b;
}

export function toMessages(commit: Commit, trace: Record<string, string> = {}): Message[] {
  return commit.events.map((e) => ({
    key: e.caseId,
    value: encoded(e),
    headers: {
      ...trace,
      [Header.eventId]: e.eventId,
      [Header.eventType]: e.payload?.$case ?? 'unknown',
      [Header.schemaVersion]: String(e.schemaVersion),
      [Header.caseVersion]: String(e.version),
      [Header.position]: String(e.position),
      [Header.contentType]: 'application/x-protobuf; messageType=enforcement.events.v1.CaseEvent',
    },
  }));
}

/**
 * How long a mark may take to go (ms): waiting for the commits before it,
 * then sent again while Kafka refuses it (a broker lost, a leader elected);
 * past it, it is dropped.
 */
const MARK_WAIT_MS = 10 * 60_000;

/** How long publication may fail, or a send go unanswered, before readiness says so (ms). */
const NO_ANSWER_MS = 10_000;

/** Outbox deletes a relay has under way at most (see `settle`). */
const MAX_SETTLING = 4;

/** Kafka errors that no retry can mend: the record itself is refused. */
const POISON = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_REQUIRED_ACKS',
]);

function kafkaTypes(e: unknown, depth = 0): string[] {
  if (typeof e !== 'object' || e === null || depth > 3) return [];
  const x = e as { type?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
  return [
    ...(typeof x.type === 'string' ? [x.type] : []),
    ...kafkaTypes(x.cause, depth + 1),
    ...kafkaTypes(x.originalError, depth + 1),
    ...(Array.isArray(x.errors) ? x.errors.flatMap((y) => kafkaTypes(y, depth + 1)) : []),
  ];
}

const poison = (e: unknown): boolean => kafkaTypes(e).some((t) => POISON.has(t));

/**
 * Kafka errors that say the producer's sequence numbers no longer match the
 * broker's: every later send of it fails the same, so it is replaced.
 */
const DESYNCED = new Set([
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'UNKNOWN_PRODUCER_ID',
  'INVALID_PRODUCER_EPOCH',
  'INVALID_PRODUCER_ID_MAPPING',
]);
const desynced = (e: unknown): boolean => kafkaTypes(e).some((t) => DESYNCED.has(t));

/** About the bytes a commit takes on the topic: its events, keys and headers. */
function bytesOf(commit: Commit): number {
  let n = 0;
  for (const e of commit.events) n += encoded(e).length + 2 * e.caseId.length + 400;
  return n;
}
const describe = (e: unknown): string =>
  `${kafkaTypes(e).join(', ') || 'refused'}: ${(e as Error).message}`;

/**
 * Why a commit of a case already parked is parked: behind the earlier one,
 * and, when its own events cannot be read either, that too, so that the
 * operator who releases the case knows the release will not publish it.
 */
function behindParked(q: Queued): string {
  const behind = 'an earlier event of the case is parked';
  return q.unreadable === undefined ? behind : `${q.unreadable}; ${behind} too`;
}

let parkedCounter: Counter | undefined;
const parked = () =>
  (parkedCounter ??= metrics
    .getMeter('case-intake')
    .createCounter('enforcement.intake.relay.parked', {
      description:
        'Commits the relay set aside because Kafka refuses them for good (or an earlier commit of their case was); an operator must look',
    }));

/** The last head of each case among these commits. */
function headsOf(commits: readonly Commit[]): Checkpoint[] {
  const heads = new Map<string, Checkpoint>();
  for (const c of commits) {
    const last = c.events.at(-1);
    const known = heads.get(c.caseId);
    if (last && (!known || known.version < last.version))
      heads.set(c.caseId, { caseId: c.caseId, version: last.version, headHash: last.hash });
  }
  return [...heads.values()];
}

/**
 * Publishes stored commits to the case-events topic: an idempotent producer
 * with one request in flight, so events keep their order per case. Commits are
 * queued as they are stored and sent in batches; once Kafka has them their
 * outbox entries are removed. On start, and periodically, entries left by a
 * crash are republished (at least once; consumers deduplicate by version).
 */
export class KafkaRelay implements Publisher {
  private producer: Producer;
  /** What each send reached, checked against what it was for. */
  private readonly delivery = new DeliveryCheck();
  private queue: Queued[] = [];
  private queued = 0;
  /** Callers of `published` (marks among them) waiting for every commit queued up to `through` to leave the queue. */
  private waiters: { through: number; go: () => void; drop: (e: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  /** Outbox deletes under way (settle). */
  private readonly settling = new Set<Promise<void>>();
  /** Commits published whose outbox entries are being removed, by `sentKey`. */
  private readonly unsettled = new Set<string>();
  /** For each sweep reading the outbox, the commits published since it began reading. */
  private readonly sweepsReading = new Set<Set<string>>();
  private sweeper: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  /** When publication started failing without a success since (ms), or 0. */
  private failingSince = 0;
  /**
   * When the send under way started (ms), or 0: a broker that stops
   * answering (a stalled host) fails a send only at kafkajs's request
   * timeout, 30 s later, and nothing is published meanwhile.
   */
  private sendingSince = 0;
  /**
   * Cases with a parked commit: their later commits are parked too, to keep
   * each case in order. The value counts parkings (parkSeq), so that a sweep
   * frees a released case only if nothing of it was parked while it read.
   */
  private readonly parkedCases = new Map<string, number>();
  private parkSeq = 0;
  /** Removes this relay's gauge callbacks (the meter outlives it). */
  private readonly unobserve: () => void;

  constructor(
    private readonly kafka: Kafka,
    private readonly store: MongoEventStore,
    private readonly opts: RelayOptions,
  ) {
    this.producer = this.newProducer();
    this.unobserve = this.observe();
    // At 0 from the start, so that an alert on its increase sees the first one.
    parked().add(0);
  }

  /**
   * The publication backlog an operator alerts on: how long the oldest stored
   * commit has waited for Kafka, how many wait, and the cases set aside.
   */
  private observe(): () => void {
    const meter = metrics.getMeter('case-intake');
    const age = meter.createObservableGauge('enforcement.intake.outbox.age', {
      description: 'How long the oldest stored commit not yet on Kafka has waited (0: none waits)',
      unit: 's',
    });
    const queued = meter.createObservableGauge('enforcement.intake.outbox.queued', {
      description: 'Stored commits waiting to be published to Kafka',
      unit: '{commit}',
    });
    const parkedCases = meter.createObservableGauge('enforcement.intake.relay.parked_cases', {
      description: 'Cases whose commits the relay set aside (Kafka refuses one for good)',
      unit: '{case}',
    });
    const onAge = (r: ObservableResult) => {
      const oldest = this.queue[0]?.commit.events[0]?.recordedAt?.getTime();
      r.observe(oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest) / 1000));
    };
    const onQueued = (r: ObservableResult) => r.observe(this.queue.length);
    const onParked = (r: ObservableResult) => r.observe(this.parkedCases.size);
    age.addCallback(onAge);
    queued.addCallback(onQueued);
    parkedCases.addCallback(onParked);
    return () => {
      age.removeCallback(onAge);
      queued.removeCallback(onQueued);
      parkedCases.removeCallback(onParked);
    };
  }

  async start(): Promise<void> {
    for (const caseId of await this.store.parkedCases()) this.parkedCases.set(caseId, 0);
    await this.producer.connect();
    await this.recover(0);
    this.sweeper = setInterval(
      () => void this.recover(this.opts.sweepAfterMs),
      this.opts.sweepEveryMs,
    );
    this.sweeper.unref();
  }

  enqueue(commit: Commit): void {
    if (this.stopped) return; // stored; the outbox has it for the next start
    this.queue.push({ seq: ++this.queued, commit, trace: traceHeaders() });
    this.kick();
  }

  /**
   * Publishes feed marks once every commit queued before this call is on
   * Kafka (or parked: a parked case is never judged past it, see
   * expected_version), so that whoever reads a mark and then the topic's ends
   * finds the events it covers. A mark Kafka refuses is sent again, after
   * a pause, until it goes; one that cannot go within ten minutes is
   * dropped: the feed waits for its next event, as it did without marks.
   */
  mark(marks: readonly FeedMark[]): void {
    if (this.stopped || marks.length === 0) return;
    const until = Date.now() + MARK_WAIT_MS;
    void withDeadline(this.published(), MARK_WAIT_MS, 'the commits before a feed mark')
      .then(() => this.sendMarks(marks, until))
      .catch((e: unknown) => {
        if (!this.stopped) this.opts.onError?.(e);
      });
  }

  /** Resolves once every commit queued before the call has left the queue: on Kafka, or parked. */
  published(): Promise<void> {
    if (this.stopped)
      return Promise.reject(new Error('the relay stopped before the commits were published'));
    const through = this.queued;
    return this.oldestQueued() <= through
      ? new Promise<void>((go, drop) => this.waiters.push({ through, go, drop }))
      : Promise.resolve();
  }

  private async sendMarks(marks: readonly FeedMark[], until: number): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const messages = marks.map(encodeFeedMark);
        this.delivery.verify(
          [{ topic: this.opts.marksTopic, messages }],
          await this.producer.send({ topic: this.opts.marksTopic, acks: -1, messages }),
        );
        return;
      } catch (e) {
        if (this.stopped || Date.now() > until) throw e;
        this.opts.onError?.(e);
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** attempt)));
      }
    }
  }

  /** Lets go the waits (marks among them) whose commits have all left the queue. */
  private wake(): void {
    if (this.waiters.length === 0) return;
    const oldest = this.oldestQueued();
    const ready = this.waiters.filter((w) => w.through < oldest);
    this.waiters = this.waiters.filter((w) => w.through >= oldest);
    for (const w of ready) w.go();
  }

  /** The place of the oldest commit still queued (the queue keeps the order they were queued in). */
  private oldestQueued(): number {
    return this.queue[0]?.seq ?? Infinity;
  }

  /** Fails every wait for publication (the relay stops): marks waiting are dropped. */
  private dropWaiters(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting)
      w.drop(new Error('the relay stopped before the commits were published'));
  }

  /**
   * Resolves once everything queued so far is on Kafka and out of the
   * outbox (or reported as not removed: a sweep sends it again). Between failed
   * attempts it waits the backoff: a producer that fails at once (kafkajs
   * gave it up) must not turn this into a loop that starves the event loop,
   * signals and timers included.
   */
  async drain(): Promise<void> {
    while (this.queue.length > 0 || this.flushing) {
      this.kick();
      await this.flushing;
      if (this.failures > 0 && this.queue.length > 0) {
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, this.backoffMs()));
      }
    }
    await Promise.all(this.settling);
  }

  /** Publishes what is queued for at most `graceMs` (Kafka may be down), then stops; the outbox keeps the rest. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.drain().catch(() => undefined),
      new Promise((r) => (timer = setTimeout(r, graceMs))),
    ]).finally(() => clearTimeout(timer));
    this.stopped = true;
    this.dropWaiters();
    this.unobserve();
    await this.producer.disconnect();
  }

  /** Stops without publishing what is queued, as a crash would; the outbox keeps it. */
  async abort(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.stopped = true;
    this.queue = [];
    this.dropWaiters();
    this.unobserve();
    await this.producer.disconnect().catch(() => undefined);
  }

  get backlog(): number {
    return this.queue.length;
  }

  private kick(): void {
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0 && !this.stopped) setTimeout(() => this.kick(), this.backoffMs());
    });
  }

  /** True while Kafka takes what the relay sends, or a reason (readiness). */
  health(): true | string {
    const now = Date.now();
    if (this.sendingSince !== 0 && now - this.sendingSince >= NO_ANSWER_MS) {
      const s = Math.round((now - this.sendingSince) / 1000);
      return `publication to Kafka unanswered for ${s} s, ${this.queue.length} commits waiting`;
    }
    if (this.failingSince === 0 || now - this.failingSince < NO_ANSWER_MS) return true;
    const s = Math.round((now - this.failingSince) / 1000);
    return `publication to Kafka failing for ${s} s, ${this.queue.length} commits waiting`;
  }

  private backoffMs(): number {
    return this.failures === 0 ? 0 : Math.min(5_000, 100 * 2 ** Math.min(this.failures, 6));
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch: Queued[] = [];
      let bytes = 0;
      for (const q of this.queue) {
        if (batch.length >= this.opts.batchSize) break;
        const b = q.unreadable === undefined ? bytesOf(q.commit) : 0;
        if (batch.length > 0 && bytes + b > this.opts.maxBatchBytes) break;
        batch.push(q);
        bytes += b;
      }
      // Later events of a parked case are parked behind it: a case stays in order.
      const blocked = batch.filter((q) => this.parkedCases.has(q.commit.caseId));
      const open = batch.filter((q) => !this.parkedCases.has(q.commit.caseId));
      for (const q of blocked) await this.park(q.commit, behindParked(q));
      let sent: readonly Queued[];
      let failed = false;
      try {
        // A commit that cannot be read is parked in its turn, after what precedes it is sent.
        if (open.some((q) => q.unreadable !== undefined))
          ({ sent, failed } = await this.oneByOne(open));
        else sent = await this.send(open);
      } catch (e) {
        // Refused for one partition, the request may have been appended for
        // others: their sequence numbers are off from now on.
        if (desynced(e) || (poison(e) && open.length > 1))
          await this.renewProducer(
            desynced(e)
              ? `sequence numbers are out of step (${describe(e)})`
              : 'send was refused in part',
          ).catch((c: unknown) => this.opts.onError?.(c));
        if (!poison(e) || open.length === 0) {
          this.noteFailure(e);
          // kafkajs gives a producer up after some broker failures (a
          // restart): it must connect again, or every retry fails the same.
          if (/producer is disconnected/i.test((e as Error).message) && !this.stopped)
            await this.producer.connect().catch((c: unknown) => this.opts.onError?.(c));
          return; // kept in the queue; retried after a backoff
        }
        // Something in the batch can never be published: find it, one commit at a time.
        ({ sent, failed } = await this.oneByOne(open));
      }
      if (!failed) {
        this.failures = 0;
        this.failingSince = 0;
      }
      const done = new Set([...blocked, ...sent]);
      const parkedNow = open.filter((q) => !done.has(q) && this.parkedCases.has(q.commit.caseId));
      for (const q of parkedNow) done.add(q);
      this.queue = this.queue.filter((q) => !done.has(q));
      this.wake();
      this.settle(sent.map((q) => q.commit));
      // A slow store holds the relay back rather than pile up deletes.
      if (this.settling.size >= MAX_SETTLING) await Promise.race(this.settling);
      if (done.size < batch.length) return; // the rest waits for a retry
    }
  }

  /**
   * Removes published commits' outbox entries while the next batch is sent:
   * a delete waited for between two sends held every commit stored meanwhile
   * (p99 19 to 42 ms of the 100 to 200 ms a commit waited for Kafka, at half
   * of intake's load on 2 cores). An entry whose delete is lost is
   * republished by a sweep, as after a crash; `drain` waits for them all.
   */
  private settle(commits: readonly Commit[]): void {
    if (commits.length === 0) return;
    const keys = commits.map(sentKey);
    for (const k of keys) {
      this.unsettled.add(k);
      for (const reading of this.sweepsReading) reading.add(k);
    }
    const done: Promise<void> = this.store
      .published(commits)
      .catch((e: unknown) => this.opts.onError?.(e))
      .finally(() => {
        this.settling.delete(done);
        for (const k of keys) this.unsettled.delete(k);
      });
    this.settling.add(done);
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: this.delivery.createPartitioner,
    });
  }

  /**
   * A producer whose sequence numbers no longer match the broker's is
   * replaced by a new one (a new producer id, its sequences from 0). kafkajs
   * takes back a failed request's sequence numbers for every partition in
   * it, even those the broker appended: after a send refused for one
   * partition (a record batch too large) the others' next sends were out of
   * order, for good, and nothing more was published. What the old one may
   * have appended is sent again: the consumers drop what comes twice.
   */
  private async renewProducer(why: string): Promise<void> {
    const old = this.producer;
    this.producer = this.newProducer();
    this.opts.onError?.(new Error(`relay: a new Kafka producer, the last one's ${why}`));
    await old.disconnect().catch(() => undefined);
    if (!this.stopped) await this.producer.connect();
  }

  private noteFailure(e: unknown): void {
    this.failures++;
    this.failingSince ||= Date.now();
    this.opts.onError?.(e);
  }

  /**
   * Sends commits one at a time, in order, parking each that can never be
   * published (Kafka refuses it, or its stored events cannot be read) and
   * the commits of its case behind it. Stops at a failure that may pass.
   */
  private async oneByOne(open: readonly Queued[]): Promise<{ sent: Queued[]; failed: boolean }> {
    const sent: Queued[] = [];
    for (const q of open) {
      if (this.parkedCases.has(q.commit.caseId)) {
        await this.park(q.commit, behindParked(q));
        continue;
      }
      if (q.unreadable !== undefined) {
        await this.park(q.commit, q.unreadable);
        continue;
      }
      try {
        sent.push(...(await this.send([q])));
      } catch (one) {
        if (!poison(one)) {
          this.noteFailure(one);
          return { sent, failed: true };
        }
        await this.park(q.commit, describe(one));
      }
    }
    return { sent, failed: false };
  }

  /** Publishes commits and their cases' new heads in one request; throws what Kafka answered. */
  private async send(batch: readonly Queued[]): Promise<readonly Queued[]> {
    if (batch.length === 0) return batch;
    const { checkpoints } = this.opts;
    // A head below one already published (a crashed instance's commit that
    // a sweep sends after the versions that followed it) is not published:
    // the topic is compacted to each case's last record, which must stay its
    // highest, or a restarted instance would check the case against less.
    const heads = headsOf(batch.map((q) => q.commit)).filter(
      (h) => (checkpoints.get(h.caseId)?.version ?? 0) < h.version,
    );
    // A create span per commit, a child of the command's span; consumers continue from it.
    const publishes = batch.map((q) =>
      startPublishSpan(this.opts.topic, q.trace, {
        key: q.commit.caseId,
        messages: q.commit.events.length,
      }),
    );
    this.sendingSince = Date.now();
    try {
      // The events and the heads they lead to, in one request. A checkpoint
      // names a version intake has stored (commits are stored before they
      // are queued), so it holds even when its events are refused or retried.
      const topicMessages = [
        {
          topic: this.opts.topic,
          messages: batch.flatMap((q, i) => toMessages(q.commit, publishes[i]?.headers ?? q.trace)),
        },
        { topic: checkpoints.topic, messages: heads.map((h) => checkpoints.message(h)) },
      ];
      // kafkajs may answer a send done while a partition of it went nowhere
      // (DeliveryCheck): that batch is sent again, all of it.
      this.delivery.verify(
        topicMessages,
        await this.producer.sendBatch({ acks: -1, topicMessages }),
      );
    } catch (e) {
      for (const p of publishes) p.span.setStatus({ code: SpanStatusCode.ERROR }).end();
      throw e;
    } finally {
      this.sendingSince = 0;
    }
    for (const p of publishes) p.span.end();
    for (const h of heads) checkpoints.note(h);
    return batch;
  }

  /** Sets a commit aside for good, with an alert: it never blocks the commits behind it. */
  private async park(commit: Commit, reason: string): Promise<void> {
    // Stored before it is held here: a sweep that reads the parked cases
    // must find every case it saw held (recover).
    await this.store.park(commit, reason);
    this.parkedCases.set(commit.caseId, ++this.parkSeq);
    parked().add(1);
    this.opts.onError?.(
      new Error(
        `relay: parked ${commit.caseId} versions ${commit.fromVersion}-${commit.toVersion}: ${reason}`,
      ),
    );
  }

  private async recover(olderThanMs: number): Promise<void> {
    // What is published while the outbox is read, or was and is still being
    // removed from it, is read as still waiting: it is not queued again (it
    // was, and went to the topic a second time, whenever a sweep met a
    // batch's deletes under way). A delete that fails leaves its entry for
    // the next sweep.
    const sentMeanwhile = new Set<string>();
    this.sweepsReading.add(sentMeanwhile);
    try {
      // A case an operator released (store-admin release) has its released
      // commits in the outbox, then leaves the parked commits. Read in that
      // order's reverse: a parked record read before the release removed it
      // holds nothing back once the release's entry for it is read too.
      const since = this.parkSeq;
      const parkedNow = await this.store.parkedCommits();
      const pending = await this.store.pending(olderThanMs);
      const released = new Set(pending.filter((p) => p.released).map((p) => commitKeyOf(p.commit)));
      const stillParked = new Set(
        parkedNow.filter((p) => !released.has(p._id)).map((p) => p.caseId),
      );
      const queued = new Set(this.queue.map((q) => sentKey(q.commit)));
      for (const p of pending) {
        const key = sentKey(p.commit);
        if (queued.has(key) || this.unsettled.has(key) || sentMeanwhile.has(key)) continue;
        // Nothing of an unreadable commit can be published: it is parked in
        // its turn, after the case's earlier commits are sent, and its later
        // ones park behind it.
        this.queue.push({
          seq: ++this.queued,
          commit: p.commit,
          trace: {},
          unreadable: p.unreadable,
        });
      }
      // Freed only now, with its released commits queued ahead of anything
      // new; a case parked again while this read ran stays held.
      for (const [c, seq] of this.parkedCases)
        if (seq <= since && !stillParked.has(c)) this.parkedCases.delete(c);
      if (pending.length > 0) await this.drain();
    } catch (e) {
      this.opts.onError?.(e);
    } finally {
      this.sweepsReading.delete(sentMeanwhile);
    }
  }
}

/** A commit as the relay tells it from others: its case and first version. */
const sentKey = (c: Commit): string => `${c.caseId}:${c.fromVersion}`;
