import { execFile, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, repoRoot } from '@enforcement/testing';

const run = promisify(execFile);

/**
 * Fixed ports, all below 32768: Linux hands out 32768-60999 to outgoing
 * connections, and a listener on a port in that range fails to bind now and
 * then, when some client's connection holds it (a Kafka on 39092 did).
 */
export interface PrivatePorts {
  readonly kafka: number;
  readonly kafkaController: number;
  readonly ferretdb: number;
  readonly ferretdbDebug: number;
  /** With a PostgreSQL port, FerretDB runs on its own PostgreSQL; without, on SQLite. */
  readonly postgres?: number;
  /**
   * Kafka nodes (default 1). A cluster of N (`infra/stack.sh up --brokers N`)
   * puts node i on `kafka + 2(i-1)` and its controller on the port after, so
   * `kafkaController` must be `kafka + 1` and the ports up to `kafka + 2N - 1` free.
   */
  readonly brokers?: number;
}

/**
 * A private stack (its own Kafka, FerretDB and, optionally, PostgreSQL on
 * other ports, its data under `home`), so a test can stop, kill and restart
 * them under running services without disturbing the other test files,
 * which share the main stack.
 */
export class PrivateStack {
  readonly env: Record<string, string>;
  private readonly script = join(repoRoot(), 'infra', 'stack.sh');

  constructor(
    readonly home: string,
    readonly ports: PrivatePorts,
  ) {
    const ephemeral = Object.entries(ports).filter(([, port]) => port >= 32768);
    if (ephemeral.length > 0)
      throw new Error(
        `ports in the ephemeral range: ${JSON.stringify(Object.fromEntries(ephemeral))}`,
      );
    this.env = {
      ...(process.env as Record<string, string>),
      STACK_HOME: home,
      KAFKA_PORT: String(ports.kafka),
      KAFKA_CONTROLLER_PORT: String(ports.kafkaController),
      FERRETDB_PORT: String(ports.ferretdb),
      FERRETDB_DEBUG_PORT: String(ports.ferretdbDebug),
      FERRETDB_BACKEND: ports.postgres ? 'postgresql' : 'sqlite',
      ...(ports.postgres ? { PG_PORT: String(ports.postgres), PG_HOME: join(home, 'pg') } : {}),
      KAFKA_HEAP: '512m',
      KAFKA_NODES: String(ports.brokers ?? 1),
    };
    if ((ports.brokers ?? 1) > 1 && ports.kafkaController !== ports.kafka + 1)
      throw new Error('a Kafka cluster puts each controller on its broker port + 1');
  }

  get brokers(): string[] {
    return Array.from(
      { length: this.ports.brokers ?? 1 },
      (_, i) => `127.0.0.1:${this.ports.kafka + 2 * i}`,
    );
  }

  get mongoUri(): string {
    return `mongodb://127.0.0.1:${this.ports.ferretdb}/`;
  }

  /** Starts whatever is not running (so it also restarts what was stopped or killed). */
  up = () => run('bash', [this.script, 'up'], { env: this.env, timeout: 300_000 });
  down = () => run('bash', [this.script, 'down'], { env: this.env, timeout: 120_000 });

  /** Stops one part by its recorded process id, as an operator or a crash would. */
  async stop(part: 'kafka' | 'ferretdb', signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (part === 'kafka' && (this.ports.brokers ?? 1) > 1) {
      for (let node = this.ports.brokers ?? 1; node >= 1; node--)
        await this.stopBroker(node, signal);
      return;
    }
    await this.signal(Number(readFileSync(join(this.home, part, 'pid'), 'utf8')), signal, part);
  }

  /**
   * Freezes a single-node Kafka (SIGSTOP) or lets it go on (SIGCONT): its
   * clients' requests wait meanwhile, as behind a network that stopped
   * delivering, and nothing they sent is lost.
   */
  freezeKafka(frozen: boolean): void {
    if ((this.ports.brokers ?? 1) > 1) throw new Error('freezeKafka takes a single-node Kafka');
    process.kill(
      Number(readFileSync(join(this.home, 'kafka', 'pid'), 'utf8')),
      frozen ? 'SIGSTOP' : 'SIGCONT',
    );
  }

  /**
   * Freezes FerretDB (SIGSTOP) or lets it go on (SIGCONT): its connections
   * stay open and nothing answers, as behind a hung disk or a stalled host;
   * a client learns of it only from its own deadlines.
   */
  freezeStore(frozen: boolean): void {
    process.kill(
      Number(readFileSync(join(this.home, 'ferretdb', 'pid'), 'utf8')),
      frozen ? 'SIGSTOP' : 'SIGCONT',
    );
  }

