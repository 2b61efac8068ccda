import { Binary, type Collection, type Db } from 'mongodb';
import { ConfigError } from '@enforcement/config';
import { events } from '@enforcement/contracts';
import {
  BatchedLookup,
  bulkFailures,
  ignoreDuplicates,
  PartitionedCollection,
} from '@enforcement/mongo-kit';
import {
  VersionConflict,
  type CaseEvent,
  type Commit,
  type EventStore,
  type LoadedStream,
  type UnreadableCommit,
  UnreadableCommitError,
} from '../../application/ports.js';
import { PositionAllocator } from './positions.js';

/** One command's events: the unit of atomic write. `_id` = case id + first version. */
export interface CommitDoc {
  _id: string;
  caseId: string;
  commandId: string;
  /** Absent on commits stored before commands were fingerprinted. */
  fingerprint?: string;
  fromVersion: number;
  toVersion: number;
  /** Global position of the first event; the others follow it. */
  position: number;
  lastPosition: number;
  recordedAt: Date;
  /** The events: an encoded `CaseEventList` (commits stored since commit format 2). */
  body?: Binary;
  /** The events as JSON, one document each: commits stored before commit format 2. */
  events?: unknown[];
}

/**
 * How commits store their events: 1, as JSON documents (`events`); 2, as
 * the bytes of one `CaseEventList` (`body`). A store records the highest
 * format written to it; this version reads both and writes 2.
 */
export const COMMIT_FORMAT = 2;

/** A commit's events as stored: one binary value, so the database converts no event field. */
export const bodyOf = (evs: readonly CaseEvent[]): Binary =>
  new Binary(events.CaseEventList.encode({ events: [...evs] }).finish());

/** The events of a stored commit, in either format. */
export const eventsOf = (doc: Pick<CommitDoc, 'body' | 'events'>): CaseEvent[] =>
  doc.body
    ? events.CaseEventList.decode(doc.body.buffer).events
    : (doc.events ?? []).map((e) => events.CaseEvent.fromJSON(e));

/** One stored commit not yet known to be on Kafka. */
export interface OutboxEntry {
  commitId: string;
  commandId: string;
  caseId: string;
  position: number;
}

/**
 * The commits of one group commit that may not be on Kafka yet: one document
 * per group, written before its commits and removed once every one of them
 * is published (or parked, or lost its race). Documents written before
 * groups hold one entry's fields at the top level instead of `commits`.
 */
export interface OutboxDoc extends Partial<OutboxEntry> {
  _id: string;
  commits?: OutboxEntry[];
  createdAt: Date;
}

/** A commit Kafka refused for good: kept apart until an operator releases it. */
interface ParkedDoc {
  _id: string;
  caseId: string;
  fromVersion: number;
  toVersion: number;
  commandId: string;
  reason: string;
  parkedAt: Date;
}

/** One commit in the global position index, keyed by its first position. */
export interface LogEntry {
  _id: number;
  last: number;
  caseId: string;
  commitId: string;
  commandId: string;
}

/**
 * A document of the global position index, keyed by its first position:
 * the entries of one group commit within one position block, as JSON in
 * `entries` (a string, cheap for FerretDB to store and return), or, as
 * stores written before groups and rebuilt indexes hold them, one commit's
 * entry in its own fields. ReadAll reads the index by ranges of `_id` (an
 * index range on MongoDB and, with the project's FerretDB patch, on
 * FerretDB too), then fetches the commits it names by their own `_id`.
 */
export interface LogDoc extends Partial<Omit<LogEntry, '_id'>> {
  _id: number;
  last: number;
  entries?: string;
}

const logEntriesOf = (d: LogDoc): LogEntry[] => {
  if (d.entries !== undefined) return JSON.parse(d.entries) as LogEntry[];
  const { caseId, commitId, commandId } = d;
  return caseId && commitId && commandId
    ? [{ _id: d._id, last: d.last, caseId, commitId, commandId }]
    : [];
};

export interface PendingCommit {
  readonly outboxId: string;
  readonly commit: Commit;
  /** Why the commit's stored events cannot be read (then `commit` holds none): the relay parks it. */
  readonly unreadable?: string;
  /** Named by an operator's release (store-admin release): its parked record, if still there, holds nothing back. */
  readonly released?: true;
}

const entriesOf = (d: OutboxDoc): OutboxEntry[] =>
  d.commits ??
  (d.commitId && d.commandId && d.caseId && d.position !== undefined
    ? [{ commitId: d.commitId, commandId: d.commandId, caseId: d.caseId, position: d.position }]
    : []);

interface QueuedAppend {
  readonly commit: Commit;
  readonly resolve: (stored: Commit) => void;
  readonly reject: (err: unknown) => void;
}

/** Bucket queries one ReadAll window runs at once: the cursors it may hold. */
const READ_ALL_FETCHES = 4;

