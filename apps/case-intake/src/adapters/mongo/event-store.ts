import type { Collection, Db } from 'mongodb';
import { events } from '@enforcement/contracts';
import { isDuplicateKey, PartitionedCollection } from '@enforcement/mongo-kit';
import {
  VersionConflict,
  type CaseEvent,
  type Commit,
  type EventStore,
  type LoadedStream,
} from '../../application/ports.js';
import { PositionAllocator } from './positions.js';

/** One command's events: the unit of atomic write. `_id` = case id + first version. */
interface CommitDoc {
  _id: string;
  caseId: string;
  commandId: string;
  fromVersion: number;
  toVersion: number;
  /** Global position of the first event; the others follow it. */
  position: number;
  lastPosition: number;
  recordedAt: Date;
  events: unknown[];
}

/** A commit stored but maybe not yet on Kafka. Small: entries leave once published. */
interface OutboxDoc {
  _id: string;
  commitId: string;
  commandId: string;
  caseId: string;
  position: number;
  createdAt: Date;
}

export interface PendingCommit {
  readonly outboxId: string;
  readonly commit: Commit;
}

const commitIdOf = (caseId: string, fromVersion: number) => `${caseId}:${fromVersion}`;
const outboxIdOf = (c: Commit) => `${commitIdOf(c.caseId, c.fromVersion)}:${c.commandId}`;

function toCommit(doc: CommitDoc): Commit {
  return {
    caseId: doc.caseId,
    commandId: doc.commandId,
    fromVersion: doc.fromVersion,
    toVersion: doc.toVersion,
    events: doc.events.map((e) => events.CaseEvent.fromJSON(e)),
  };
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
  private readonly positions: PositionAllocator;

  constructor(db: Db, opts: { buckets: number; positionBlock: number }) {
    this.commits = new PartitionedCollection<CommitDoc>(db, 'commits', opts.buckets);
    this.outbox = db.collection<OutboxDoc>('outbox');
    this.positions = new PositionAllocator(db.collection('position_blocks'), opts.positionBlock);
  }

  async init(): Promise<void> {
    // Creating collections up front keeps the first writes from racing to create them.
    await this.commits.createIndex({ caseId: 1 });
    await this.outbox.createIndex({ createdAt: 1 });
  }

  async load(caseId: string): Promise<LoadedStream> {
    const docs = await this.commits.for(caseId).find({ caseId }).toArray();
    docs.sort((a, b) => a.fromVersion - b.fromVersion);
    const commits = docs.map(toCommit);
    const evs = commits.flatMap((c) => c.events);
    return { caseId, version: commits.at(-1)?.toVersion ?? 0, events: evs, commits };
  }

  async append(commit: Commit): Promise<Commit> {
    const first = await this.positions.take(commit.events.length);
    const positioned: Commit = {
      ...commit,
      events: commit.events.map((e, i) => ({ ...e, position: first + i })),
    };
    const outboxId = outboxIdOf(commit);
    const now = new Date();
    await this.outbox
      .insertOne({
        _id: outboxId,
        commitId: commitIdOf(commit.caseId, commit.fromVersion),
        commandId: commit.commandId,
        caseId: commit.caseId,
        position: first,
        createdAt: now,
      })
      .catch((e: unknown) => {
        if (!isDuplicateKey(e)) throw e;
      });
    try {
      await this.commits.for(commit.caseId).insertOne({
        _id: commitIdOf(commit.caseId, commit.fromVersion),
        caseId: commit.caseId,
        commandId: commit.commandId,
        fromVersion: commit.fromVersion,
        toVersion: commit.toVersion,
        position: first,
        lastPosition: first + commit.events.length - 1,
        recordedAt: now,
        events: positioned.events.map((e) => events.CaseEvent.toJSON(e)),
      });
    } catch (e) {
      if (!isDuplicateKey(e)) throw e;
      await this.outbox.deleteOne({ _id: outboxId }).catch(() => undefined);
      throw new VersionConflict(commit.caseId, commit.fromVersion);
    }
    return positioned;
  }

  /** Outbox entries older than `olderThanMs`, with their commits, in position order. */
  async pending(olderThanMs: number): Promise<PendingCommit[]> {
    const cutoff = new Date(Date.now() - olderThanMs);
    const entries = (await this.outbox.find({ createdAt: { $lte: cutoff } }).toArray()).sort(
      (a, b) => a.position - b.position,
    );
    const byCase = new Map<string, PendingCommit[]>();
    for (const entry of entries) {
      const doc = await this.commits.for(entry.caseId).findOne({ _id: entry.commitId });
      if (doc && doc.commandId === entry.commandId) {
        const list = byCase.get(entry.caseId) ?? [];
        list.push({ outboxId: entry._id, commit: toCommit(doc) });
        byCase.set(entry.caseId, list);
      }
      // An entry whose commit lost its race, or never landed, has nothing to publish.
      else await this.outbox.deleteOne({ _id: entry._id });
    }
    // Positions from different instances need not follow versions; per case,
    // versions decide the order.
    return [...byCase.values()].flatMap((list) =>
      list.sort((a, b) => a.commit.fromVersion - b.commit.fromVersion),
    );
  }

  async published(commits: readonly Commit[]): Promise<void> {
    if (commits.length === 0) return;
    await this.outbox.deleteMany({ _id: { $in: commits.map(outboxIdOf) } });
  }

  async *readAll(afterPosition: number, limit: number): AsyncGenerator<CaseEvent> {
    const page = limit > 0 ? Math.min(limit, 500) : 500;
    const cursors = this.commits.all().map((c) => new BucketCursor(c, afterPosition, page));
    let sent = 0;
    for (;;) {
      let best: BucketCursor | undefined;
      let bestPos = Infinity;
      for (const c of cursors) {
        const pos = await c.peekPosition();
        if (pos !== undefined && pos < bestPos) {
          bestPos = pos;
          best = c;
        }
      }
      if (!best) return;
      const e = best.take();
      if (e) yield e;
      if (limit > 0 && ++sent >= limit) return;
    }
  }
}

/** Reads one bucket's events after a position, a page at a time. */
class BucketCursor {
  private buffer: CaseEvent[] = [];
  private done = false;

  constructor(
    private readonly collection: Collection<CommitDoc>,
    private after: number,
    private readonly page: number,
  ) {}

  async peekPosition(): Promise<number | undefined> {
    if (this.buffer.length === 0 && !this.done) await this.fill();
    return this.buffer[0]?.position;
  }

  take(): CaseEvent | undefined {
    return this.buffer.shift();
  }

  private async fill(): Promise<void> {
    const docs = await this.collection
      .find({ lastPosition: { $gt: this.after } })
      .sort({ position: 1 })
      .limit(this.page)
      .toArray();
    if (docs.length < this.page) this.done = true;
    this.buffer = docs
      .flatMap((d) => d.events.map((e) => events.CaseEvent.fromJSON(e)))
      .filter((e) => e.position > this.after)
      .sort((a, b) => a.position - b.position);
    const last = this.buffer.at(-1);
    if (last) this.after = last.position;
  }
}