  /**
   * Freezes PostgreSQL under a running FerretDB (SIGSTOP to the postmaster,
   * then to every process it started) or lets it go on (SIGCONT to them all,
   * the postmaster last): FerretDB still takes connections and reads the
   * wire protocol, and every command that needs the database waits, as on a
   * database host that hung behind a live proxy.
   */
  freezePostgres(frozen: boolean): void {
    const pid = Number(
      readFileSync(join(this.home, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    // Stopped first, the postmaster starts nothing more while its children are stopped.
    if (frozen) process.kill(pid, 'SIGSTOP');
    for (const child of childrenOf(pid))
      try {
        process.kill(child, frozen ? 'SIGSTOP' : 'SIGCONT');
      } catch {
        // A backend that ended meanwhile.
      }
    if (!frozen) process.kill(pid, 'SIGCONT');
  }

  /** psql's arguments to reach FerretDB's database in this stack's PostgreSQL. */
  private psqlTo(what: string): string[] {
    const port = this.ports.postgres;
    if (port === undefined) throw new Error(`${what} takes a stack on PostgreSQL`);
    return ['-X', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'ferretdb'];
  }

  /**
   * Locks every table of the given databases (PostgreSQL schemas under
   * FerretDB) against writes, in a session of its own, until the returned
   * function ends that session: reads and `ping` are answered as before,
   * and every insert, update and delete waits, as behind a migration or a
   * transaction another client left open. Resolves once the locks are held.
   */
  async lockWrites(databases: readonly string[]): Promise<() => Promise<void>> {
    const psql = spawn(psqlPath(), [...this.psqlTo('lockWrites'), '-q', '-v', 'ON_ERROR_STOP=1'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let said = '';
    psql.stdout.on('data', (b: Buffer) => (said += b.toString()));
    psql.stderr.on('data', (b: Buffer) => (said += b.toString()));
    const exited = new Promise<void>((resolve) => psql.once('exit', () => resolve()));
    const names = databases.map((d) => `'${d.replace(/'/g, "''")}'`).join(', ');
    // FerretDB's own catalogue of collections is left alone: only the data waits.
    psql.stdin.write(
      `BEGIN;\nSELECT format('LOCK TABLE %s IN EXCLUSIVE MODE', string_agg(format('%I.%I', schemaname, tablename), ', ')) FROM pg_tables WHERE schemaname IN (${names}) AND tablename <> '_ferretdb_database_metadata' \\gexec\n\\echo locked\n`,
    );
    await eventually(
      () => {
        if (said.includes('locked')) return true;
        if (psql.exitCode !== null) throw new Error(`psql could not lock ${names}: ${said}`);
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: `the tables of ${names} locked` },
    );
    return async () => {
      psql.stdin.end('ROLLBACK;\n');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (psql.exitCode === null) psql.kill('SIGKILL');
    };
  }

  /**
   * For each database (a PostgreSQL schema under FerretDB) with a command
   * waiting on a lock now, how long the longest has waited (ms).
   */
  async lockWaits(): Promise<Map<string, number>> {
    const { stdout } = await run(
      psqlPath(),
      [
        ...this.psqlTo('lockWaits'),
        ...['-tA', '-F', '\t', '-c'],
        `SELECT substring(query from '"([^"]+)"\\.'), extract(epoch from now() - query_start) * 1000 FROM pg_stat_activity WHERE wait_event_type = 'Lock'`,
      ],
      { timeout: 10_000 },
    );
    const out = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const [schema, ms] = line.split('\t');
      if (!schema || ms === undefined) continue;
      out.set(schema, Math.max(out.get(schema) ?? 0, Number(ms)));
    }
    return out;
  }

  /**
   * Freezes one node of a Kafka cluster (1-based; SIGSTOP) or lets it go on
   * (SIGCONT): the others fence it and take over its partitions, while
   * requests already sent to it wait and its followers' places in each
   * partition's in-sync replicas stay until it falls behind.
   */
  freezeBroker(node: number, frozen: boolean): void {
    if ((this.ports.brokers ?? 1) < 2) throw new Error('freezeBroker takes a Kafka cluster');
    process.kill(
      Number(readFileSync(join(this.home, 'kafka', `node${node}`, 'pid'), 'utf8')),
      frozen ? 'SIGSTOP' : 'SIGCONT',
    );
  }

  /** Stops one node of a Kafka cluster (1-based), as a crash of that broker would. */
  async stopBroker(node: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const dir = (this.ports.brokers ?? 1) > 1 ? join('kafka', `node${node}`) : 'kafka';
    const pid = Number(readFileSync(join(this.home, dir, 'pid'), 'utf8'));
    await this.signal(pid, signal, `kafka node ${node}`);
  }

  /**
   * Kills PostgreSQL with SIGKILL, the postmaster and every process it
   * started: no shutdown, no checkpoint, as a power cut or the OOM killer
   * would. (Its backends inherit the listening socket: left alive, they keep
   * the port taken, and the restart cannot bind it.)
   */
  async killPostgres(): Promise<void> {
    const pidFile = join(this.home, 'pg', 'data', 'postmaster.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    const children = childrenOf(pid);
    await Promise.all(
      [pid, ...children].map((p) =>
        this.signal(p, 'SIGKILL', `postgresql process ${p}`).catch(() => undefined),
      ),
    );
    // Its backends exit on their own a moment later; until they have, the port is taken.
    const port = this.ports.postgres;
    if (port !== undefined)
      await eventually(() => portFree(port), {
        timeoutMs: 60_000,
        what: 'the PostgreSQL port to be free',
      });
  }

  private async signal(pid: number, signal: NodeJS.Signals, what: string): Promise<void> {
    process.kill(pid, signal);
    await eventually(
      () => {
        try {
          process.kill(pid, 0);
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 60_000, what: `${what} to stop` },
    );
  }
}

/** True once nothing listens on the port any more (a connection is refused). */
function portFree(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', () => resolve(true));
  });
}

/** Debian's psql, beside the server infra/stack.sh runs. */
function psqlPath(): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (version === undefined) throw new Error(`no PostgreSQL under ${root}`);
  return join(root, version, 'bin', 'psql');
}

/** The processes `pid` started (none when it has none: `ps` then exits 1). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((x) => Number(x.trim()))
      .filter((x) => x > 0);
  } catch {
    return [];
  }
}