export const logEntryOf = (
  d: Pick<CommitDoc, '_id' | 'caseId' | 'commandId' | 'position' | 'lastPosition'>,
): LogEntry => ({
  _id: d.position,
  last: d.lastPosition,
  caseId: d.caseId,
  commitId: d._id,
  commandId: d.commandId,
});

/**
 * A group commit's position-index documents: one per position block its
 * commits fall in (a commit never spans blocks), so that no document spans
 * more than a block and ReadAll finds one that starts before its position
 * within a block's width.
 */
export function logDocsOf(entries: readonly LogEntry[], positionBlock: number): LogDoc[] {
  const byBlock = new Map<number, LogEntry[]>();
  for (const e of [...entries].sort((a, b) => a._id - b._id)) {
    const block = Math.floor((e._id - 1) / positionBlock);
    const list = byBlock.get(block);
    if (list) list.push(e);
    else byBlock.set(block, [e]);
  }
  return [...byBlock.values()].map((list) => ({
    _id: list[0]?._id ?? 0,
    last: Math.max(...list.map((e) => e.last)),
    entries: JSON.stringify(list),
  }));
}

/** Most commits written in one group. */
const APPEND_GROUP = 500;

/**
 * How a group that follows another gathers before it is written: while
 * commits keep arriving, it looks again every GATHER_STEP_MS, and is written
 * once a step brings none, or GATHER_MAX_MS after it began, or at
 * APPEND_GROUP. Without it, a stream whose cases advance in step (each
 * command waits for its case's last one to be stored) splits into many small
 * groups: 20 commits a write at about 1,500 commands/s in `npm run bench`.
 */
export const GATHER_STEP_MS = 2;
export const GATHER_MAX_MS = 20;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Versions past the known one that a case's first read asks for. */
const LOAD_WINDOW = 16;

/** How a release's outbox document is named: the relay frees its case when it reads one. */
const RELEASE = 'release:';
/** An operator's republication of a case's history (store-admin republish). */
const REPUBLISH = 'republish:';

const commitIdOf = (caseId: string, fromVersion: number) => `${caseId}:${fromVersion}`;
/** A commit and the command that wrote it: what the outbox waits for and a parked record's `_id`. */
const keyOf = (commitId: string, commandId: string) => `${commitId}:${commandId}`;
export const commitKeyOf = (c: Pick<Commit, 'caseId' | 'fromVersion' | 'commandId'>) =>
  keyOf(commitIdOf(c.caseId, c.fromVersion), c.commandId);

const entryOf = (
  doc: Pick<CommitDoc, '_id' | 'commandId' | 'caseId' | 'position'>,
): OutboxEntry => ({
  commitId: doc._id,
  commandId: doc.commandId,
  caseId: doc.caseId,
  position: doc.position,
});

/** Stored commits' outbox document, dated `createdAt`: the relay publishes them (again). */
export const outboxDocOf = (docs: readonly CommitDoc[], createdAt: Date): OutboxDoc => ({
  _id: `p${docs[0]?.position ?? 0}`,
  commits: docs.map(entryOf),
  createdAt,
});

/** What a commit's record says about it, whatever its events hold. */
const headerOf = (doc: CommitDoc): Omit<Commit, 'events'> => ({
  caseId: doc.caseId,
  commandId: doc.commandId,
  fingerprint: doc.fingerprint ?? '',
  fromVersion: doc.fromVersion,
  toVersion: doc.toVersion,
});

/**
 * A stored commit as intake wrote it, or why it cannot be: its bytes (or
 * JSON events) do not decode, they hold another number of events than its
 * versions say, or events of another command than its record names. Each
 * is a broken history, never an internal error.
 */
function readCommit(doc: CommitDoc): Commit | UnreadableCommit {
  const unreadable = (problem: string): UnreadableCommit => ({
    caseId: doc.caseId,
    version: doc.fromVersion,
    position: doc.position,
    problem,
  });
  let evs: CaseEvent[];
  try {
    evs = eventsOf(doc);
  } catch (e) {
    return unreadable(
      `the stored events of version ${doc.fromVersion} do not decode: ${(e as Error).message}`,
    );
  }
  const count = doc.toVersion - doc.fromVersion + 1;
  if (evs.length !== count)
    return unreadable(
      `the commit of versions ${doc.fromVersion}-${doc.toVersion} holds ${evs.length} events, not ${count}`,
    );
  // The command is on every event, under its hash; the record's copy is what idempotency reads.
  const other = evs.find((e) => e.commandId !== doc.commandId);
  if (other)
    return unreadable(
      `the commit of versions ${doc.fromVersion}-${doc.toVersion} is recorded for command ${doc.commandId}, but version ${other.version} is an event of command ${other.commandId}`,
    );
  return { ...headerOf(doc), events: evs };
}

const isUnreadable = (c: Commit | UnreadableCommit): c is UnreadableCommit => 'problem' in c;

