// The event store's backup, verification and restore, for operators
// (docs/operations.md, "Backup and restore"):
//
//   npm run store -- backup  --out DIR
//   npm run store -- verify  --from DIR
//   npm run store -- restore --from DIR [--resume]
//   npm run store -- release --case ID
//   npm run store -- republish --case ID
//   npm run store -- downgrade-commits
//
// The database is $MONGODB_URI / $MONGODB_DB (or --uri / --db), the commit
// buckets of a restore $EVENT_STORE_BUCKETS (or --buckets), as case-intake's.
import { readdir } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { Db } from 'mongodb';
import { ConfigError } from '@enforcement/config';
import { connectMongo, type MongoHandle } from '@enforcement/mongo-kit';
import {
  MongoEventStore,
  NEW_STORE_BUCKETS,
  recordedBuckets,
} from './adapters/mongo/event-store.js';
import {
  BackupError,
  backupEventStore,
  restoreEventStore,
  verifyBackup,
} from './adapters/mongo/backup.js';

const USAGE = `usage: store-admin backup --out DIR | verify --from DIR | restore --from DIR [--resume] | release --case ID | republish --case ID | downgrade-commits
  --uri <uri>       MongoDB URI (default $MONGODB_URI)
  --db <name>       intake's database (default $MONGODB_DB or enforcement_intake)
  --buckets <n>     commit buckets to restore into (default $EVENT_STORE_BUCKETS or 1);
                    for release and republish, the store's own unless given
  --case <id>       release: the case whose parked commits the relay publishes again;
                    republish: the case whose whole history the relay publishes again
                    (a commit that never reached the topic; consumers drop what they have)
downgrade-commits rewrites commits stored as bytes (format 2) as JSON, for a
  rollback to a version before format 2; stop every case-intake first
exit status: 0 done; 64 usage; 65 the backup fails its manifest, the database is not empty, (release, republish, downgrade-commits) not an event store, (republish) the case has parked commits, or (downgrade-commits) a commit's bytes do not decode; 69 no database; 78 --buckets is not the store's`;

class Usage extends Error {}

