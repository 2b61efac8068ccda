import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db, Document, IndexDescription } from 'mongodb';
import {
  dumpDocuments,
  ignoreDuplicates,
  isDuplicateKey,
  PartitionedCollection,
  readBson,
  sha256File,
} from '@enforcement/mongo-kit';
import {
  logEntryOf,
  outboxDocOf,
  type CommitDoc,
  type LogDoc,
  type OutboxDoc,
} from './event-store.js';

export const BACKUP_FORMAT = 'enforcement-event-store-backup/1';

export interface BackupFile {
  /** The logical collection: every commit bucket is one `commits` file. */
  readonly collection: string;
  readonly file: string;
  readonly documents: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly indexes: IndexDescription[];
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly createdAt: string;
  readonly database: string;
  /** How many commit buckets the store had (a restore may use another number). */
  readonly buckets: number;
  readonly commits: number;
  readonly events: number;
  readonly highestPosition: number;
  readonly files: BackupFile[];
}

const COMMITS = /^commits(_\d+)?$/;
/**
 * Not backed up: the outbox and the position index are derived from the
 * commits on restore, and the index's done-mark with them.
 */
const DERIVED = new Set(['outbox', 'position_log', 'store_meta']);
/** Read last: every position a backed-up commit holds lies in a block claimed before it. */
const LAST = 'position_blocks';

export class BackupError extends Error {}

const indexesOf = async (db: Db, name: string): Promise<IndexDescription[]> =>
  (await db.collection(name).indexes())
    .filter((i) => i.name !== '_id_')
    .map(({ v: _v, ns: _ns, ...rest }) => rest as IndexDescription);

/**
 * Backs the event store up into `dir` (which must not exist or be empty):
 * one concatenated-BSON file per collection, the commits of every bucket in
 * one file, and `manifest.json` with each file's count, size and SHA-256.
 *
 * It reads a live store without stopping intake. The commits are read first
 * and the position blocks last, so a commit written meanwhile is either in
 * the backup whole (each commit is one document) or not at all, and every
 * position in the backup lies in a block the backup holds. The outbox and
 * the position index are not copied: a restore derives both from the
 * commits, so no commit of the backup is left unpublished or unindexed.
 */
export async function backupEventStore(db: Db, dir: string): Promise<BackupManifest> {
  await mkdir(dir, { recursive: true });
  const names = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .filter((n) => !n.startsWith('system.') && !DERIVED.has(n));
  const buckets = names.filter((n) => COMMITS.test(n)).sort();
  if (buckets.length === 0)
    throw new BackupError(`database ${db.databaseName} holds no commits: is it intake's?`);
  const others = names.filter((n) => !COMMITS.test(n) && n !== LAST).sort();

  let commits = 0;
  let eventCount = 0;
  let highestPosition = 0;
  async function* allCommits(): AsyncGenerator<Document> {
    for (const name of buckets)
      for await (const doc of db.collection<CommitDoc>(name).find({}, { batchSize: 1_000 })) {
        commits++;
        eventCount += doc.toVersion - doc.fromVersion + 1;
        highestPosition = Math.max(highestPosition, doc.lastPosition);
        yield doc;
      }
  }
  const files: BackupFile[] = [];
  const commitIndexes = await indexesOf(db, buckets[0] ?? 'commits');
  files.push({
    collection: 'commits',
    file: 'commits.bson',
    ...(await dumpDocuments(allCommits(), join(dir, 'commits.bson'))),
    indexes: commitIndexes,
  });
  for (const name of [...others, ...(names.includes(LAST) ? [LAST] : [])]) {
    const indexes = await indexesOf(db, name);
    const file = `${name}.bson`;
    files.push({
      collection: name,
      file,
      ...(await dumpDocuments(db.collection(name).find({}, { batchSize: 1_000 }), join(dir, file))),
      indexes,
    });
  }
  const manifest: BackupManifest = {
    format: BACKUP_FORMAT,
    createdAt: new Date().toISOString(),
    database: db.databaseName,
    buckets: buckets.length,
    commits,
    events: eventCount,
    highestPosition,
    files,
  };
  await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`, {
    flag: 'wx',
  });
  return manifest;
}

/** Reads the manifest and checks every file it names against its size and SHA-256. */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as BackupManifest;
  } catch (e) {
    throw new BackupError(`${join(dir, 'manifest.json')}: ${(e as Error).message}`);
  }
  if (manifest.format !== BACKUP_FORMAT)
    throw new BackupError(
      `${join(dir, 'manifest.json')}: format '${String(manifest.format)}', expected '${BACKUP_FORMAT}'`,
    );
  const problems: string[] = [];
  for (const f of manifest.files) {
    const path = join(dir, f.file);
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) problems.push(`${f.file}: missing`);
    else if (size !== f.bytes)
      problems.push(`${f.file}: ${size} bytes, the manifest says ${f.bytes}`);
    else if ((await sha256File(path)) !== f.sha256)
      problems.push(`${f.file}: SHA-256 differs from the manifest's (altered or damaged)`);
  }
  if (problems.length > 0)
    throw new BackupError(`backup ${dir} fails its manifest:\n  ${problems.join('\n  ')}`);
  return manifest;
}