/**
 * Commit buckets of a new store when EVENT_STORE_BUCKETS does not say: one,
 * since every read of a commit is by `_id` (an index lookup) and a group
 * commit writes one `insertMany` per bucket it touches: with one, a group
 * commit is one write. Against 8 (one run after the other, docs/performance.md):
 * intake 1,483 and 1,682 events/s through one stream against 923 and 1,235.
 */
export const NEW_STORE_BUCKETS = 1;

/** A store older than the layout record: its count read off its commit collections' names. */
async function inferredBuckets(db: Db): Promise<number | undefined> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  const numbered = names.filter((n) => /^commits_\d+$/.test(n));
  if (numbered.length > 0)
    return Math.max(...numbered.map((n) => Number(n.slice('commits_'.length)))) + 1;
  return names.includes('commits') ? 1 : undefined;
}

/**
 * The bucket count a store keeps (recorded, or for a store older than the
 * record inferred from its collections), or NEW_STORE_BUCKETS for a new one:
 * what intake uses when EVENT_STORE_BUCKETS is unset.
 */
export async function storeBuckets(db: Db): Promise<number> {
  return (await recordedBuckets(db)) ?? (await inferredBuckets(db)) ?? NEW_STORE_BUCKETS;
}

/** The bucket count a store records (EventStore.init), if any: none, it is no event store yet. */
export async function recordedBuckets(db: Db): Promise<number | undefined> {
  const layout = await db
    .collection<{ _id: string; buckets?: number }>('store_meta')
    .findOne({ _id: 'layout' });
  return layout?.buckets;
}

/** A case's stream from its commit documents, in any order. */
function streamOf(caseId: string, docs: CommitDoc[]): LoadedStream {
  docs.sort((a, b) => a.fromVersion - b.fromVersion);
  const version = docs.at(-1)?.toVersion ?? 0;
  const commits: Commit[] = [];
  for (const doc of docs) {
    const c = readCommit(doc);
    if (isUnreadable(c))
      return { caseId, version, events: commits.flatMap((k) => k.events), commits, unreadable: c };
    commits.push(c);
  }
  return { caseId, version, events: commits.flatMap((c) => c.events), commits };
}

/**
 * Which of this process's outbox documents still wait for which commits
 * (keyed by case, version and command). A document is forgotten when its
 * last commit settles; one whose commits never reach the relay (their write
 * failed) is taken up again by the sweep, which reads it afresh.
 */
class Unpublished {
  private readonly waiting = new Map<string, Set<string>>();
  private readonly docOf = new Map<string, string>();

  open(outboxId: string, keys: readonly string[]): void {
    const previous = this.waiting.get(outboxId);
    for (const k of previous ?? []) this.docOf.delete(k);
    this.waiting.set(outboxId, new Set(keys));
    for (const k of keys) this.docOf.set(k, outboxId);
  }

  forget(outboxId: string): void {
    for (const k of this.waiting.get(outboxId) ?? []) this.docOf.delete(k);
    this.waiting.delete(outboxId);
  }

  left(outboxId: string): ReadonlySet<string> | undefined {
    return this.waiting.get(outboxId);
  }

  /** Marks commits settled; returns the documents left with none. */
  settle(keys: readonly string[]): string[] {
    const emptied: string[] = [];
    for (const k of keys) {
      const id = this.docOf.get(k);
      if (id === undefined) continue;
      this.docOf.delete(k);
      const left = this.waiting.get(id);
      left?.delete(k);
      if (left?.size === 0) {
        this.waiting.delete(id);
        emptied.push(id);
      }
    }
    return emptied;
  }
}

/**
 * The event store on MongoDB (or FerretDB), using only single-document
 * atomicity. A commit document holds one command's events; its `_id` (case id
 * and first version) is the optimistic concurrency check: two writers of the
 * same version collide on it and one gets VersionConflict. Commits are
 * partitioned by case id (see PartitionedCollection). The outbox entry is
 * written before the commit, so a crash between storing and publishing leaves
 * a trace the relay finds on restart; entries whose commit never landed are
 * dropped.
 */
export class MongoEventStore implements EventStore {
  readonly commits: PartitionedCollection<CommitDoc>;
  readonly outbox: Collection<OutboxDoc>;
  readonly parked: Collection<ParkedDoc>;
  readonly log: Collection<LogDoc>;
  private readonly meta: Collection<{
    _id: string;
    at: Date;
    buckets?: number;
    commitFormat?: number;
  }>;
  private readonly positionBlock: number;
  private readonly positions: PositionAllocator;
  private readonly unpublished = new Unpublished();
  /** Whether a case has any commit: its first commit, looked up in batches by `_id`. */
  private readonly started = new BatchedLookup<boolean>(async (caseIds) => {
    const found = new Set<string>();
    await Promise.all(
      [...this.commits.group(caseIds, (id) => id)].map(async ([b, ids]) => {
        const docs = await this.commits
          .at(b)
          .find({ _id: { $in: ids.map((id) => commitIdOf(id, 1)) } }, { projection: { caseId: 1 } })
          .toArray();
        for (const d of docs) found.add(d.caseId);
      }),
    );
    return new Map(caseIds.map((id) => [id, found.has(id)]));
  });

