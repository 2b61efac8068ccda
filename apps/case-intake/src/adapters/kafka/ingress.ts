import type {
  Admin,
  ConfigResourceTypes,
  Consumer,
  EachBatchPayload,
  IHeaders,
  Kafka,
  KafkaMessage,
  Message,
  Producer,
} from 'kafkajs';
import { status } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import type { Verifier } from '@enforcement/auth';
import { DeadlineError, withDeadline } from '@enforcement/errors';
import { requestProblem, requestTypeOf } from '@enforcement/grpc-kit';
import {
  Header,
  headerString,
  heartbeating,
  sendDeadLetter,
  SHARED_GROUP_MEMBERSHIP,
} from '@enforcement/messaging';
import { caseKeysOf, type IntakeDeps } from '../../application/execute-command.js';
import type { IngressLedger, IngressRefusal } from '../../application/ports.js';
import { acknowledge, behindRefused } from '../grpc/submit-events.js';
import { rejection } from '../grpc/rejection.js';
import { FeedProgress, type SubmissionsPartition } from '../../application/feed-progress.js';
import { CaseHolds, type CaseHold } from '../../application/case-holds.js';

export interface IngressTopics {
  readonly submissions: string;
  readonly receipts: string;
  readonly deadLetter: string;
}

export interface IngressOptions {
  readonly groupId: string;
  readonly topics: IngressTopics;
  readonly verify: Verifier;
  readonly onUnexpected: (err: unknown) => void;
  /** Told what an operator should change (a submissions topic that keeps producers' times). */
  readonly warn?: (msg: string) => void;
  /** Submissions of one partition stored at once (of different cases); 64 unless told. */
  readonly maxInFlight?: number;
  /** How long a partition may fail to get past a submission before `health` says so (ms); 60 s unless told. */
  readonly stallMs?: number;
  /** Where each partition's settled prefix is kept for whoever reads the partition next. */
  readonly ledger: IngressLedger;
  /** How often, while a feed stored here may be marked further, the ingress looks again (ms); 500 unless told. */
  readonly markEveryMs?: number;
  /** How long a released hold stays in the ledger after it was last written (ms); 10 minutes unless told. */
  readonly releasedHoldsKeptMs?: number;
}

/** The topic setting under which the broker stamps each message with the time it took it. */
export const APPEND_TIME: { readonly name: string; readonly value: string } = {
  name: 'message.timestamp.type',
  value: 'LogAppendTime',
};

/**
 * kafkajs's ConfigResourceTypes.TOPIC. Node's ESM import of kafkajs does not
 * see that enum (its exports object defeats the named-export detection), so
 * the value is written here.
 */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

class Malformed extends Error {}

/** A submission stored (or found stored before): its feed, and when it happened (ms). */
interface Stored {
  readonly feed: string;
  readonly at: number;
}

/** A submission intake could not store for now (its store is unreachable): read again, in its place. */
class NotNow extends Error {}

/** The ingress's consumer: it heartbeats during a batch too (handleBatch). */
const consumerOf = (kafka: Kafka, groupId: string): Consumer =>
  kafka.consumer({ groupId, ...SHARED_GROUP_MEMBERSHIP });

/** How long the broker has to say where the submissions topic and the group are. */
const OFFSETS_DEADLINE_MS = 10_000;
/** How long a batch's events may take to reach the case-events topic, and its ledger record to be written, before the batch is read again. */
const SETTLE_DEADLINE_MS = 30_000;
/** Receipts in one send to the receipts topic, and their bytes (well under the topic's 1 MB a batch). */
const RECEIPTS_A_SEND = 500;
const RECEIPT_BYTES_A_SEND = 256 * 1024;

const submission = () => {
  const desc = requestTypeOf('/enforcement.intake.v1.CaseIntakeService/SubmitEvents');
  if (!desc) throw new Error('SubmitEventsRequest is not among the contracts');
  return desc;
};

/** Headers that carry credentials, however a producer spells them. */
const CREDENTIAL_HEADERS = /^(authorization|proxy-authorization|cookie|x-api-key|x-auth-token)$/i;

