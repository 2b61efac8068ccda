import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { events, intake } from '@enforcement/contracts';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { checkHealth } from '@enforcement/grpc-kit';
import { namespaced } from '@enforcement/messaging';
import { eventually, repoRoot, uniqueName } from '@enforcement/testing';
import { generateYear } from '@enforcement/generator';
import { PrivateStack } from '../support/private-stack.js';

const CLI = join(repoRoot(), 'apps/cli/dist/main.js');

/**
 * PostgreSQL, under FerretDB under intake, is killed with SIGKILL in the
 * middle of a streamed year and started again. Every command the CLI sent
 * must end up acknowledged (it retries what was answered UNAVAILABLE and
 * what a broken stream left unanswered), and every acknowledged event must be
 * in the store and on the topic: nothing acknowledged is lost. Meanwhile
 * health answers NOT_SERVING, and SERVING again by itself.
 */
describe('durability through a PostgreSQL crash', () => {
  let stack: PrivateStack;
  let svc: CaseIntake;
  const ns = uniqueName('durable');
  const topics = namespaced(ns);
  /** What intake logged with an error, so that a refusal the CLI reports can be traced to its cause. */
  const logged: string[] = [];

  beforeAll(async () => {
    const home = await mkdtemp(join(tmpdir(), 'enforcement-durable-'));
    await chmod(home, 0o755); // PostgreSQL runs as its own user
    stack = new PrivateStack(home, {
      kafka: 31092,
      kafkaController: 31093,
      ferretdb: 27047,
      ferretdbDebug: 18108,
      postgres: 25432,
    });
    await stack.up();
    svc = await createCaseIntake(
      loadIntakeConfig({
        KAFKA_BROKERS: stack.brokers.join(','),
        MONGODB_URI: stack.mongoUri,
        MONGODB_DB: 'durable',
        GRPC_PORT: '0',
        ENFORCEMENT_ENV: 'development',
        KAFKA_CLIENT_ID: ns,
        TOPIC_NAMESPACE: ns,
        EVENT_STORE_BUCKETS: '8',
        CASE_EVENTS_PARTITIONS: '4',
        INGRESS_ENABLED: 'false',
        RELAY_SWEEP_AFTER_MS: '2000',
        HEALTH_CHECK_MS: '500',
      }),
      {
        log: (msg: string, err?: unknown) => {
          if (err instanceof Error) logged.push(`${msg}: ${err.name}: ${err.message}`);
        },
      },
    );
  }, 400_000);

  afterAll(async () => {
    await svc?.kill();
    await stack?.down();
    await rm(stack.home, { recursive: true, force: true });
  });

  it('loses no acknowledged event when PostgreSQL is killed mid-stream', async () => {
    // A year nobody tuned for this test: the generator's, with its reconsiderations.
    const lines: string[] = [];
    const year = generateYear({
      seed: ns,
      cases: 160,
      evaluate: true,
      reconsideration: { accepted: 8, concluded: 6, corrected: 2, notAccepted: 1 },
    });
    for (const c of year.stream()) lines.push(JSON.stringify(intake.Command.toJSON(c)));
    const file = join(stack.home, 'year.ndjson');
    await writeFile(file, `${lines.join('\n')}\n`);

    const cli = promisify(execFile)(
      process.execPath,
      [CLI, 'submit', file, '--json', '--quiet', '--intake', svc.address, '--retry-for', '120'],
      { maxBuffer: 16 << 20 },
    ).then(
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    // Kill once a good part of the year is stored, while the CLI still streams.
    await eventually(
      async () => {
        const counts = await Promise.all(svc.store.commits.all().map((c) => c.countDocuments({})));
        return counts.reduce((a, b) => a + b, 0) >= 300 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: '300 stored commits' },
    );
    expect(await checkHealth(svc.address)).toBe('SERVING');
    await stack.killPostgres();
    // Health tells a load balancer the truth while the database is gone...
    await eventually(
      async () => ((await checkHealth(svc.address)) === 'NOT_SERVING' ? true : undefined),
      { timeoutMs: 20_000, what: 'NOT_SERVING without PostgreSQL' },
    );
    expect([...svc.readiness.failing.keys()]).toContain('store');
    await stack.up();
    // ...and recovers by itself once it is back.
    await eventually(
      async () => ((await checkHealth(svc.address)) === 'SERVING' ? true : undefined),
      { timeoutMs: 30_000, what: 'SERVING again' },
    );

    const out = await cli;
    const summary = JSON.parse(out.stdout) as {
      sent: number;
      acked: number;
      rejected: number;
      unanswered: number;
      reconnects: number;
      resent: number;
      problems: unknown[];
    };
    // On a refusal, what intake logged says which error it was not told is transient.
    const cause = [...new Set(logged)].join('\n');
    expect(
      { code: out.code, rejected: summary.rejected, problems: summary.problems },
      `intake logged:\n${cause}`,
    ).toEqual({
      code: 0,
      rejected: 0,
      problems: [],
    });
    expect(summary.acked).toBe(lines.length);
    expect(summary.unanswered).toBe(0);
    // The crash was felt: some commands were answered UNAVAILABLE (sent
    // again in their stream) or went unanswered (sent again in a new one).
    expect(summary.reconnects + summary.resent).toBeGreaterThan(0);

    // Every command's events are in the store...
    const stored = new Map<string, number>();
    for await (const s of svc.store.cases()) stored.set(s.caseId, s.version);
    const expected = new Map<string, number>();
    for (const l of lines) {
      const c = intake.Command.fromJSON(JSON.parse(l));
      const id = c.kind?.value.meta?.caseId ?? '';
      expected.set(id, (expected.get(id) ?? 0) + 1);
    }
    // One event per command.
    expect(Object.fromEntries(stored)).toEqual(Object.fromEntries(expected));

    // ...and on the topic, each version of each case at least once.
    const kafka = new Kafka({ clientId: ns, brokers: stack.brokers, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: uniqueName('check') });
    const seen = new Map<string, Set<number>>();
    await consumer.connect();
    await consumer.subscribe({ topic: topics.caseEvents, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const e = events.CaseEvent.decode(message.value ?? Buffer.alloc(0));
        seen.set(e.caseId, (seen.get(e.caseId) ?? new Set()).add(e.version));
      },
    });
    const total = [...expected.values()].reduce((a, b) => a + b, 0);
    await eventually(
      () => ([...seen.values()].reduce((a, s) => a + s.size, 0) >= total ? true : undefined),
      { timeoutMs: 90_000, what: `${total} distinct events on the topic` },
    );
    await consumer.disconnect();
    for (const [caseId, n] of expected) expect(seen.get(caseId)?.size, caseId).toBe(n);
  }, 400_000);

  it('leaves no collection unusable when PostgreSQL dies while collections are being created', async () => {
    // Read models create collections as data arrives (reporting's pages).
    // FerretDB created a collection's table and its metadata one after the
    // other: a crash between them left a table no metadata named, and every
    // later write to that collection failed "relation already exists", for
    // good (the chaos suite's reporting instance saw it). Collections are
    // created without pause while PostgreSQL is killed three times; then
    // every one of them must take a write and keep it.
    const client = await MongoClient.connect(stack.mongoUri, {
      retryWrites: false,
      serverSelectionTimeoutMS: 2_000,
    });
    const db = client.db('creates');
    const tried: string[] = [];
    let creating = true;
    const creator = (async () => {
      for (let i = 0; creating; i++) {
        const name = `pages_${i}`;
        tried.push(name);
        await db
          .collection(name)
          .updateOne({ _id: 'p' } as never, { $set: { at: i } }, { upsert: true })
          .catch(() => new Promise((r) => setTimeout(r, 20)));
      }
    })();
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 700 + k * 300));
      await stack.killPostgres();
      await stack.up();
    }
    creating = false;
    await creator;
    const broken: string[] = [];
    for (const name of tried) {
      const ok = await eventually(
        () =>
          db
            .collection(name)
            .updateOne({ _id: 'q' } as never, { $set: { ok: true } }, { upsert: true })
            .then(
              () => true,
              () => undefined,
            ),
        { timeoutMs: 10_000, intervalMs: 250, what: `a write to ${name}` },
      ).catch(() => false);
      if (!ok) broken.push(name);
    }
    await client.close();
    expect(tried.length).toBeGreaterThan(30);
    expect(broken).toEqual([]);
  }, 300_000);
});