  /** How a following group gathers (a test may take the steps itself). */
  private readonly gathering: { step: (ms: number) => Promise<void>; maxMs: number };

  constructor(
    private readonly db: Db,
    opts: {
      buckets: number;
      positionBlock: number;
      gather?: { step?: (ms: number) => Promise<void>; maxMs?: number };
    },
  ) {
    this.gathering = {
      step: opts.gather?.step ?? sleep,
      maxMs: opts.gather?.maxMs ?? GATHER_MAX_MS,
    };
    this.commits = new PartitionedCollection<CommitDoc>(db, 'commits', opts.buckets);
    this.outbox = db.collection<OutboxDoc>('outbox');
    this.parked = db.collection<ParkedDoc>('parked_commits');
    this.log = db.collection<LogDoc>('position_log');
    this.meta = db.collection('store_meta');
    this.positionBlock = opts.positionBlock;
    this.positions = new PositionAllocator(db.collection('position_blocks'), opts.positionBlock);
  }

  async init(): Promise<void> {
    await this.checkLayout();
    // Creating collections up front keeps the first writes from racing to create them.
    await this.commits.createIndex({ caseId: 1 });
    await this.outbox.createIndex({ createdAt: 1 });
    await this.indexPositions();
  }

  /**
   * A case's commits are found in the bucket a hash of its id names, so a
   * store must always be read with the bucket count it was written with:
   * read with another, every case looks new, and a command would start a
   * second history beside the stored one. The count is recorded when the
   * store is first used (for a store older than the record, inferred from
   * its commit collections), and a start with another is refused, naming
   * the variable and both counts.
   */
  private async checkLayout(): Promise<void> {
    const recorded = await this.meta.findOne({ _id: 'layout' });
    let buckets = recorded?.buckets;
    if (buckets === undefined) {
      await this.meta.updateOne(
        { _id: 'layout' },
        {
          $setOnInsert: {
            buckets: (await inferredBuckets(this.db)) ?? this.commits.buckets,
            at: new Date(),
          },
        },
        { upsert: true },
      );
      buckets = (await this.meta.findOne({ _id: 'layout' }))?.buckets;
    }
    if (buckets !== this.commits.buckets)
      throw new ConfigError([
        `EVENT_STORE_BUCKETS is ${this.commits.buckets}, but this event store keeps its commits in ${buckets} bucket${buckets === 1 ? '' : 's'}; start with EVENT_STORE_BUCKETS=${buckets} (or unset: a store's own count is the default), or restore a backup into a new database with another count (npm run store -- restore --buckets N)`,
      ]);
    await this.checkCommitFormat(recorded?.commitFormat);
  }

  /**
   * A version that wrote a later commit format has been here: its commits
   * would not read, so this one refuses to start rather than fail case by
   * case. Otherwise the store records that format-2 commits may be in it
   * from now on (docs/operations.md, "Upgrading intake to commit format 2").
   */
  private async checkCommitFormat(recorded = 1): Promise<void> {
    if (recorded > COMMIT_FORMAT)
      throw new ConfigError([
        `this event store holds commits in format ${recorded}, and this version of case-intake reads formats up to ${COMMIT_FORMAT}: run the version that wrote them, or a later one`,
      ]);
    if (recorded < COMMIT_FORMAT)
      await this.meta.updateOne(
        { _id: 'layout' },
        { $max: { commitFormat: COMMIT_FORMAT }, $setOnInsert: { at: new Date() } },
        { upsert: true },
      );
  }

  /**
   * Gives commits stored before the position index existed their entries,
   * once per store: each bucket read with a projection, entries inserted
   * idempotently, then a mark. Instances doing it at once insert the same
   * entries; new commits write their own.
   */
  private async indexPositions(): Promise<void> {
    if (await this.meta.findOne({ _id: 'position_log' })) return;
    for (const bucket of this.commits.all()) {
      const docs = await bucket
        .find({}, { projection: { caseId: 1, commandId: 1, position: 1, lastPosition: 1 } })
        .toArray();
      if (docs.length === 0) continue;
      await this.log
        .insertMany(
          docs.map((d) => logEntryOf(d)),
          { ordered: false },
        )
        .catch(ignoreDuplicates);
    }
    await this.meta.updateOne(
      { _id: 'position_log' },
      { $set: { at: new Date() } },
      { upsert: true },
    );
  }

