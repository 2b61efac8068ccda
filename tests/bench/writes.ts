import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fmt } from './stats.js';

const run = promisify(execFile);

/**
 * Documents a database has written (rows inserted, updated and deleted),
 * read from PostgreSQL's table statistics under FerretDB, where each
 * collection is a table in the database's schema. Undefined where the store
 * is not the local FerretDB on PostgreSQL (a real MongoDB, or SQLite).
 * PostgreSQL publishes a session's counts within about a second of its
 * transaction, so callers read a while after the writes stopped.
 */
export async function documentsWritten(db: string): Promise<number | undefined> {
  const tables = await documentsByCollection(db);
  return tables && [...tables.values()].reduce((a, b) => a + b, 0);
}

/**
 * The same, per collection: FerretDB names a collection's table after the
 * collection (lower-cased, other characters as `_`, cut short) and a hash,
 * which is dropped here. Undefined where the counts cannot be read.
 */
export async function documentsByCollection(db: string): Promise<Map<string, number> | undefined> {
  const port = process.env.PG_PORT ?? '15432';
  try {
    const { stdout } = await run(
      'psql',
      [
        '-h',
        '127.0.0.1',
        '-p',
        port,
        '-U',
        'postgres',
        '-d',
        'ferretdb',
        '-Atc',
        `select relname, n_tup_ins + n_tup_upd + n_tup_del from pg_stat_user_tables where schemaname = '${db.replace(/'/g, "''")}'`,
      ],
      { timeout: 10_000 },
    );
    const out = new Map<string, number>();
    for (const line of stdout.split('\n').filter(Boolean)) {
      const [table = '', count = ''] = line.split('|');
      const name = table.replace(/_[0-9a-f]{8}$/, '');
      out.set(name, (out.get(name) ?? 0) + Number(count));
    }
    return out;
  } catch {
    return undefined;
  }
}

/** What each collection wrote between two readings, per event, largest first. */
export function perEventByCollection(
  before: ReadonlyMap<string, number> | undefined,
  after: ReadonlyMap<string, number> | undefined,
  events: number,
): { total: number; byCollection: Record<string, number> } | undefined {
  if (!before || !after || events <= 0) return undefined;
  const moved = [...after]
    .map(([name, n]) => [name, n - (before.get(name) ?? 0)] as const)
    .filter(([, d]) => d > 0)
    .sort((a, b) => b[1] - a[1]);
  const total = moved.reduce((sum, [, d]) => sum + d, 0);
  return {
    total: total / events,
    byCollection: Object.fromEntries(moved.map(([name, d]) => [name, d / events])),
  };
}

/** `documents per event: collection n, …` for the bench's log. */
export function describeWrites(w: { total: number; byCollection: Record<string, number> }): string {
  const parts = Object.entries(w.byCollection).map(([name, n]) => `${name} ${fmt(n, 3)}`);
  return `${fmt(w.total, 3)} documents per event: ${parts.join(', ')}`;
}