/** Headers a dead-letter copy keeps: at most 32, each value at most 1 KiB. */
function bounded(headers: IHeaders): IHeaders {
  return Object.fromEntries(
    Object.entries(headers)
      .slice(0, 32)
      .map(([k, v]) => [
        k.slice(0, 256),
        Buffer.isBuffer(v) && v.length > 1_024 ? v.subarray(0, 1_024) : v,
      ]),
  );
}

/** The most of a submission's key its receipt and dead-letter copy carry. */
const KEY_BYTES = 1_024;
const cutKey = (key: Buffer | null): Buffer | null =>
  key && key.length > KEY_BYTES ? key.subarray(0, KEY_BYTES) : key;

/** The `authorization` header, spelled in any case (Kafka header names are case-sensitive, HTTP's are not). */
function bearerOf(headers: IHeaders | undefined): string | undefined {
  const name = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === 'authorization');
  return name === undefined ? undefined : headerString(headers, name);
}

/** A copy of the headers without credentials, for anything that leaves the ingress. */
export function withoutCredentials(headers: IHeaders | undefined): IHeaders {
  return Object.fromEntries(
    Object.entries(headers ?? {}).filter(([name]) => !CREDENTIAL_HEADERS.test(name)),
  );
}

/** A submission as JSON (proto3 JSON mapping) or, with a protobuf content type, binary. */
function decode(message: KafkaMessage): intake.SubmitEventsRequest {
  const raw = message.value;
  if (!raw || raw.length === 0) throw new Malformed('empty message');
  const type = headerString(message.headers, Header.contentType) ?? 'application/json';
  let item: intake.SubmitEventsRequest;
  const binary = type.includes('protobuf');
  const problem = binary ? requestProblem(submission(), raw) : undefined;
  if (problem) throw new Malformed(problem);
  try {
    item = binary
      ? intake.SubmitEventsRequest.decode(raw)
      : intake.SubmitEventsRequest.fromJSON(JSON.parse(raw.toString('utf8')));
  } catch (e) {
    throw new Malformed(`cannot decode as ${type}: ${(e as Error).message}`);
  }
  if (!item.command?.kind) throw new Malformed('no command in the submission');
  return item;
}

/** The submission, or why it cannot be decoded. */
function decodeOrWhy(message: KafkaMessage): intake.SubmitEventsRequest | string {
  try {
    return decode(message);
  } catch (e) {
    if (e instanceof Malformed) return e.message;
    return `cannot decode: ${(e as Error).message}`;
  }
}

/**
 * Agencies that publish to Kafka instead of calling gRPC: each submission
 * carries its bearer token in an `authorization` header and gets a receipt
 * (the same acknowledgement SubmitEvents gives) on the receipts topic. A
 * message that cannot be decoded goes to the dead-letter topic with the
 * reason, and the consumer goes on.
 */
export class KafkaIngress {
  private consumer: Consumer;
  private readonly producer: Producer;
  private stopped = false;
  private restarts = 0;
  /** Whether the submissions topic's timestamps are the broker's append times (read at start). */
  private appendTimes = false;
  /** How far each feed is stored from the submissions topic (the floors and marks). */
  private readonly floor = new FeedProgress();
  private admin: Promise<Admin> | undefined;
  private marking: NodeJS.Timeout | undefined;
  /** Group joins so far: a `resume` of an earlier assignment gives up. */
  private joins = 0;
  /** The cases held in the partitions this instance reads (see CaseHolds). */
  private readonly holds = new CaseHolds();
  /**
   * Partition → offset → each submission refused there and not yet
   * committed past, as the ledger records it: read again, it is answered so.
   */
  private readonly refusals = new Map<number, Map<number, IngressRefusal>>();
  /** The partitions of the submissions topic this instance was last given. */
  private assigned: readonly number[] = [];
  /** Forgets released holds while no join comes (see forgetReleased). */
  private forgetting?: NodeJS.Timeout;
  /** Settles once the ledger's holds of the latest assignment are known: no batch runs before. */
  private resumed: Promise<void> = Promise.resolve();
  private readonly maxInFlight: number;
  /** Partition → since when its batches fail, and the last failure. */
  private readonly failing = new Map<number, { since: number; offset: string; why: string }>();