  /**
   * A case's commits, read by `_id` (case id and first version) a window of
   * versions at a time: `_id: { $in }` is an index lookup on MongoDB and on
   * FerretDB, where a query by case id scans the bucket. `knownVersion` (the
   * case's checkpoint) sizes the first window, so one query reads a case
   * whose checkpoint is current; while the commits found run to a window's
   * end, the next window follows them.
   */
  async load(caseId: string, knownVersion = 0): Promise<LoadedStream> {
    // Without a checkpoint most loads are of new cases: whether the case has
    // a first commit is looked up in batches shared by concurrent loads.
    if (knownVersion <= 0 && !(await this.started.get(caseId)))
      return { caseId, version: 0, events: [], commits: [] };
    return streamOf(caseId, await this.commitDocs(caseId, knownVersion));
  }

  /** A case's commit documents, read by `_id` a window of versions at a time (see `load`). */
  private async commitDocs(caseId: string, knownVersion: number): Promise<CommitDoc[]> {
    const docs: CommitDoc[] = [];
    let from = 1;
    let to = knownVersion + LOAD_WINDOW;
    for (;;) {
      const ids = Array.from({ length: to - from + 1 }, (_, i) => commitIdOf(caseId, from + i));
      docs.push(
        ...(await this.commits
          .for(caseId)
          .find({ _id: { $in: ids } })
          .toArray()),
      );
      const end = docs.reduce((max, d) => Math.max(max, d.toVersion), 0);
      if (end < to) break;
      from = to + 1;
      to = end + LOAD_WINDOW;
    }
    return docs;
  }

  /**
   * Stores one command's events. Commits that arrive while a write is under
   * way, or while the group after it gathers (GATHER_STEP_MS), are written
   * together (group commit): one `insertMany` for their
   * outbox entries, one per bucket for the commits. Each commit stays one
   * document, so each is still atomic and still collides alone on its `_id`.
   */
  append(commit: Commit): Promise<Commit> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private queue: QueuedAppend[] = [];
  private writing = false;

  private async drain(): Promise<void> {
    // A group that follows another gathers: commits arrived while it was
    // written, so more are on their way. The first after a pause goes at once
    // (a lone command, or commands sent one after another, waits for nothing).
    for (let first = true; this.queue.length > 0; first = false) {
      if (!first) await this.gather();
      const group = this.queue.splice(0, APPEND_GROUP);
      await this.writeGroup(group).catch((e: unknown) => {
        for (const q of group) q.reject(e);
      });
    }
    this.writing = false;
  }

  /** Waits while commits keep arriving, within the bounds GATHER_STEP_MS names. */
  private async gather(): Promise<void> {
    const until = performance.now() + this.gathering.maxMs;
    for (let seen = -1; seen !== this.queue.length;) {
      const left = until - performance.now();
      if (this.queue.length >= APPEND_GROUP || left <= 0) return;
      seen = this.queue.length;
      await this.gathering.step(Math.min(GATHER_STEP_MS, left));
    }
  }

  private async writeGroup(group: readonly QueuedAppend[]): Promise<void> {
    const now = new Date();
    const rows: { q: QueuedAppend; positioned: Commit; doc: CommitDoc }[] = [];
    for (const q of group) {
      const { commit } = q;
      const first = await this.positions.take(commit.events.length);
      const positioned: Commit = {
        ...commit,
        events: commit.events.map((e, i) => ({ ...e, position: first + i })),
      };
      const commitId = commitIdOf(commit.caseId, commit.fromVersion);
      rows.push({
        q,
        positioned,
        doc: {
          _id: commitId,
          caseId: commit.caseId,
          commandId: commit.commandId,
          fingerprint: commit.fingerprint,
          fromVersion: commit.fromVersion,
          toVersion: commit.toVersion,
          position: first,
          lastPosition: first + commit.events.length - 1,
          recordedAt: now,
          body: bodyOf(positioned.events),
        },
      });
    }
    // The outbox and position-index documents first: a crash before the
    // commits leaves entries that name no commit, which the relay drops and
    // ReadAll skips. Both are new (keyed by positions just handed out), one
    // outbox document for the group and one index document per position
    // block it falls in.
    const outboxDoc = outboxDocOf(
      rows.map((r) => r.doc),
      now,
    );
    this.unpublished.open(
      outboxDoc._id,
      rows.map((r) => commitKeyOf(r.positioned)),
    );
    await Promise.all([
      this.outbox.insertOne(outboxDoc),
      this.log
        .insertMany(
          logDocsOf(
            rows.map((r) => logEntryOf(r.doc)),
            this.positionBlock,
          ),
          { ordered: false },
        )
        .catch(ignoreDuplicates),
    ]).catch((e: unknown) => {
      // No commit is written: the sweep drops the document if it landed.
      this.unpublished.forget(outboxDoc._id);
      throw e;
    });
    const lost: (typeof rows)[number][] = [];
    await Promise.all(
      [...this.commits.group(rows, (r) => r.doc.caseId)].map(async ([bucket, list]) => {
        try {
          await this.commits.at(bucket).insertMany(
            list.map((r) => r.doc),
            { ordered: false },
          );
          for (const r of list) r.q.resolve(r.positioned);
        } catch (e) {
          const failures = bulkFailures(e);
          // Only an insert whose every failure is a duplicate key tells which
          // documents landed. Any other failure (the server losing its
          // database mid-batch) may have stopped the batch without a word
          // about the rest: nothing of it is acknowledged. A retry finds what
          // did land, by its command id.
          if (!failures || failures.some((f) => !f.duplicate)) {
            for (const r of list) r.q.reject(e);
            return;
          }
          const collided = new Set(failures.map((f) => f.index));
          list.forEach((r, i) => {
            if (collided.has(i)) lost.push(r);
            else r.q.resolve(r.positioned);
          });
        }
      }),
    );
    if (lost.length === 0) return;
    // A lost commit's position entry stays: ReadAll skips it (the commit its
    // id names is another command's). Deleting it by its numeric id made
    // FerretDB scan the whole index table, once per conflict.
    await this.settle(lost.map((r) => r.positioned)).catch(() => undefined);
    for (const r of lost) r.q.reject(new VersionConflict(r.doc.caseId, r.doc.fromVersion));
  }