export interface RestoreSummary {
  readonly commits: number;
  readonly events: number;
  readonly documents: number;
}

/**
 * Restores a verified backup into an empty database. Commits go to the
 * bucket their case falls in under `buckets` (the store's layout may differ
 * from the backup's); each gets its position-index entry and each batch an outbox document,
 * so case-intake republishes the whole history to the case-events topic (and
 * the case heads to the checkpoints topic) when it starts. Consumers drop
 * events they already hold, by version. Re-running a restore that stopped
 * half-way finishes it (documents already there are skipped).
 */
export async function restoreEventStore(
  db: Db,
  dir: string,
  o: { buckets: number; resume?: boolean },
): Promise<RestoreSummary> {
  const manifest = await verifyBackup(dir);
  if (!o.resume) {
    const held: string[] = [];
    for (const c of await db.listCollections({}, { nameOnly: true }).toArray())
      if (!c.name.startsWith('system.') && (await db.collection(c.name).findOne({})) !== null)
        held.push(c.name);
    if (held.length > 0)
      throw new BackupError(
        `database ${db.databaseName} is not empty (${held.slice(0, 5).join(', ')}${held.length > 5 ? ', …' : ''}): ` +
          'restore into an empty database, or pass --resume to finish a restore that stopped',
      );
  }
  const commits = new PartitionedCollection<CommitDoc>(db, 'commits', o.buckets);
  const outbox = db.collection<OutboxDoc>('outbox');
  const log = db.collection<LogDoc>('position_log');
  // Dated at the epoch: the relay's first sweep finds them all.
  const epoch = new Date(0);
  let restoredCommits = 0;
  let restoredEvents = 0;
  let documents = 0;
  for (const f of manifest.files) {
    const path = join(dir, f.file);
    if (f.collection === 'commits') {
      for await (const batch of readBson(path)) {
        const docs = batch as CommitDoc[];
        // Index and outbox entries first, as intake writes them.
        await Promise.all([
          outbox.insertOne(outboxDocOf(docs, epoch)).catch((e: unknown) => {
            if (!isDuplicateKey(e)) throw e;
          }),
          log
            .insertMany(
              docs.map((d) => logEntryOf(d)),
              { ordered: false },
            )
            .catch(ignoreDuplicates),
        ]);
        await Promise.all(
          [...commits.group(docs, (d) => d.caseId)].map(([bucket, list]) =>
            commits.at(bucket).insertMany(list, { ordered: false }).catch(ignoreDuplicates),
          ),
        );
        restoredCommits += docs.length;
        restoredEvents += docs.reduce((n, d) => n + d.toVersion - d.fromVersion + 1, 0);
        documents += docs.length;
      }
      for (const index of f.indexes) await commits.createIndex(index.key, optionsOf(index));
      continue;
    }
    const target = db.collection(f.collection);
    for await (const batch of readBson(path)) {
      await target.insertMany(batch, { ordered: false }).catch(ignoreDuplicates);
      documents += batch.length;
    }
    for (const index of f.indexes) await target.createIndex(index.key, optionsOf(index));
  }
  await outbox.createIndex({ createdAt: 1 });
  const meta = db.collection<{ _id: string; at: Date; buckets?: number }>('store_meta');
  await meta.updateOne({ _id: 'position_log' }, { $set: { at: new Date() } }, { upsert: true });
  // The layout it was restored into, which intake must start with (EventStore.init).
  await meta.updateOne(
    { _id: 'layout' },
    { $set: { buckets: o.buckets, at: new Date() } },
    { upsert: true },
  );
  if (restoredCommits !== manifest.commits)
    throw new BackupError(
      `restored ${restoredCommits} commits, the manifest says ${manifest.commits}`,
    );
  return { commits: restoredCommits, events: restoredEvents, documents };
}

const optionsOf = ({ key: _key, ...rest }: IndexDescription) => rest;