  constructor(
    private readonly kafka: Kafka,
    private readonly deps: IntakeDeps,
    private readonly opts: IngressOptions,
  ) {
    this.consumer = consumerOf(kafka, opts.groupId);
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    this.maxInFlight = opts.maxInFlight ?? 64;
  }

  async start(): Promise<void> {
    // Without the right to read the topic's settings, judged as if it kept producers' times.
    this.appendTimes = await this.stampsAppendTimes().catch((e: unknown) => {
      this.opts.onUnexpected(e);
      return false;
    });
    if (!this.appendTimes)
      this.opts.warn?.(
        `topic ${this.opts.topics.submissions} keeps the producers' times (${APPEND_TIME.name} is not ${APPEND_TIME.value}): each submission's token is judged when intake reads it, so submissions queued while intake was down longer than their tokens' life are refused. Set ${APPEND_TIME.name}=${APPEND_TIME.value} on it (new topics get it)`,
      );
    await this.producer.connect();
    await this.run();
    // An instance that is never given its partitions again would keep their released holds for good.
    const kept = this.opts.releasedHoldsKeptMs ?? 600_000;
    this.forgetting = setInterval(() => void this.forgetAssigned(), Math.max(kept, 1_000));
    this.forgetting.unref();
  }

  /** Whether the broker stamps submissions with the time it appended them (the topic's setting). */
  private async stampsAppendTimes(): Promise<boolean> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        resources: [
          {
            type: TOPIC_RESOURCE,
            name: this.opts.topics.submissions,
            configNames: [APPEND_TIME.name],
          },
        ],
        includeSynonyms: false,
      });
      const entry = resources[0]?.configEntries.find((e) => e.configName === APPEND_TIME.name);
      return entry?.configValue === APPEND_TIME.value;
    } finally {
      await admin.disconnect();
    }
  }

  /** Whether the consumer is consuming (false while a crashed one is being replaced). */
  running = false;

  /**
   * For readiness: true while the consumer runs and no partition has failed
   * to get past a submission for `stallMs`; else what is wrong. kafkajs reads
   * a failed batch again and again, so without this a submission no attempt
   * can pass (its receipt refused by the receipts topic, say) would hold its
   * partition for good while the ingress said it was running.
   */
  health(now = Date.now()): true | string {
    for (const [partition, f] of this.failing)
      if (now - f.since >= (this.opts.stallMs ?? 60_000))
        return `the ingress has not got past offset ${f.offset} of ${this.opts.topics.submissions} partition ${partition} for ${Math.round((now - f.since) / 1000)} s: ${f.why}`;
    return this.running || 'the ingress consumer is not running';
  }

  /** Consumers replaced after kafkajs gave up on them. */
  get restarted(): number {
    return this.restarts;
  }

  private async run(): Promise<void> {
    const consumer = this.consumer;
    // kafkajs restarts a consumer after a retriable crash by itself; after
    // any other it stops for good. Never a live process that consumes
    // nothing: a new consumer takes over after a pause.
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.running = false;
      if (payload.restart || this.stopped) return;
      this.opts.onUnexpected(payload.error);
      setTimeout(() => void this.replace(consumer), 1_000).unref();
    });
    // kafkajs's own restart after a retriable crash joins the group again: running again.
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      // A partition another instance reads now is its to report.
      const mine = new Set(payload.memberAssignment[this.opts.topics.submissions] ?? []);
      for (const p of this.failing.keys()) if (!mine.has(p)) this.failing.delete(p);
      this.floor.forgetOpen();
      this.holds.keepOnly(mine);
      for (const p of this.refusals.keys()) if (!mine.has(p)) this.refusals.delete(p);
      this.assigned = [...mine];
      this.resumed = this.resume([...mine]);
      if (consumer === this.consumer && !this.stopped) this.running = true;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.opts.topics.submissions, fromBeginning: true });
    await consumer.run({ eachBatchAutoResolve: false, eachBatch: (b) => this.handleBatch(b) });
    this.running = true;
  }

  /**
   * A partition's submissions, in order: those of different cases at once
   * (at most `maxInFlight`), each case's one after another (a
   * reconsideration after the case it challenges), as SubmitEvents takes a
   * stream's items. Where the topic and the group are is read once the batch
   * is fetched, so that every submission on another partition that a
   * producer had sent before this batch's is counted as still to read (see
   * FeedProgress). Receipts go out together once their submissions are
   * done, before their offsets are resolved. A submission that cannot be
   * stored now stops the batch: nothing after it of its case runs, nothing
   * new starts, and kafkajs reads again from it (what was stored after it
   * comes again as duplicates).
   */
  private async handleBatch({
    batch,
    resolveOffset,
    heartbeat,
    isRunning,
    isStale,
  }: EachBatchPayload) {
    // The group hears from this member while its submissions wait on the store.
    await heartbeating(heartbeat, () => this.runBatch(batch, resolveOffset, isRunning, isStale));
    await heartbeat();
  }

  private async runBatch(
    batch: EachBatchPayload['batch'],
    resolveOffset: EachBatchPayload['resolveOffset'],
    isRunning: () => boolean,
    isStale: () => boolean,
  ): Promise<void> {
    const partition = batch.partition;
    try {
      await withDeadline(
        this.resumed,
        OFFSETS_DEADLINE_MS,
        `the ingress ledger's record of ${this.opts.topics.submissions} partition ${partition}`,
      );
    } catch (e) {
      this.fail(partition, batch.messages[0]?.offset ?? '?', e);
      throw e;
    }
    const pending = await this.pending();
    const lastOfCase = new Map<string, Promise<boolean>>();
    /** The holds the batch's submissions changed, by offset (recorded with the batch). */
    const held: { offset: number; caseId: string; hold: CaseHold }[] = [];
    const running = new Set<Promise<boolean>>();
    const outcomes: Promise<boolean>[] = [];
    const receipts: Message[] = [];
    /** By place in the batch: the feed and time of what was stored. */
    const stored: (Stored | undefined)[] = [];
    let failure: unknown;
    for (const message of batch.messages) {
      while (running.size >= this.maxInFlight) await Promise.race(running);
      if (failure !== undefined || !isRunning() || isStale()) break;
      const item = decodeOrWhy(message);
      const command = typeof item === 'string' ? undefined : item.command?.kind;
      // The case, and the case a reconsideration challenges, as stored.
      const { caseId, commandId, target } = caseKeysOf(command);
      const at = (command?.value.meta?.occurredAt ?? new Date()).getTime();
      this.floor.received(partition, Number(message.offset), at);
      const before = Promise.all([lastOfCase.get(caseId), target && lastOfCase.get(target)]);
      const place = outcomes.length;
      const offset = Number(message.offset);
      const outcome = before.then(async ([mine, theirs]) => {
        // An earlier submission of the case was not stored: neither is this one, now.
        if (mine === false || theirs === false || failure !== undefined) return false;
        try {
          // Behind a refusal of its case, it is not run without the refused command.
          const holding = this.holds.holding(partition, offset, caseId, target, commandId);
          if (holding && typeof item !== 'string') {
            this.floor.settled(partition, offset);
            const { caseId: held, hold } = holding;
            const where = `in this partition (command ${hold.commandId}, offset ${hold.from})`;
            receipts.push(this.receiptOf(message, behindRefused(item, held, where, 'publish')));
            return true;
          }
          // Refused when first read: answered so again, not decided on what its case has become.
          const key = `${caseId}|${commandId}`;
          const recorded = this.refusals.get(partition)?.get(offset);
          const firstRead = recorded?.key === key ? recorded.receipt : undefined;
          const done =
            firstRead !== undefined && typeof item !== 'string'
              ? this.refusedBefore(message, partition, firstRead)
              : await this.process(message, item, partition, pending);
          if (done.refusal !== undefined && firstRead === undefined) {
            const refusal = { key, receipt: done.refusal };
            const what = `the ingress ledger's record of a refusal at ${this.opts.topics.submissions} partition ${partition} offset ${offset}`;
            // Not answered, nor anything later of its case run, until recorded;
            // health names what the partition waits for.
            await withDeadline(
              this.opts.ledger.refused(partition, offset, refusal),
              SETTLE_DEADLINE_MS,
              what,
            ).catch((e: unknown) => {
              if (e instanceof DeadlineError) throw e;
              throw new Error(
                `${what} was not written: ${e instanceof Error ? e.message : String(e)}`,
                {
                  cause: e,
                },
              );
            });
            const byOffset = this.refusals.get(partition) ?? new Map<number, IngressRefusal>();
            this.refusals.set(partition, byOffset.set(offset, refusal));
          }
          if (done.receipt) receipts.push(done.receipt);
          stored[place] = done.stored;
          if (caseId)
            for (const hold of this.holds.ran(partition, offset, caseId, commandId, done.aborted))
              held.push({ offset, caseId, hold });
          return true;
        } catch (e) {
          failure ??= e;
          return false;
        }
      });
      // Those without a case (undecodable ones among them) go in order too: their dead letters keep the topic's order.
      lastOfCase.set(caseId, outcome);
      outcomes.push(outcome);
      running.add(outcome);
      void outcome.finally(() => running.delete(outcome));
    }
    const done = await Promise.all(outcomes);
    // The offsets of the submissions done with, up to the first that is not,
    // once their receipts are out (none, when the receipts are not).
    let upTo = done.indexOf(false);
    if (upTo === -1) upTo = done.length;
    try {
      await this.record(partition, batch.messages.slice(0, upTo), stored.slice(0, upTo), held);
      await this.sendReceipts(receipts);
    } catch (e) {
      failure ??= e;
      upTo = 0;
    }
    for (const message of batch.messages.slice(0, upTo)) resolveOffset(message.offset);
    // kafkajs reads again from the first offset not resolved: no later read meets a hold released before it.
    const resolved = batch.messages[upTo - 1];
    if (resolved) {
      const next = Number(resolved.offset) + 1;
      this.holds.prune(partition, next);
      for (const offset of this.refusals.get(partition)?.keys() ?? [])
        if (offset < next) this.refusals.get(partition)?.delete(offset);
    }
    this.markSoon();
    if (failure === undefined) {
      this.failing.delete(partition);
      return;
    }
    this.fail(partition, batch.messages[upTo]?.offset ?? '?', failure);
    throw failure;
  }

  /** The partition cannot get past `offset` now, for readiness (`health`). */
  private fail(partition: number, offset: string, failure: unknown): void {
    const why = failure instanceof Error ? failure.message : String(failure);
    const before = this.failing.get(partition);
    this.failing.set(partition, {
      since: before?.offset === offset ? before.since : Date.now(),
      offset,
      why,
    });
  }

  /**
   * Raises the partition's record in the ledger by the batch's submissions
   * up to the first not done with, once the events they stored are on the
   * case-events topic (this instance's relay has sent what it queued): an
   * instance that reads the partition after this one, which may have died
   * before its marks went, marks those feeds (see `resume`), and holds the
   * cases they left held. Before the offsets are resolved and the receipts
   * sent, so that a committed offset is always covered and no sender hears
   * of a refusal whose hold could be lost.
   */
  private async record(
    partition: number,
    settled: readonly KafkaMessage[],
    stored: readonly (Stored | undefined)[],
    held: readonly { offset: number; caseId: string; hold: CaseHold }[],
  ): Promise<void> {
    const feeds = new Map<string, number>();
    for (const s of stored)
      if (s && s.at > (feeds.get(s.feed) ?? -Infinity)) feeds.set(s.feed, s.at);
    const last = settled.at(-1);
    if (!last) return;
    const offset = Number(last.offset) + 1;
    // A submission not settled is read again, and changes its case's hold again.
    const holds = new Map<string, CaseHold[]>();
    for (const h of held)
      if (h.offset < offset) holds.set(h.caseId, [...(holds.get(h.caseId) ?? []), h.hold]);
    if (feeds.size === 0 && holds.size === 0) return;
    await withDeadline(
      this.deps.publisher
        .published()
        .then(() => this.opts.ledger.raise(partition, { offset, feeds, holds })),
      SETTLE_DEADLINE_MS,
      `the events of ${this.opts.topics.submissions} partition ${partition}'s batch on Kafka, and its ledger record`,
    );
  }

  /**
   * What the ledger says was settled on the partitions this instance now
   * reads (by an instance gone, or this one before it joined again): their
   * feeds are this instance's to mark, and their held cases its to hold.
   * Tried again every 2 s while the ledger or the broker does not answer
   * and the assignment stands; settles once done, or once another join
   * makes it moot.
   */
  private async resume(partitions: readonly number[], join = ++this.joins): Promise<void> {
    while (partitions.length > 0 && !this.stopped && join === this.joins) {
      try {
        const [records, ends] = await Promise.all([
          withDeadline(
            this.opts.ledger.load(partitions),
            OFFSETS_DEADLINE_MS,
            'the ingress ledger',
          ),
          this.ends(),
        ]);
        if (join !== this.joins) return;
        const byPartition = new Map(ends.map((e) => [e.partition, e]));
        for (const p of partitions) {
          const r = records.get(p);
          const end = byPartition.get(p);
          // A record past the partition's end was left by an earlier topic of that name.
          const current = r !== undefined && r.offset <= (end?.high ?? Infinity) ? r : undefined;
          if (current) this.floor.resume(p, current.feeds);
          this.holds.load(p, current?.holds ?? new Map());
          this.holds.prune(p, end?.committed ?? 0);
          // Those committed past are read no more; those past the end were left by an earlier topic of that name.
          const [from, to] = [end?.committed ?? 0, end?.high ?? Infinity];
          this.refusals.set(
            p,
            new Map(
              [...(current?.refusals ?? [])].filter(([offset]) => offset >= from && offset < to),
            ),
          );
        }
        this.markSoon();
        this.forgetReleased(
          new Map(
            partitions.flatMap((p) => {
              const committed = byPartition.get(p)?.committed ?? -1;
              return committed > 0 ? [[p, committed]] : [];
            }),
          ),
        );
        return;
      } catch (e) {
        this.opts.onUnexpected(e);
        await new Promise((r) => setTimeout(r, 2_000).unref());
      }
    }
  }

  /**
   * Deletes the ledger's holds released before the partitions' committed
   * offsets and untouched for `releasedHoldsKeptMs` (10 minutes: far longer
   * than an instance that lost its partition can still be writing its last
   * batch, whose writes have deadlines of seconds), without holding up
   * the batches: the ledger would otherwise keep a document for every case
   * ever held, and read them all at each join. Called at each join and
   * every `releasedHoldsKeptMs` between. A failure is logged; the next call
   * tries again.
   */
  private forgetReleased(committed: ReadonlyMap<number, number>): void {
    if (committed.size === 0) return;
    void withDeadline(
      this.opts.ledger.forget(committed, Date.now() - (this.opts.releasedHoldsKeptMs ?? 600_000)),
      OFFSETS_DEADLINE_MS,
      'forgetting the ledger’s released holds',
    ).catch((e: unknown) => {
      if (!this.stopped) this.opts.onUnexpected(e);
    });
  }

  /** Forgets the released holds of the partitions this instance reads, up to their committed offsets now. */
  private async forgetAssigned(): Promise<void> {
    const mine = new Set(this.assigned);
    if (this.stopped || mine.size === 0) return;
    try {
      const ends = await this.ends();
      this.forgetReleased(
        new Map(
          ends.flatMap((e) =>
            mine.has(e.partition) && e.committed > 0 ? [[e.partition, e.committed]] : [],
          ),
        ),
      );
    } catch (e) {
      if (!this.stopped) this.opts.onUnexpected(e);
    }
  }

  /** A submission's receipt, keyed as it was submitted. */
  private receiptOf(message: KafkaMessage, receipt: intake.SubmitEventsResponse): Message {
    // Keyed as submitted, but a key longer than KEY_BYTES is cut (its length
    // in `key-truncated`): keyed whole, a submission whose key filled the
    // topic's limit had a receipt larger than the topic takes, and its batch
    // was read again for good.
    const key = cutKey(message.key);
    return {
      key: key ?? receipt.caseId,
      value: JSON.stringify(intake.SubmitEventsResponse.toJSON(receipt)),
      headers: {
        [Header.contentType]: 'application/json',
        'submission-offset': message.offset,
        ...(key !== message.key ? { 'key-truncated': String(message.key?.length ?? 0) } : {}),
      },
    };
  }

  /** The receipts, in sends of at most RECEIPTS_A_SEND receipts and RECEIPT_BYTES_A_SEND bytes. */
  private async sendReceipts(receipts: readonly Message[]): Promise<void> {
    let send: Message[] = [];
    let bytes = 0;
    const flush = async () => {
      if (send.length === 0) return;
      await this.producer.send({ topic: this.opts.topics.receipts, acks: -1, messages: send });
      send = [];
      bytes = 0;
    };
    for (const r of receipts) {
      const size = (r.key?.length ?? 0) + String(r.value).length + 64;
      if (send.length >= RECEIPTS_A_SEND || bytes + size > RECEIPT_BYTES_A_SEND) await flush();
      send.push(r);
      bytes += size;
    }
    await flush();
  }

  /** Partitions of the submissions topic with something still to read; every one of them when the broker does not say. */
  private async pending(): Promise<Set<number> | undefined> {
    try {
      return this.floor.pending(await this.ends());
    } catch (e) {
      this.opts.onUnexpected(e);
      return undefined;
    }
  }

  private async ends(): Promise<SubmissionsPartition[]> {
    const topic = this.opts.topics.submissions;
    this.admin ??= (async () => {
      const admin = this.kafka.admin();
      await admin.connect();
      return admin;
    })();
    const admin = this.admin;
    try {
      const [highs, committed] = await withDeadline(
        admin.then((a) =>
          Promise.all([
            a.fetchTopicOffsets(topic),
            a.fetchOffsets({ groupId: this.opts.groupId, topics: [topic] }),
          ]),
        ),
        OFFSETS_DEADLINE_MS,
        `the offsets of ${topic}`,
      );
      const done = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      return highs.map((h) => ({
        partition: h.partition,
        high: Number(h.high),
        low: Number(h.low),
        committed: done.get(h.partition) ?? -1,
      }));
    } catch (e) {
      // A broker that did not answer may have dropped the connection: start afresh next time.
      if (this.admin === admin) this.admin = undefined;
      void admin.then((a) => a.disconnect()).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Shortly, publishes how far each feed stored here is stored, where that
   * moved, and looks again while some feed may move further (the partitions
   * another instance reads, or this one's commits, catching up).
   */
  private markSoon(): void {
    if (this.marking || this.stopped || !this.floor.unsaid) return;
    this.marking = setTimeout(() => {
      void this.pending().then((pending) => {
        this.marking = undefined;
        const marks = pending ? this.floor.marks(pending) : [];
        if (marks.length > 0) this.deps.publisher.mark(marks);
        this.markSoon();
      });
    }, this.opts.markEveryMs ?? 500);
    this.marking.unref();
  }

  private async replace(crashed: Consumer): Promise<void> {
    if (this.stopped || crashed !== this.consumer) return;
    await crashed.disconnect().catch(() => undefined);
    this.consumer = consumerOf(this.kafka, this.opts.groupId);
    this.restarts++;
    await this.run().catch((e: unknown) => {
      this.opts.onUnexpected(e);
      setTimeout(() => void this.replace(this.consumer), 5_000).unref();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    clearTimeout(this.marking);
    clearInterval(this.forgetting);
    await this.consumer.disconnect();
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
    await this.producer.disconnect();
  }

  /**
   * One submission: stored (or refused) and its receipt made, or sent to the
   * dead-letter topic when it cannot be decoded (no receipt).
   */
  private async process(
    message: KafkaMessage,
    item: intake.SubmitEventsRequest | string,
    partition: number,
    pending: Set<number> | undefined,
  ): Promise<{ receipt?: Message; stored?: Stored; aborted: boolean; refusal?: string }> {
    const offset = Number(message.offset);
    if (typeof item === 'string') {
      await this.deadLetter(message, item);
      this.floor.settled(partition, offset);
      return { aborted: false };
    }
    let receipt: intake.SubmitEventsResponse;
    let stored: Stored | undefined;
    const at = (item.command?.kind?.value.meta?.occurredAt ?? new Date()).getTime();
    try {
      // Judged as of when the broker took it, where the topic says so (a
      // time producers cannot set): a backlog queued while intake was down
      // is not refused for having waited.
      const queuedAt = this.appendTimes ? new Date(Number(message.timestamp)) : undefined;
      const principal = await this.opts.verify(bearerOf(message.headers), queuedAt);
      receipt = await acknowledge(
        this.deps,
        principal,
        item,
        this.opts.onUnexpected,
        // Without the topic's offsets, every other partition may hold the feed.
        (occurredAt, feed) =>
          new Date(
            Math.max(
              0,
              pending
                ? this.floor.floorOf(partition, offset, occurredAt.getTime(), feed, pending)
                : -Infinity,
            ),
          ),
        (feed) => (stored = { feed, at }),
      );
    } catch (e) {
      const caseId = item.command?.kind?.value.meta?.caseId ?? '';
      receipt = {
        sequence: item.sequence,
        caseId,
        version: 0,
        duplicate: false,
        index: 0,
        ...rejection(e, this.opts.onUnexpected),
      };
    }
    // Not stored for now (the store, or the token's issuer, unreachable): no
    // receipt; kafkajs reads it again, in its place, so nothing after it of
    // its case is stored before it and no sender has to send it again. It
    // stays open in the floor until it is read again.
    if (receipt.statusCode === status.UNAVAILABLE)
      throw new NotNow(`the submission at offset ${offset}: ${receipt.reason}`);
    this.floor.settled(partition, offset, stored);
    return {
      receipt: this.receiptOf(message, receipt),
      stored,
      aborted: receipt.statusCode === status.ABORTED,
      refusal: receipt.accepted
        ? undefined
        : JSON.stringify(intake.SubmitEventsResponse.toJSON(receipt)),
    };
  }

  /** A submission refused when it was first read, answered as it was then. */
  private refusedBefore(
    message: KafkaMessage,
    partition: number,
    recorded: string,
  ): { receipt: Message; aborted: boolean; refusal: string; stored?: undefined } {
    const receipt = intake.SubmitEventsResponse.fromJSON(JSON.parse(recorded));
    this.floor.settled(partition, Number(message.offset));
    return {
      receipt: this.receiptOf(message, receipt),
      aborted: receipt.statusCode === status.ABORTED,
      refusal: recorded,
    };
  }

  /**
   * A copy of what could not be taken, for whoever sent it: credentials
   * removed, the value cut to DEAD_LETTER_VALUE_BYTES (a submission can be as
   * large as the topic allows, and its copy carries more headers), its
   * original size recorded; without its value when the topic refuses even
   * that, and logged when it refuses the headers too.
   */
  private async deadLetter(message: KafkaMessage, reason: string): Promise<void> {
    const key = cutKey(message.key);
    const headers: IHeaders = {
      ...bounded(withoutCredentials(message.headers)),
      [Header.error]: reason.slice(0, 1_000),
      'submission-offset': message.offset,
    };
    const onUnexpected = (e: unknown) => this.opts.onUnexpected(e);
    try {
      await sendDeadLetter(
        this.producer,
        this.opts.topics.deadLetter,
        { key, value: message.value, headers },
        onUnexpected,
      );
    } catch (e) {
      if ((e as { retriable?: boolean }).retriable !== false) throw e; // retried with the message
      onUnexpected(e);
    }
  }
}