  /**
   * Stored commits whose outbox document is older than `olderThanMs`, in
   * version order per case. A document this process wrote gives only the
   * commits it has not published yet; the commits are read by `_id`, one
   * query per bucket, and an entry whose commit lost its race, or never
   * landed, has nothing to publish.
   */
  async pending(olderThanMs: number): Promise<PendingCommit[]> {
    const cutoff = new Date(Date.now() - olderThanMs);
    const docs = await this.outbox.find({ createdAt: { $lte: cutoff } }).toArray();
    const wanted: { outboxId: string; entry: OutboxEntry }[] = [];
    for (const d of docs) {
      const left = this.unpublished.left(d._id);
      for (const entry of entriesOf(d))
        if (!left || left.has(keyOf(entry.commitId, entry.commandId)))
          wanted.push({ outboxId: d._id, entry });
    }
    const found = new Map<string, CommitDoc>();
    for (const [bucket, list] of this.commits.group(wanted, (w) => w.entry.caseId))
      for (const doc of await this.commits
        .at(bucket)
        .find({ _id: { $in: list.map((w) => w.entry.commitId) } })
        .toArray())
        found.set(doc._id, doc);
    const byCase = new Map<string, PendingCommit[]>();
    const held = new Map<string, string[]>();
    for (const { outboxId, entry } of wanted) {
      const doc = found.get(entry.commitId);
      if (!doc || doc.commandId !== entry.commandId) continue;
      const list = byCase.get(entry.caseId) ?? [];
      const commit = readCommit(doc);
      const released = outboxId.startsWith(RELEASE) ? { released: true as const } : {};
      list.push(
        isUnreadable(commit)
          ? {
              outboxId,
              commit: { ...headerOf(doc), events: [] },
              unreadable: commit.problem,
              ...released,
            }
          : { outboxId, commit, ...released },
      );
      byCase.set(entry.caseId, list);
      const keys = held.get(outboxId);
      if (keys) keys.push(commitKeyOf(doc));
      else held.set(outboxId, [commitKeyOf(doc)]);
    }
    // What the relay published while this read ran stays published.
    const empty: string[] = [];
    for (const d of docs) {
      const now = this.unpublished.left(d._id);
      const keys = (held.get(d._id) ?? []).filter((k) => !now || now.has(k));
      if (keys.length > 0) this.unpublished.open(d._id, keys);
      else empty.push(d._id);
    }
    // Documents with nothing left to publish go now.
    if (empty.length > 0) await this.settleDocs(empty);
    // Positions from different instances need not follow versions; per case,
    // versions decide the order.
    return [...byCase.values()].flatMap((list) =>
      list.sort((a, b) => a.commit.fromVersion - b.commit.fromVersion),
    );
  }

  /**
   * Sets a commit aside in the parked commits; its outbox document no
   * longer waits for it. The commit itself stays in the store; releasing it
   * is writing an outbox document that names it (docs/operations.md).
   */
  async park(commit: Commit, reason: string): Promise<void> {
    const doc: ParkedDoc = {
      _id: commitKeyOf(commit),
      caseId: commit.caseId,
      fromVersion: commit.fromVersion,
      toVersion: commit.toVersion,
      commandId: commit.commandId,
      reason: reason.slice(0, 1_000),
      parkedAt: new Date(),
    };
    await this.parked.replaceOne({ _id: doc._id }, doc, { upsert: true });
    await this.settle([commit]);
  }

