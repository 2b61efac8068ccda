import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

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
        `select coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) from pg_stat_user_tables where schemaname = '${db.replace(/'/g, "''")}'`,
      ],
      { timeout: 10_000 },
    );
    const n = Number(stdout.trim());
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
