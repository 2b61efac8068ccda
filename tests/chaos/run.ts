/**
 * The fault suite: `npm run chaos [-- --trials 3 --cases 150]`.
 *
 * On a private stack (its own Kafka, FerretDB and PostgreSQL), each trial
 * streams a generated year through `enforce submit` into case-intake running
 * as its own process, with supervision-scoring (its own process, rules on the
 * event clock) closing the loop, and at a moment chosen at random while the
 * year streams injects one fault: kill -9 of PostgreSQL, of FerretDB, of
 * intake or of scoring (restarted), or a Kafka restart. After each trial:
 * every command must be acknowledged, every case's history in the store must
 * be the year's (nothing lost, nothing doubled: one commit per version),
 * every version must be on the topic, every history must verify, and the
 * rules' actions in every case's history must be exactly their plan's
 * (`supervisionPlan`, dated as planned), as in a fault-free run. Prints a
 * table and writes docs/chaos/latest.md.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { execSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { events, intake } from '@enforcement/contracts';
import { generateYear } from '@enforcement/generator';
import { checkHealth } from '@enforcement/grpc-kit';
import { namespaced } from '@enforcement/messaging';
import { PrivateStack } from '../support/private-stack.js';
import { startService, type ServiceProcess } from '../bench/processes.js';
import { ruleDifferences } from '../support/rules-oracle.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '2' },
    cases: { type: 'string', default: '150' },
    faults: { type: 'string', default: 'postgres,ferretdb,intake,scoring,kafka' },
  },
});
const TRIALS = Number(args.trials);
const CASES = Number(args.cases);
const ALL_FAULTS = ['postgres', 'ferretdb', 'intake', 'scoring', 'kafka'] as const;
type Fault = (typeof ALL_FAULTS)[number];
const FAULTS = ALL_FAULTS.filter((f) => args.faults.split(',').includes(f));
const CLI = 'apps/cli/dist/main.js';
const log = (s: string) => process.stderr.write(`[chaos] ${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Children of the run that are not services (the CLI's submissions): killed if the run ends early. */
const children = new Set<{ kill(): boolean }>();

/** Brings the stack back after a fault; a port its killed process held a moment longer gets a retry. */
async function upAgain(stack: PrivateStack): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await stack.up();
      return;
    } catch (e) {
      if (attempt === 3) throw e;
      log(`stack did not come back (${(e as Error).message.split('\n')[0]}); again in 3 s`);
      await sleep(3_000);
    }
  }
}

interface Outcome {
  fault: Fault;
  acked: boolean;
  lost: number;
  doubled: number;
  offTopic: number;
  broken: number;
  /** Cases whose rule actions differ from their plan. */
  rulesOff: number;
  recoverySeconds: number;
}