  /**
   * Gives a case's parked commits back to the relay, in version order: one
   * outbox document dated at the epoch names them, so the next sweep of any
   * instance publishes them, and the case leaves the parked commits. For an
   * operator, once the topic takes what it refused (store-admin release).
   */
  async release(caseId: string): Promise<number> {
    const parked = (await this.parked.find({ caseId }).toArray()).sort(
      (a, b) => a.fromVersion - b.fromVersion,
    );
    if (parked.length === 0) return 0;
    const docs = await this.commits
      .for(caseId)
      .find({ _id: { $in: parked.map((p) => commitIdOf(caseId, p.fromVersion)) } })
      .toArray();
    const byId = new Map(docs.map((d) => [d._id, d]));
    const entries = parked.flatMap((p) => {
      const d = byId.get(commitIdOf(caseId, p.fromVersion));
      return d && d.commandId === p.commandId ? [entryOf(d)] : [];
    });
    // Read with another bucket count, or behind a writer's back, the commits
    // are not where the parked records say: nothing is released.
    if (entries.length < parked.length)
      throw new ConfigError([
        `case ${caseId}: ${parked.length - entries.length} of its ${parked.length} parked commits are not in the store as parked (EVENT_STORE_BUCKETS is ${this.commits.buckets}: is it the store's?); nothing released`,
      ]);
    await this.outbox.insertOne({
      _id: `${RELEASE}${caseId}:${Date.now()}`,
      commits: entries,
      createdAt: new Date(0),
    });
    await this.parked.deleteMany({ _id: { $in: parked.map((p) => p._id) } });
    return entries.length;
  }

  /**
   * Names every commit of a case in an outbox document dated at the epoch,
   * so that the relay's next sweep publishes the case's whole history again,
   * in version order; consumers drop the versions they have. For a commit
   * the store holds that reached no consumer and that no outbox document
   * names any more (an outbox edited by hand, a topic that lost it to
   * retention): the read models hold the case's later events until it comes
   * (docs/operations.md, EventsWaitingForGap). A case with parked commits is
   * not touched (`parked`): releasing it publishes them in their turn.
   */
  async republish(caseId: string): Promise<{ commits: number; parked: boolean }> {
    if ((await this.parked.countDocuments({ caseId })) > 0) return { commits: 0, parked: true };
    const docs = await this.commitDocs(caseId, 0);
    if (docs.length === 0) return { commits: 0, parked: false };
    await this.outbox.insertOne({
      _id: `${REPUBLISH}${caseId}:${Date.now()}`,
      commits: docs.map(entryOf),
      createdAt: new Date(0),
    });
    return { commits: docs.length, parked: false };
  }

  /**
   * Rewrites every format-2 commit with its events as JSON and records
   * format 1, so that a version before format 2 reads the store again (a
   * rollback; docs/operations.md). The events are the same, so every hash
   * still verifies. Run with intake stopped: an instance of this version
   * writes format 2 again, and records it when it next starts. Safe to run
   * again after a stop half-way: each commit is rewritten alone, and only
   * while it still holds its bytes (a cursor may meet a document again
   * after its update; it is left as it is). A commit whose bytes do not
   * decode is left as it is and named; then format 1 is not recorded.
   */
  async downgradeCommits(
    onProgress?: (rewritten: number) => void,
  ): Promise<{ rewritten: number; unreadable: string[] }> {
    let rewritten = 0;
    const unreadable: string[] = [];
    for (const bucket of this.commits.all()) {
      const cursor = bucket.find(
        { body: { $exists: true } },
        { projection: { _id: 1, body: 1 }, batchSize: 500 },
      );
      for await (const d of cursor) {
        if (!d.body) continue;
        let evs: CaseEvent[];
        try {
          evs = eventsOf(d);
        } catch {
          unreadable.push(d._id);
          continue;
        }
        const { modifiedCount } = await bucket.updateOne(
          { _id: d._id, body: { $exists: true } },
          { $set: { events: evs.map((e) => events.CaseEvent.toJSON(e)) }, $unset: { body: '' } },
        );
        rewritten += modifiedCount;
        if (modifiedCount > 0 && rewritten % 1_000 === 0) onProgress?.(rewritten);
      }
    }
    // A commit left as bytes would fail the older version: format 2 stays recorded.
    if (unreadable.length === 0)
      await this.meta.updateOne({ _id: 'layout' }, { $set: { commitFormat: 1 } });
    return { rewritten, unreadable };
  }

  /** Cases with a parked commit (few: each one is an alert). */
  async parkedCases(): Promise<string[]> {
    return [...new Set((await this.parkedCommits()).map((d) => d.caseId))];
  }

  /** The parked commits, each by its key (`commitKeyOf`) and case. */
  async parkedCommits(): Promise<{ _id: string; caseId: string }[]> {
    return this.parked.find({}, { projection: { _id: 1, caseId: 1 } }).toArray();
  }

  async published(commits: readonly Commit[]): Promise<void> {
    await this.settle(commits);
  }

  /** Commits that no longer wait for Kafka: outbox documents left with none go. */
  private async settle(commits: readonly Commit[]): Promise<void> {
    await this.settleDocs(this.unpublished.settle(commits.map(commitKeyOf)));
  }

  private async settleDocs(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.unpublished.forget(id);
    if (ids.length > 0) await this.outbox.deleteMany({ _id: { $in: [...ids] } });
  }