const fail = (code: number, message: string): never => {
  process.stderr.write(`store-admin: ${message}\n`);
  process.exit(code);
};

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      from: { type: 'string' },
      uri: { type: 'string' },
      db: { type: 'string' },
      buckets: { type: 'string' },
      resume: { type: 'boolean', default: false },
      case: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command] = positionals;
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  if (command === 'verify') {
    if (!values.from) throw new Usage('verify needs --from DIR');
    const m = await verifyBackup(values.from);
    process.stdout.write(
      `backup ${values.from}: ${m.files.length} files match the manifest; ${m.commits} commits, ${m.events} events of ${m.database}, taken ${m.createdAt}\n`,
    );
    return;
  }
  if (!['backup', 'restore', 'release', 'republish', 'downgrade-commits'].includes(command ?? ''))
    throw new Usage(command ? `unknown command '${command}'` : 'name a command');
  const uri = values.uri ?? process.env.MONGODB_URI;
  if (!uri) throw new Usage('name the database server (--uri or $MONGODB_URI)');
  const dbName = values.db ?? process.env.MONGODB_DB ?? 'enforcement_intake';
  // EVENT_STORE_BUCKETS=0, as for case-intake, means the default.
  const given =
    values.buckets ??
    (Number(process.env.EVENT_STORE_BUCKETS) ? process.env.EVENT_STORE_BUCKETS : undefined);
  const buckets = Number(given ?? NEW_STORE_BUCKETS);
  if (!Number.isInteger(buckets) || buckets < 1 || buckets > 4096)
    throw new Usage(`--buckets must be an integer in 1..4096, got '${values.buckets}'`);
  if (command === 'release' || command === 'republish' || command === 'downgrade-commits') {
    const caseId = values.case;
    if (command !== 'downgrade-commits' && !caseId) throw new Usage(`${command} needs --case ID`);
    return withDb(uri, dbName, async (db) => {
      // Read-only until the work itself: a mistyped database stays empty.
      const recorded = await recordedBuckets(db);
      if (recorded === undefined)
        return fail(65, `${dbName} is not an event store (no layout recorded): check --db`);
      if (given !== undefined && recorded !== buckets)
        throw new ConfigError([
          `--buckets is ${buckets}, but this event store keeps its commits in ${recorded} buckets`,
        ]);
      const store = new MongoEventStore(db, { buckets: recorded, positionBlock: 1 });
      if (command === 'downgrade-commits') {
        const { rewritten, unreadable } = await store.downgradeCommits((k) =>
          process.stderr.write(`store-admin: ${k} commits rewritten\n`),
        );
        if (unreadable.length > 0)
          return fail(
            65,
            `rewrote ${rewritten} commits as JSON, but the stored bytes of ${unreadable.length} do not decode ` +
              `(${unreadable.slice(0, 20).join(', ')}${unreadable.length > 20 ? ', ...' : ''}): they are left as they are and ` +
              `${dbName} stays at commit format 2. AuditStore reports their cases; restore them from a backup, then run this again`,
          );
        process.stdout.write(
          `rewrote ${rewritten} commits of ${dbName} as JSON (commit format 1): a case-intake before format 2 reads them; this version writes format 2 again when it starts\n`,
        );
        return;
      }
      if (command === 'republish') {
        const r = await store.republish(caseId ?? '');
        if (r.parked)
          return fail(
            65,
            `case ${caseId} has parked commits: release it (store-admin release --case ${caseId}) once the topic takes them`,
          );
        process.stdout.write(
          r.commits === 0
            ? `case ${caseId} has no commit in ${dbName}\n`
            : `named the ${r.commits} commits of ${caseId}; the relay's next sweep publishes them again, in version order\n`,
        );
        return;
      }
      const n = await store.release(caseId ?? '');
      process.stdout.write(
        n === 0
          ? `case ${caseId} has no parked commit\n`
          : `released ${n} commits of ${caseId}; the relay's next sweep publishes them\n`,
      );
    });
  }
  const dir = command === 'backup' ? values.out : values.from;
  if (!dir) throw new Usage(`${command} needs ${command === 'backup' ? '--out' : '--from'} DIR`);
  if (command === 'backup') {
    const there = await readdir(dir).catch(() => []);
    if (there.length > 0) fail(73, `${values.out} is not empty: back up into a new folder`);
  }

  await withDb(uri, dbName, async (db) => {
    if (command === 'backup') {
      const m = await backupEventStore(db, dir);
      process.stdout.write(
        `backed up ${dbName}: ${m.commits} commits, ${m.events} events (positions up to ${m.highestPosition}), ${m.files.length} files in ${values.out}\n`,
      );
    } else {
      const r = await restoreEventStore(db, dir, {
        buckets,
        resume: values.resume,
      });
      process.stdout.write(
        `restored ${r.commits} commits, ${r.events} events into ${dbName} (${buckets} buckets); ` +
          'case-intake republishes them to the topics when it starts\n',
      );
    }
  });
}

async function withDb(uri: string, dbName: string, work: (db: Db) => Promise<void>): Promise<void> {
  let mongo: MongoHandle;
  try {
    mongo = await connectMongo(uri, dbName);
  } catch (e) {
    return fail(69, `database unreachable (MONGODB_URI): ${(e as Error).message}`);
  }
  try {
    await work(mongo.db);
  } finally {
    await mongo.close();
  }
}

main().catch((e: unknown) => {
  if (e instanceof Usage) fail(64, `${e.message}\n${USAGE}`);
  if (e instanceof BackupError) fail(65, e.message);
  if (e instanceof ConfigError) fail(78, e.message);
  fail(1, (e as Error).stack ?? String(e));
});