async function trial(stack: PrivateStack, fault: Fault, n: number, dir: string): Promise<Outcome> {
  const ns = `chaos-${fault}-${n}-${Date.now().toString(36)}`;
  const db = ns.replace(/-/g, '_');
  const port = await freePort();
  const env = {
    KAFKA_BROKERS: stack.brokers.join(','),
    MONGODB_URI: stack.mongoUri,
    MONGODB_DB: db,
    TOPIC_NAMESPACE: ns,
    KAFKA_CLIENT_ID: ns,
    GRPC_PORT: String(port),
    INGRESS_ENABLED: 'false',
    HEALTH_CHECK_MS: '500',
    RELAY_SWEEP_AFTER_MS: '2000',
  };
  let svc: ServiceProcess = await startService('case-intake', env);
  const scoringEnv = {
    ...env,
    GRPC_PORT: String(await freePort()),
    MONGODB_DB: `${db}_scoring`,
    INTAKE_ADDRESS: svc.address,
    SCORING_GROUP: `${ns}.scoring`,
    RULES_CLOCK: 'events',
    RULES_TICK_MS: '1000',
  };
  let scoringSvc: ServiceProcess = await startService('supervision-scoring', scoringEnv);
  const year = generateYear({
    seed: ns,
    cases: CASES,
    evaluate: true,
    reconsideration: { accepted: 6, concluded: 4, corrected: 1, notAccepted: 1 },
  });
  const lines: string[] = [];
  const expected = new Map<string, number>();
  for (const c of year.stream()) {
    lines.push(JSON.stringify(intake.Command.toJSON(c)));
    const id = c.kind?.value.meta?.caseId ?? '';
    expected.set(id, (expected.get(id) ?? 0) + 1);
  }
  const file = join(dir, `${ns}.ndjson`);
  await writeFile(file, `${lines.join('\n')}\n`);
  const submission = promisify(execFile)(
    process.execPath,
    [CLI, 'submit', file, '--json', '--quiet', '--intake', svc.address, '--retry-for', '180'],
    { maxBuffer: 32 << 20 },
  );
  // A trial that fails takes its submission with it (see the end of this file).
  children.add(submission.child);
  const cli = submission.then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );

  const mongo = await MongoClient.connect(stack.mongoUri, { retryWrites: false });
  const commits = async () => {
    const names = (await mongo.db(db).listCollections({}, { nameOnly: true }).toArray())
      .map((c) => c.name)
      .filter((name) => name.startsWith('commits'));
    const counts = await Promise.all(
      names.map((name) => mongo.db(db).collection(name).countDocuments({})),
    );
    return counts.reduce((a, b) => a + b, 0);
  };
  // A moment at random while the year streams: after 10% to 60% of it is stored.
  const at = Math.floor(lines.length * (0.1 + Math.random() * 0.5));
  await until(async () => ((await commits()) >= at ? true : undefined), 120_000, `${at} commits`);
  log(`${fault} #${n}: fault after ${at} of ${lines.length} commits`);
  const t0 = Date.now();
  switch (fault) {
    case 'postgres':
      await stack.killPostgres();
      await sleep(1_000);
      await upAgain(stack);
      break;
    case 'ferretdb':
      await stack.stop('ferretdb', 'SIGKILL');
      await sleep(1_000);
      await upAgain(stack);
      break;
    case 'kafka':
      await stack.stop('kafka');
      await sleep(1_000);
      await upAgain(stack);
      break;
    case 'intake':
      await svc.kill();
      await sleep(1_000);
      svc = await startService('case-intake', env);
      break;
    case 'scoring':
      await scoringSvc.kill();
      await sleep(1_000);
      scoringSvc = await startService('supervision-scoring', scoringEnv);
      break;
  }
  await until(
    async () => ((await checkHealth(svc.address, '', 1_000)) === 'SERVING' ? true : undefined),
    120_000,
    'intake SERVING again',
  );
  const recoverySeconds = (Date.now() - t0) / 1000;
  const out = await cli;
  const summary = JSON.parse(out.stdout || '{}') as {
    acked?: number;
    rejected?: number;
    problems?: { code: string; reason: string }[];
  };
  if (summary.problems?.length)
    log(`${fault} #${n}: refused ${JSON.stringify(summary.problems.slice(0, 3))}`);
  const acked = out.code === 0 && summary.acked === lines.length && summary.rejected === 0;

  // The store: one commit per version, every version of every case.
  const stored = new Map<string, number[]>();
  const names = (await mongo.db(db).listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .filter((name) => name.startsWith('commits'));
  for (const name of names)
    for (const d of await mongo
      .db(db)
      .collection<{ caseId: string; fromVersion: number }>(name)
      .find({})
      .toArray())
      stored.set(d.caseId, [...(stored.get(d.caseId) ?? []), d.fromVersion]);
  let lost = 0;
  let doubled = 0;
  for (const [id, want] of expected) {
    const got = stored.get(id) ?? [];
    lost += Math.max(0, want - new Set(got).size);
    doubled += got.length - new Set(got).size;
  }
  await mongo.close();

  // The topic: every version at least once.
  const kafka = new Kafka({ clientId: ns, brokers: stack.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${ns}.check` });
  const seen = new Map<string, Set<number>>();
  const histories = new Map<string, Map<number, events.CaseEvent>>();
  await consumer.connect();
  await consumer.subscribe({ topic: namespaced(ns).caseEvents, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const e = events.CaseEvent.decode(message.value ?? Buffer.alloc(0));
      seen.set(e.caseId, (seen.get(e.caseId) ?? new Set()).add(e.version));
      histories.set(e.caseId, (histories.get(e.caseId) ?? new Map()).set(e.version, e));
    },
  });
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  await until(
    async () => ([...seen.values()].reduce((a, s) => a + s.size, 0) >= total ? true : undefined),
    60_000,
    'every event on the topic',
  ).catch(() => undefined);
  // The rules: every action of every case's plan, dated as planned, up to
  // where its agency's history reaches; nothing else.
  const ordered = () =>
    new Map(
      [...histories].map(([id, h]) => [id, [...h.values()].sort((a, b) => a.version - b.version)]),
    );
  let ruleDiffs: string[] = [];
  await until(
    async () => {
      ruleDiffs = ruleDifferences(ordered());
      return ruleDiffs.length === 0 ? true : undefined;
    },
    120_000,
    'the rules to reach their plan',
  ).catch(() => undefined);
  for (const d of ruleDiffs.slice(0, 3)) log(`${fault} #${n}: rules differ from the plan: ${d}`);
  await consumer.disconnect();
  await scoringSvc.stop();
  let offTopic = 0;
  for (const [id, want] of expected) {
    const missing = Math.max(0, want - (seen.get(id)?.size ?? 0));
    offTopic += missing;
    if (missing > 0)
      log(
        `${fault} #${n}: ${id} stored ${JSON.stringify((stored.get(id) ?? []).sort((a, b) => a - b))}, on the topic ${JSON.stringify([...(seen.get(id) ?? [])].sort((a, b) => a - b))}`,
      );
  }

  // Every history verifies (the audit, through the CLI).
  const audit = await promisify(execFile)(
    process.execPath,
    [CLI, 'audit', '--json', '--intake', svc.address],
    { maxBuffer: 32 << 20 },
  ).then(
    (r) => JSON.parse(r.stdout) as { findings: unknown[] },
    (e: { stdout: string }) =>
      JSON.parse(e.stdout || '{"findings":[0]}') as { findings: unknown[] },
  );
  await svc.stop();
  return {
    fault,
    acked,
    lost,
    doubled,
    offTopic,
    broken: audit.findings.length,
    rulesOff: ruleDiffs.length,
    recoverySeconds,
  };
}

const home = await mkdtemp(join(tmpdir(), 'enforcement-chaos-'));
await chmod(home, 0o755);
const stack = new PrivateStack(home, {
  kafka: 49092,
  kafkaController: 49093,
  ferretdb: 27057,
  ferretdbDebug: 18118,
  postgres: 35432,
});
const outcomes: Outcome[] = [];
try {
  log(`private stack in ${home}`);
  await stack.up();
  for (let n = 1; n <= TRIALS; n++)
    for (const fault of FAULTS) {
      const o = await trial(stack, fault, n, home);
      log(JSON.stringify(o));
      outcomes.push(o);
    }
} finally {
  for (const c of children) c.kill();
  await stack.down().catch(() => undefined);
  await rm(home, { recursive: true, force: true });
}

const rows = FAULTS.map((fault) => {
  const os = outcomes.filter((o) => o.fault === fault);
  const equal = os.filter(
    (o) => o.acked && o.lost + o.doubled + o.offTopic + o.broken + o.rulesOff === 0,
  ).length;
  const sum = (k: 'lost' | 'doubled' | 'offTopic' | 'broken' | 'rulesOff') =>
    os.reduce((a, o) => a + o[k], 0);
  const rec = os.map((o) => o.recoverySeconds);
  const name = {
    postgres: 'kill -9 PostgreSQL',
    ferretdb: 'kill -9 FerretDB',
    intake: 'kill -9 case-intake (restarted)',
    scoring: 'kill -9 supervision-scoring (restarted)',
    kafka: 'Kafka restart',
  }[fault];
  return `| ${name} | ${os.length} | ${equal} | ${sum('lost')} | ${sum('doubled')} | ${sum('offTopic')} | ${sum('broken')} | ${sum('rulesOff')} | ${Math.max(...rec).toFixed(1)} |`;
});
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const md = [
  '# Fault suite results',
  '',
  `\`npm run chaos -- --trials ${TRIALS} --cases ${CASES}\` at ${commit}, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores.`,
  '',
  "Each trial: a generated year streamed through `enforce submit` into case-intake (its own process) on a private stack, supervision-scoring (its own process, rules on the event clock) closing the loop; one fault at a random moment while it streams. \"Equal to truth\": every command acknowledged, every case's history in the store and on the topic exactly the year's, every history verifying, and every case's rule actions exactly its plan's (`supervisionPlan`: what a fault-free run records).",
  '',
  '| fault | trials | equal to truth | lost (store) | doubled (store) | missing on topic | broken histories | rules ≠ plan (cases) | recovery, max s |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  'Not covered yet: faults under reporting (its restarts under Kafka and FerretDB restarts are `tests/faults/restarts.int.test.ts`), several instances of a consumer in one group (the rules with two scoring instances are in `tests/scoring/rules-oracle.int.test.ts`), and comparing the annual figures with a fault-free run.',
  '',
].join('\n');
await mkdir('docs/chaos', { recursive: true });
await writeFile('docs/chaos/latest.md', md);
process.stdout.write(md);
process.exit(
  outcomes.every((o) => o.acked && o.lost + o.doubled + o.offTopic + o.broken + o.rulesOff === 0)
    ? 0
    : 3,
);