  /**
   * Every case, one bucket at a time, holding a few hundred cases' commits
   * at most: the bucket's commit ids are streamed first (a projection), then
   * its cases are read `casesPerRead` at a time by `_id`. A commit stored
   * after its bucket's ids were read is left for the next call.
   */
  async *cases(casesPerRead = 256): AsyncGenerator<LoadedStream> {
    for (const bucket of this.commits.all()) {
      const versions = new Map<string, number[]>();
      const ids = bucket.find({}, { projection: { caseId: 1, fromVersion: 1 }, batchSize: 5_000 });
      for await (const d of ids) {
        const list = versions.get(d.caseId);
        if (list) list.push(d.fromVersion);
        else versions.set(d.caseId, [d.fromVersion]);
      }
      const caseIds = [...versions.keys()];
      for (let i = 0; i < caseIds.length; i += casesPerRead) {
        const some = caseIds.slice(i, i + casesPerRead);
        const byCase = new Map<string, CommitDoc[]>(some.map((id) => [id, []]));
        const wanted = some.flatMap((id) => (versions.get(id) ?? []).map((v) => commitIdOf(id, v)));
        for (const doc of await bucket.find({ _id: { $in: wanted } }).toArray())
          byCase.get(doc.caseId)?.push(doc);
        for (const [caseId, docs] of byCase) {
          if (docs.length > 0) yield streamOf(caseId, docs);
        }
      }
    }
  }

  /**
   * Events after a position, in position order, read from the position
   * index a window of positions at a time: each window is one index range
   * query, then one query by `_id` per bucket it touches (at most
   * READ_ALL_FETCHES at once), so no call holds more than a few cursors and
   * none of them scans. A window that finds nothing widens (positions have
   * gaps where an instance stopped inside its block); the read ends at the
   * highest position handed out when it started. `limit` sizes the windows;
   * the caller stops when it has enough.
   */
  async *readAll(afterPosition: number, limit: number): AsyncGenerator<CaseEvent> {
    const page = limit > 0 ? Math.min(limit, 500) : 500;
    const head = await this.positions.head();
    // A group commit's document names commits up to a block ahead of the
    // window it starts in: those wait for their own window, so that a read
    // of a few events fetches a few commits.
    let ahead: LogEntry[] = [];
    let from = afterPosition;
    let width = page;
    for (let first = true; ; first = false) {
      const to = Math.max(from, Math.min(from + width, head));
      // The first window reaches a block back: a commit that starts at or
      // before the position may end after it. One range query for both, as
      // FerretDB answers any range by reading the whole index table.
      const lo = first ? afterPosition - this.positionBlock : from;
      const found =
        to > from
          ? (await this.log.find({ _id: { $gt: lo, $lte: to } }).toArray())
              .flatMap(logEntriesOf)
              .filter((e) => e.last > afterPosition)
          : [];
      const all = [...ahead, ...found];
      const now = all.filter((e) => e._id <= to);
      ahead = all.filter((e) => e._id > to);
      const fetched = await this.fetchLogged(now);
      for (const e of fetched.events) if (e.position > afterPosition) yield e;
      if (fetched.unreadable) throw new UnreadableCommitError(fetched.unreadable);
      if (to >= head) return;
      from = to;
      // Keep about a page of commits per window.
      if (now.length < page / 4) width = Math.min(width * 4, 1_000_000);
      else if (now.length > page * 2) width = Math.max(page, Math.floor(width / 2));
    }
  }

  /**
   * The events of the logged commits, in position order, up to the first
   * that cannot be read; entries naming no stored commit are skipped.
   */
  private async fetchLogged(
    entries: readonly LogEntry[],
  ): Promise<{ events: CaseEvent[]; unreadable?: UnreadableCommit }> {
    if (entries.length === 0) return { events: [] };
    const found = new Map<string, CommitDoc>();
    const work = [...this.commits.group(entries, (e) => e.caseId)];
    const worker = async () => {
      for (let next = work.shift(); next; next = work.shift()) {
        const [bucket, list] = next;
        const docs = await this.commits
          .at(bucket)
          .find({ _id: { $in: list.map((e) => e.commitId) } })
          .toArray();
        for (const d of docs) found.set(d._id, d);
      }
    };
    await Promise.all(Array.from({ length: Math.min(READ_ALL_FETCHES, work.length) }, worker));
    const evs: CaseEvent[] = [];
    for (const e of [...entries].sort((a, b) => a._id - b._id)) {
      const doc = found.get(e.commitId);
      // A commit that lost its race, or never landed, left only its entry.
      if (!doc || doc.commandId !== e.commandId || doc.position !== e._id) continue;
      const commit = readCommit(doc);
      // Skipping it would hand a reader a history with a hole in it.
      if (isUnreadable(commit)) return { events: evs, unreadable: commit };
      evs.push(...commit.events);
    }
    return { events: evs };
  }
}
