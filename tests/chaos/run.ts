/**
 * The fault suite: `npm run chaos [-- --trials 3 --cases 150]`.
 *
 * On a private stack (its own Kafka, FerretDB and PostgreSQL), each trial
 * streams a generated year through `enforce submit` into case-intake running
 * as its own process (or, with `--via ingress`, publishes it to intake's
 * Kafka ingress, keyed by case), with two supervision-scoring instances in
 * one consumer group (rules on the event clock, closing the loop) and two
 * reporting instances in another. The year is sent evenly over
 * --stream-seconds (30) (through the ingress, what is left after the
 * fault's moment at once), and at a moment chosen at random while it is
 * sent (once 10% to 60% of it is stored) the trial injects one fault:
 * kill -9 of PostgreSQL, of FerretDB, of intake (through the ingress, in
 * the middle of its batches, FerretDB frozen for 1.5 s around it), of one
 * scoring or one reporting instance (restarted), a Kafka restart, or
 * FerretDB frozen (`freeze`: SIGSTOP for --freeze-seconds, 40 by default,
 * its connections left open), through which every service must say
 * NOT_SERVING and after which every one must say SERVING again, PostgreSQL
 * frozen the same way under a FerretDB that goes on taking connections
 * (`pg-freeze`), through which every service must too, every table of the
 * services' databases locked against writes in a PostgreSQL session while
 * reads are answered (`pg-lock`), through which intake must, or Kafka
 * frozen the same way (`kafka-freeze`), through which intake must.
 * On a Kafka cluster (`--brokers 3`) the `broker` fault kills one broker,
 * the first scoring and the first reporting instance at once, and restarts
 * none of them until the trial ends: the survivors must take their
 * partitions over; `broker-freeze` freezes one broker the same way as
 * `kafka-freeze`, after which every service must say SERVING again;
 * `coordinator-freeze` freezes the broker that coordinates scoring's
 * projection group at that moment (its group's joins, heartbeats and
 * commits), the same way. Clients reach each intake through a TCP load balancer of
 * its own; the `failover` fault (`--intakes 2`) freezes Kafka for 1.5 s,
 * kills the first intake for good meanwhile and routes its clients
 * (agencies' submissions, the rules) to the second, whose sweep publishes
 * the dead one's unpublished commits after versions the clients sent next.
 * `--intakes`, `--scorers` and `--reporters` set how many
 * instances of each run; the year's agencies are spread over the intakes,
 * as independent clients would be, and the scoring instances call intake
 * round-robin.
 * After each trial: every command must be acknowledged, every case's history
 * in the store must be the year's (nothing lost, nothing doubled: one commit
 * per version), every version must be on the topic, every history must
 * verify, the rules' actions in every case's history must be exactly their
 * plan's (`supervisionPlan`, dated as planned), the annual figures the rules
 * do not touch must be the generator's truth for the city, every agency and
 * every district, and every agency's year score must be what the scoring
 * model gives on the histories: what a fault-free run gives. A trial has a
 * deadline (--trial-minutes); one that passes it counts as not equal. Prints
 * a table and writes docs/chaos/latest.md.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { execSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { credentials, Metadata } from '@grpc/grpc-js';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { events, intake, reporting, scoring } from '@enforcement/contracts';
import { generateYear } from '@enforcement/generator';
import {
  contributionOf,
  emptyView,
  MODEL_V1,
  rollupDeltas,
  scoreCase,
} from '@enforcement/supervision-scoring';
import { checkHealth } from '@enforcement/grpc-kit';
import { namespaced } from '@enforcement/messaging';
import { PrivateStack } from '../support/private-stack.js';
import { startService, type ServiceProcess } from '../bench/processes.js';
import { EQUAL_TO_TRUTH } from '../support/chaos-trial.js';
import { figureDifferences } from '../support/figures.js';
import { groupCoordinator, groupsUnder } from '../support/group-coordinator.js';
import { ruleDifferences } from '../support/rules-oracle.js';
import { modelViews } from '../support/score-model.js';
import { splitByAgency } from '../support/submit.js';
import { ingressFeed } from '../support/ingress-feed.js';
import { tcpProxy } from '../support/tcp-proxy.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '2' },
    cases: { type: 'string', default: '150' },
    faults: {
      type: 'string',
      default:
        'postgres,ferretdb,freeze,pg-freeze,pg-lock,intake,scoring,reporting,kafka,kafka-freeze',
    },
    /** How long the `freeze`, `pg-freeze`, `pg-lock`, `kafka-freeze`, `broker-freeze` and `coordinator-freeze` faults hold the database, Kafka or a broker still. */
    'freeze-seconds': { type: 'string', default: '40' },
    'trial-minutes': { type: 'string', default: '12' },
    /** How long the year takes to send: it is paced, so that each fault comes while it streams. */
    'stream-seconds': { type: 'string', default: '30' },
    brokers: { type: 'string', default: '1' },
    intakes: { type: 'string', default: '1' },
    scorers: { type: 'string', default: '2' },
    reporters: { type: 'string', default: '2' },
    /**
     * How the agencies send the year: `stream` (through \`enforce submit\`,
     * SubmitEvents) or `ingress` (published to intake's submissions topic,
     * keyed by case, and answered on its receipts topic).
     */
    via: { type: 'string', default: 'stream' },
    /** Added to every port of the private stack (a test runs beside a developer's suite). */
    'port-offset': { type: 'string', default: '0' },
    out: { type: 'string', default: 'docs/chaos/latest.md' },
  },
});
const TRIALS = Number(args.trials);
const CASES = Number(args.cases);
const TRIAL_MS = Number(args['trial-minutes']) * 60_000;
const FREEZE_MS = Number(args['freeze-seconds']) * 1000;
const STREAM_MS = Number(args['stream-seconds']) * 1000;
/**
 * Intake, with Kafka frozen, is asked for its health only when it stored
 * something in this first part of the freeze (ms): a send then waits, and
 * 10 s later its readiness must say so.
 */
const KAFKA_FREEZE_WORK_MS = 10_000;
/** How long a database command may wait before a service says NOT_SERVING (STORE_STALL_MS's default). */
const STORE_STALL_MS = 15_000;
/** The commit built and run: read at the start, since the checkout may move while trials run. */
const commit = execSync('git rev-parse --short HEAD').toString().trim();
const ALL_FAULTS = [
  'postgres',
  'ferretdb',
  'freeze',
  'pg-freeze',
  'pg-lock',
  'intake',
  'scoring',
  'reporting',
  'kafka',
  'kafka-freeze',
  'broker',
  'broker-freeze',
  'coordinator-freeze',
  'failover',
] as const;
type Fault = (typeof ALL_FAULTS)[number];
const FAULTS = ALL_FAULTS.filter((f) => args.faults.split(',').includes(f));
const BROKERS = Number(args.brokers);
const INTAKES = Number(args.intakes);
const SCORERS = Number(args.scorers);
const REPORTERS = Number(args.reporters);
const OUT = args.out;
const VIA = args.via;
if (VIA !== 'stream' && VIA !== 'ingress') throw new Error('--via takes stream or ingress');
for (const [flag, n, min] of [
  ['--brokers', BROKERS, 1],
  ['--intakes', INTAKES, 1],
  ['--scorers', SCORERS, 2],
  ['--reporters', REPORTERS, 2],
] as const)
  if (!Number.isInteger(n) || n < min || n > 9) throw new Error(`${flag} takes ${min} to 9`);
for (const f of ['broker', 'broker-freeze', 'coordinator-freeze'] as const)
  if (FAULTS.includes(f) && BROKERS < 3)
    throw new Error(`the ${f} fault needs a cluster that survives one: --brokers 3`);
if (!(FREEZE_MS >= 30_000))
  throw new Error('--freeze-seconds takes 30 or more (a freeze must outlast what is asked of it)');
if (FAULTS.includes('kafka-freeze') && BROKERS > 1)
  throw new Error('the kafka-freeze fault freezes a single-node Kafka: --brokers 1');
if (FAULTS.includes('failover') && INTAKES < 2)
  throw new Error('the failover fault needs an instance of intake to fail over to: --intakes 2');
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
/** The services of the trial under way: stopped when it ends, however it ends. */
const services = new Set<ServiceProcess>();
const start = async (name: Parameters<typeof startService>[0], env: Record<string, string>) => {
  const svc = await startService(name, env);
  services.add(svc);
  return svc;
};

/** Agencies whose 2021 score listing differs from the scoring model run on the histories. */
function scoreDifferences(
  histories: ReadonlyMap<string, readonly events.CaseEvent[]>,
  rows: readonly scoring.ScoreRow[],
): string[] {
  const want = new Map<string, { cases: number; scoreSum: number }>();
  for (const view of modelViews(histories).values()) {
    for (const d of rollupDeltas(null, contributionOf(view, scoreCase(view, MODEL_V1))))
      if (d.groupBy === 'AGENCY' && d.period === '2021') {
        const w = want.get(d.key) ?? { cases: 0, scoreSum: 0 };
        w.cases += d.inc.cases ?? 0;
        w.scoreSum += d.inc.scoreSum ?? 0;
        want.set(d.key, w);
      }
  }
  const got = new Map(rows.map((r) => [r.key, r]));
  const out: string[] = [];
  for (const [key, w] of want) {
    const r = got.get(key);
    const mean = w.scoreSum / w.cases;
    if (!r || Number(r.cases) !== w.cases || Math.abs(r.meanScore - mean) > 0.006)
      out.push(
        `${key}: ${r ? `${r.cases} cases, mean ${r.meanScore}` : 'missing'} ≠ ${w.cases}, ${mean.toFixed(2)}`,
      );
  }
  for (const key of got.keys()) if (!want.has(key)) out.push(`${key}: listed, no case concluded`);
  return out;
}

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
  /** Groups whose rule-free annual figures differ from the truth. */
  figuresOff: number;
  /** Agencies whose year score differs from the model's on the histories. */
  scoresOff: number;
  /**
   * Services that answered SERVING to a health check late into a freeze, or
   * never said otherwise (the `freeze` and `kafka-freeze` faults): serving
   * while nothing can move.
   */
  servedFrozen: number;
  /** The trial passed its deadline. */
  timedOut: boolean;
  recoverySeconds: number;
}

const equalToTruth = (o: Outcome) =>
  o.acked &&
  !o.timedOut &&
  o.lost +
    o.doubled +
    o.offTopic +
    o.broken +
    o.rulesOff +
    o.figuresOff +
    o.scoresOff +
    o.servedFrozen ===
    0;

async function trial(stack: PrivateStack, fault: Fault, n: number): Promise<Outcome> {
  const ns = `chaos-${fault}-${n}-${Date.now().toString(36)}`;
  const db = ns.replace(/-/g, '_');
  const env = {
    KAFKA_BROKERS: stack.brokers.join(','),
    MONGODB_URI: stack.mongoUri,
    MONGODB_DB: db,
    TOPIC_NAMESPACE: ns,
    KAFKA_CLIENT_ID: ns,
    INGRESS_ENABLED: String(VIA === 'ingress'),
    HEALTH_CHECK_MS: '500',
    RELAY_SWEEP_AFTER_MS: '2000',
  };
  // Each intake keeps its port, so a restarted one is where its clients left it.
  const intakeEnvs = await Promise.all(
    Array.from({ length: INTAKES }, async () => ({ ...env, GRPC_PORT: String(await freePort()) })),
  );
  const intakes: ServiceProcess[] = [];
  for (const e of intakeEnvs) intakes.push(await start('case-intake', e));
  /** Instances killed for good (until the trial ends): the checks read the others. */
  const gone = new Set<ServiceProcess>();
  const svc = () => intakes.find((i) => !gone.has(i)) as ServiceProcess;
  // Clients reach each instance through a load balancer of its own, as
  // through a Kubernetes Service: the failover fault routes one elsewhere.
  const balancers = await Promise.all(intakes.map((i) => tcpProxy(i.address)));
  let nth = 0;
  const scoringEnv = async () => ({
    ...env,
    GRPC_PORT: String(await freePort()),
    MONGODB_DB: `${db}_scoring`,
    INTAKE_ADDRESS: (balancers[nth++ % INTAKES] as { address: string }).address,
    SCORING_GROUP: `${ns}.scoring`,
    RULES_CLOCK: 'events',
    RULES_TICK_MS: '1000',
  });
  const reportingEnv = async () => ({
    ...env,
    GRPC_PORT: String(await freePort()),
    MONGODB_DB: `${db}_reporting`,
    REPORTING_GROUP: `${ns}.reporting`,
  });
  // Instances of each consumer, one group each: the fault hits the first.
  const scorers: ServiceProcess[] = [];
  for (let i = 0; i < SCORERS; i++)
    scorers.push(await start('supervision-scoring', await scoringEnv()));
  const reporters: ServiceProcess[] = [];
  for (let i = 0; i < REPORTERS; i++)
    reporters.push(await start('reporting', await reportingEnv()));
  const year = yearFor(ns);
  const lines: string[] = [];
  const expected = new Map<string, number>();
  for (const c of year.stream()) {
    lines.push(JSON.stringify(intake.Command.toJSON(c)));
    const id = c.kind?.value.meta?.caseId ?? '';
    expected.set(id, (expected.get(id) ?? 0) + 1);
  }
  // Each agency's commands go to one intake, as an agency's own client would send them.
  const perIntake = splitByAgency(year.stream(), INTAKES).map((part) =>
    part.map((c) => JSON.stringify(intake.Command.toJSON(c))),
  );
  // The fault comes at a moment at random while the year is sent: once 10%
  // to 60% of it is stored. Each submission is paced over STREAM_MS so that
  // the rest is still to send then. (From 0876c4a until 2026-12-06 the trial
  // waited for every submission to end before choosing the moment: every
  // fault came after the year was sent.) Through the ingress, what is left
  // after `from` is published at once, and the fault comes once an eighth
  // of it is stored: the ingress is then in the middle of its batches, with
  // submissions stored and not yet answered. (Paced to the end, the ingress
  // stored each slice in moments and was idle between: a kill almost never
  // found a batch under way, and an ingress that committed its offsets
  // before storing passed.)
  const from = Math.floor(lines.length * (0.1 + Math.random() * 0.5));
  const at = VIA === 'ingress' ? from + Math.floor((lines.length - from) / 8) : from;
  const submissions: Promise<Submission>[] =
    VIA === 'ingress'
      ? [throughIngress(stack.brokers, ns, [...year.stream()], from)]
      : perIntake.map((part, i) =>
          throughStream(part, (balancers[i] as { address: string }).address),
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
  await until(async () => ((await commits()) >= at ? true : undefined), 120_000, `${at} commits`);
  log(`${fault} #${n}: fault after ${at} of ${lines.length} commits`);
  const t0 = Date.now();
  const live = () => [...intakes, ...scorers, ...reporters].filter((s) => !gone.has(s));
  const secs = (ms: number | undefined) =>
    ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`;
  /** Waits for every live service to say SERVING again after a fault. */
  const servingAgain = async (after: string) => {
    for (const s of live())
      await until(
        async () => ((await checkHealth(s.address, '', 1_000)) === 'SERVING' ? true : undefined),
        180_000,
        `${s.name} SERVING again after ${after}`,
      );
  };
  /**
   * Freezes the database or Kafka (SIGSTOP) for FREEZE_MS, its connections
   * left open, and asks each of `services` for its health every half second:
   * from `noticeMs` into the freeze until it ends, none may say SERVING
   * while nothing can move (a check with no answer counts as not serving,
   * as for a load balancer). Then waits for every service to say SERVING
   * again. Returns how many of `services` said SERVING too late or never
   * said otherwise. With Kafka frozen, intake can tell only once it has
   * something to publish: when it stored nothing in the first
   * KAFKA_FREEZE_WORK_MS (the year's agencies may have sent everything
   * already), it is not asked.
   */
  const frozen = async (
    part: 'store' | 'postgres' | 'kafka' | { broker: number },
    services: ServiceProcess[],
    noticeMs: number,
  ): Promise<number> => {
    const freeze = (on: boolean) =>
      part === 'store'
        ? stack.freezeStore(on)
        : part === 'postgres'
          ? stack.freezePostgres(on)
          : part === 'kafka'
            ? stack.freezeKafka(on)
            : stack.freezeBroker(part.broker, on);
    let probed = services;
    const firstNot = new Map<ServiceProcess, number>();
    const servingLate = new Map<ServiceProcess, number>();
    // With Kafka frozen the store still answers: what intake stored meanwhile.
    const storedBefore = part === 'kafka' ? await commits() : 0;
    let storedEarly: number | undefined;
    freeze(true);
    try {
      while (Date.now() - t0 < FREEZE_MS) {
        if (
          part === 'kafka' &&
          storedEarly === undefined &&
          Date.now() - t0 >= KAFKA_FREEZE_WORK_MS
        )
          storedEarly = (await commits()) - storedBefore;
        await Promise.all(
          probed.map(async (s) => {
            const at = Date.now() - t0;
            const said = await checkHealth(s.address, '', 1_000).catch(() => 'no answer');
            if (said !== 'SERVING') {
              if (!firstNot.has(s)) firstNot.set(s, at);
            } else if (at >= noticeMs) servingLate.set(s, (servingLate.get(s) ?? 0) + 1);
          }),
        );
        await sleep(500);
      }
      if (part === 'kafka')
        log(
          `${fault} #${n}: commits stored while frozen: ${storedEarly} in its first ${KAFKA_FREEZE_WORK_MS / 1000} s, ${(await commits()) - storedBefore} in all`,
        );
    } finally {
      freeze(false);
    }
    if (storedEarly === 0) {
      log(`${fault} #${n}: nothing to publish early in the freeze; intake's health not asked`);
      probed = [];
    }
    if (probed.length > 0)
      log(
        `${fault} #${n}: not serving from ${probed.map((s) => `${s.name} ${secs(firstNot.get(s))}${servingLate.has(s) ? ` (SERVING ${servingLate.get(s)} times after ${noticeMs / 1000} s)` : ''}`).join(', ')}`,
      );
    await servingAgain('the freeze');
    return probed.filter((s) => !firstNot.has(s) || servingLate.has(s)).length;
  };
  /**
   * Locks every table of the services' databases against writes for
   * FREEZE_MS in a PostgreSQL session (reads and `ping` answered), and
   * every half second asks PostgreSQL whose writes wait (pg_stat_activity)
   * and every service for its health. Once a kind's database has had a
   * write waiting STORE_STALL_MS and a few health rounds more, at least one
   * instance of that kind must say it is not serving (a kind's instances
   * share its database, so which of them waits is not known from outside;
   * a kind with nothing left to write is not asked). Then waits for every
   * service to say SERVING again. Returns how many of the probes found a
   * kind all SERVING with a write of its database waiting that long.
   */
  const locked = async (): Promise<number> => {
    const kinds = [
      { name: 'case-intake', schema: db, of: intakes },
      { name: 'supervision-scoring', schema: `${db}_scoring`, of: scorers },
      { name: 'reporting', schema: `${db}_reporting`, of: reporters },
    ];
    const dueMs = STORE_STALL_MS + 3_000;
    const longest = new Map<string, number>();
    const firstNot = new Map<string, number>();
    let served = 0;
    const unlock = await stack.lockWrites(kinds.map((k) => k.schema));
    try {
      while (Date.now() - t0 < FREEZE_MS) {
        const waits = await stack.lockWaits();
        await Promise.all(
          kinds.map(async (k) => {
            const waited = waits.get(k.schema) ?? 0;
            longest.set(k.name, Math.max(longest.get(k.name) ?? 0, waited));
            const said = await Promise.all(
              k.of
                .filter((s) => !gone.has(s))
                .map((s) => checkHealth(s.address, '', 1_000).catch(() => 'no answer')),
            );
            if (said.some((h) => h !== 'SERVING')) {
              if (!firstNot.has(k.name)) firstNot.set(k.name, Date.now() - t0);
            } else if (waited >= dueMs) served++;
          }),
        );
        await sleep(500);
      }
    } finally {
      await unlock();
    }
    log(
      `${fault} #${n}: ${kinds.map((k) => `${k.name}: a write waiting up to ${secs(longest.get(k.name))}, not serving from ${secs(firstNot.get(k.name))}`).join('; ')}${served > 0 ? `; ${served} probes found a kind serving with a write waiting past ${dueMs / 1000} s` : ''}`,
    );
    await servingAgain('the lock');
    return served;
  };
  let servedFrozen = 0;
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
    case 'freeze':
      // The database stops answering and closes nothing (a hung disk, a
      // stalled host), for longer than Kafka's session timeout (30 s) and
      // the driver's monitoring timeout (30 s): what a service waits on must
      // have a deadline, and every service's health must say so (a
      // readiness round's deadline is 3 s).
      servedFrozen = await frozen('store', live(), 10_000);
      break;
    case 'pg-freeze':
      // The database behind FerretDB stops answering, FerretDB itself does
      // not: connections are taken and the wire protocol read, and every
      // command waits on the backend. A health check that only asked
      // whether FerretDB answers would say SERVING throughout.
      servedFrozen = await frozen('postgres', live(), 10_000);
      break;
    case 'pg-lock':
      // Another session locks every table of the services' databases
      // against writes: FerretDB and PostgreSQL answer `ping` and every
      // read, and every write waits, up to the driver's 60 s socket
      // timeout. Whichever service has a write waiting must say so once it
      // has waited STORE_STALL_MS.
      servedFrozen = await locked();
      break;
    case 'kafka-freeze':
      // The broker stops answering the same way. Intake, which cannot
      // publish what it stores, must say so once a send has had no answer
      // for 10 s (kafkajs fails it only at its 30 s request timeout); scoring
      // and reporting still answer from their read models, so their health
      // is not asked, only their recovery after it.
      servedFrozen = await frozen(
        'kafka',
        intakes.filter((s) => !gone.has(s)),
        KAFKA_FREEZE_WORK_MS + 12_000,
      );
      break;
    case 'broker-freeze': {
      // One broker of three stops answering and closes nothing: the others
      // fence it and lead its partitions, while what was sent to it waits
      // for a deadline and, with acks=all, writes wait until the in-sync
      // replicas drop it (30 s). Whether a service's health notices depends
      // on which partitions it waited on, so only recovery is asked, and
      // the truth after.
      const node = Number(process.env.CHAOS_BROKER_NODE) || 1 + Math.floor(Math.random() * BROKERS);
      log(`${fault} #${n}: kafka node ${node} frozen`);
      servedFrozen = await frozen({ broker: node }, [], 0);
      break;
    }
    case 'coordinator-freeze': {
      // The broker that coordinates scoring's projection group: the group's
      // members' heartbeats and commits wait on it, and once the others
      // fence it, its offsets partitions (and so the group) move to a
      // broker the members must find. Scoring must rejoin and judge every
      // case it owns, as `broker-freeze` asks of it.
      const [group] = await groupsUnder(stack.brokers, `${ns}.scoring.projection.`);
      const node = group === undefined ? undefined : await groupCoordinator(stack.brokers, group);
      if (group === undefined || node === undefined)
        throw new Error(
          `no coordinator found for scoring's projection group (${group ?? 'none listed'})`,
        );
      const shared = [];
      for (const other of await groupsUnder(stack.brokers, `${ns}.`))
        if (other !== group && (await groupCoordinator(stack.brokers, other)) === node)
          shared.push(other);
      log(
        `${fault} #${n}: kafka node ${node}, coordinator of ${group}${shared.length > 0 ? ` and ${shared.join(', ')}` : ''}, frozen`,
      );
      servedFrozen = await frozen({ broker: node }, [], 0);
      break;
    }
    case 'kafka':
      await stack.stop('kafka');
      await sleep(1_000);
      await upAgain(stack);
      break;
    case 'intake':
      if (VIA === 'ingress') {
        // The first instance dies in the middle of its batches: with the
        // store still a moment, what it stored waits for its receipts (and
        // its offsets for both), and the rest for the store.
        stack.freezeStore(true);
        try {
          await sleep(1_500);
          await svc().kill();
        } finally {
          stack.freezeStore(false);
        }
      } else await svc().kill();
      await sleep(1_000);
      intakes[0] = await start('case-intake', intakeEnvs[0] ?? env);
      break;
    case 'failover': {
      // The first instance dies with commits stored and not yet published
      // (Kafka is frozen a moment first, so that some are: its relay waits
      // while it stores); its clients (agencies, the rules) are routed to
      // the second, whose sweep publishes those commits after versions the
      // clients send next.
      const dead = intakes[0] as ServiceProcess;
      stack.freezeKafka(true);
      try {
        await sleep(1_500);
        await dead.kill();
        gone.add(dead);
        balancers[0]?.route((intakes[1] as ServiceProcess).address);
      } finally {
        stack.freezeKafka(false);
      }
      // Both instances' documents: the living one's go as soon as Kafka takes its sends.
      const waiting = await mongo.db(db).collection('outbox').countDocuments({});
      log(`${fault} #${n}: ${waiting} outbox documents when Kafka went on (both instances')`);
      break;
    }
    case 'broker': {
      // One broker of three, and the first instance of each consumer, at once.
      const node = Number(process.env.CHAOS_BROKER_NODE) || 1 + Math.floor(Math.random() * BROKERS);
      log(`${fault} #${n}: kill -9 of kafka node ${node}, scoring 1 and reporting 1`);
      await Promise.all([
        stack.stopBroker(node, 'SIGKILL'),
        scorers[0]?.kill(),
        reporters[0]?.kill(),
      ]);
      gone.add(scorers[0] as ServiceProcess).add(reporters[0] as ServiceProcess);
      break;
    }
    case 'scoring':
      await scorers[0]?.kill();
      await sleep(1_000);
      scorers[0] = await start('supervision-scoring', await scoringEnv());
      break;
    case 'reporting':
      await reporters[0]?.kill();
      await sleep(1_000);
      reporters[0] = await start('reporting', await reportingEnv());
      break;
  }
  for (const i of intakes.filter((x) => !gone.has(x)))
    await until(
      async () => ((await checkHealth(i.address, '', 1_000)) === 'SERVING' ? true : undefined),
      120_000,
      'intake SERVING again',
    );
  const recoverySeconds = (Date.now() - t0) / 1000;
  let acked = true;
  for (const out of await Promise.all(submissions)) {
    const summary = JSON.parse(out.stdout || '{}') as {
      acked?: number;
      rejected?: number;
      problems?: { code: string; reason: string }[];
    };
    if (summary.problems?.length)
      log(`${fault} #${n}: refused ${JSON.stringify(summary.problems.slice(0, 3))}`);
    acked &&= out.code === 0 && summary.acked === out.sent && summary.rejected === 0;
  }
  const reporter = reporters.find((r) => !gone.has(r));
  const scorer = scorers.find((r) => !gone.has(r));

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
  const storedVersions = async () => {
    const out = new Map<string, Set<number>>();
    for (const name of names)
      for (const d of await mongo
        .db(db)
        .collection<{ caseId: string; fromVersion: number; toVersion: number }>(name)
        .find({}, { projection: { caseId: 1, fromVersion: 1, toVersion: 1 } })
        .toArray())
        for (let v = d.fromVersion; v <= d.toVersion; v++)
          out.set(d.caseId, (out.get(d.caseId) ?? new Set()).add(v));
    return out;
  };

  // The topic: every version at least once.
  const kafka = new Kafka({ clientId: ns, brokers: stack.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `${ns}.check` });
  const seen = new Map<string, Set<number>>();
  const histories = new Map<string, Map<number, events.CaseEvent>>();
  /** The next offset to read, per partition. */
  const read = new Map<number, number>();
  // A broker the fault killed may still lead partitions until the cluster
  // notices (seconds): the check's own calls are retried until it has.
  await until(() => consumer.connect().then(() => true), 60_000, 'the check to connect');
  await consumer.subscribe({ topic: namespaced(ns).caseEvents, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const e = events.CaseEvent.decode(message.value ?? Buffer.alloc(0));
      seen.set(e.caseId, (seen.get(e.caseId) ?? new Set()).add(e.version));
      histories.set(e.caseId, (histories.get(e.caseId) ?? new Map()).set(e.version, e));
      read.set(partition, Number(message.offset) + 1);
    },
  });
  // Every partition read to its end as of now (the count of events is no
  // guide: the rules add their own).
  const ends = await until(
    async () => {
      const admin = kafka.admin();
      try {
        await admin.connect();
        return await admin.fetchTopicOffsets(namespaced(ns).caseEvents);
      } finally {
        await admin.disconnect();
      }
    },
    60_000,
    'the end offsets of the topic',
  );
  await until(
    async () =>
      ends.every((p) => (read.get(p.partition) ?? 0) >= Number(p.high)) ? true : undefined,
    180_000,
    'the check to read every partition of the topic to its end',
  );
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
  for (const d of ruleDiffs.slice(0, 3))
    log(`${fault} #${n}: rules differ from the plan: ${d.replace(/\n\s*/g, ' / ')}`);
  if (ruleDiffs.length > 0) {
    // What each live scoring instance says of its rules, for the diagnosis.
    const status = new Metadata();
    status.set(
      'authorization',
      `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'chaos', roles: ['supervisor'], agencies: ['*'] })}`,
    );
    for (const s of scorers.filter((x) => !gone.has(x))) {
      const c = new scoring.ScoringServiceClient(s.address, credentials.createInsecure());
      const r = await new Promise<scoring.GetRulesStatusResponse | string>((resolve) =>
        c.getRulesStatus({}, status, { deadline: Date.now() + 10_000 }, (e, res) =>
          resolve(e ? e.message : res),
        ),
      );
      c.close();
      log(`${fault} #${n}: rules status of ${s.address}: ${JSON.stringify(r)}`);
    }
  }
  // Everything stored reaches the topic, the rules' actions too: a version in
  // the store and not on the topic is one the relay never published.
  let unpublished: string[] = [];
  await until(
    async () => {
      unpublished = [];
      for (const [id, versions] of await storedVersions())
        for (const v of versions) if (!seen.get(id)?.has(v)) unpublished.push(`${id}@${v}`);
      return unpublished.length === 0 ? true : undefined;
    },
    60_000,
    'every stored version on the topic',
  ).catch(() => undefined);
  if (unpublished.length > 0)
    log(
      `${fault} #${n}: ${unpublished.length} stored versions not on the topic: ${unpublished.slice(0, 5).join(' ')}`,
    );
  await mongo.close();
  await consumer.disconnect();

  // The annual figures and the scores, from the instance the fault hit (or,
  // when it stays down, from a survivor).
  const md = new Metadata();
  md.set(
    'authorization',
    `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'chaos', roles: ['supervisor', 'reporting'], agencies: ['*'] })}`,
  );
  const call = <Res>(f: (cb: (e: Error | null, r: Res) => void) => void) =>
    new Promise<Res>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
  const deadline = () => ({ deadline: Date.now() + 30_000 });
  const rClient = new reporting.ReportingServiceClient(
    reporter?.address ?? '',
    credentials.createInsecure(),
  );
  const stats = (groupBy: reporting.StatisticsGroupBy) =>
    call<reporting.GetAnnualStatisticsResponse>((cb) =>
      rClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy }),
        md,
        deadline(),
        cb,
      ),
    );
  let figureDiffs: string[] = ['not read'];
  let figuresAt = '';
  await until(
    async () => {
      const byAgency = await stats(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY);
      figuresAt = `as of ${byAgency.asOf?.toISOString()}, position ${byAgency.position}`;
      figureDiffs = figureDifferences(
        byAgency,
        await stats(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DISTRICT),
        year.truth,
      );
      return figureDiffs.length === 0 ? true : undefined;
    },
    90_000,
    'the annual figures to reach the truth',
  ).catch(() => undefined);
  rClient.close();
  for (const d of figureDiffs.slice(0, 3))
    log(`${fault} #${n}: figures differ (${figuresAt}): ${d}`);

  const sClient = new scoring.ScoringServiceClient(
    scorer?.address ?? '',
    credentials.createInsecure(),
  );
  let scoreDiffs: string[] = ['not read'];
  await until(
    async () => {
      const listing = await call<scoring.ListScoresResponse>((cb) =>
        sClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
            pageSize: 500,
          }),
          md,
          deadline(),
          cb,
        ),
      );
      scoreDiffs = scoreDifferences(ordered(), listing.rows);
      return scoreDiffs.length === 0 ? true : undefined;
    },
    60_000,
    'the scores to reach the model',
  ).catch(() => undefined);
  for (const d of scoreDiffs.slice(0, 3)) log(`${fault} #${n}: scores differ: ${d}`);
  if (scoreDiffs.length > 0) {
    // Which cases: each one's score beside the model's, indicator by indicator.
    let shown = 0;
    const views = modelViews(ordered());
    for (const [id, h] of ordered()) {
      const view = views.get(id) ?? emptyView(id);
      const want = scoreCase(view, MODEL_V1);
      if (!want || shown >= 5) continue;
      const got = await call<scoring.GetCaseScoreResponse>((cb) =>
        sClient.getCaseScore({ caseId: id }, md, deadline(), cb),
      ).catch((e: Error) => ({ score: undefined, error: e.message }));
      if (Math.abs((got.score?.score ?? -1) - want.score) < 0.005) continue;
      shown++;
      const points = (list: readonly { indicator: string | number; points: number }[]) =>
        list.map((i) => `${i.indicator}=${i.points}`).join(' ');
      log(
        `${fault} #${n}: ${id}: scored ${got.score?.score} (${points(got.score?.indicators ?? [])}), model ${want.score} (${points(want.indicators)}); history ${h.map((e) => `${e.version}:${e.payload?.$case ?? ''}`).join(' ')}`,
      );
    }
  }
  sClient.close();
  for (const p of [...scorers, ...reporters]) await p.stop();
  let offTopic = unpublished.length;
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
    [CLI, 'audit', '--json', '--intake', svc().address],
    { maxBuffer: 32 << 20 },
  ).then(
    (r) => JSON.parse(r.stdout) as { findings: unknown[] },
    (e: { stdout: string }) =>
      JSON.parse(e.stdout || '{"findings":[0]}') as { findings: unknown[] },
  );
  for (const i of intakes) await i.stop();
  for (const b of balancers) await b.close();
  return {
    fault,
    acked,
    lost,
    doubled,
    offTopic,
    broken: audit.findings.length,
    rulesOff: ruleDiffs.length,
    figuresOff: figureDiffs.length,
    scoresOff: scoreDiffs.length,
    servedFrozen,
    timedOut: false,
    recoverySeconds,
  };
}

/** What a submission of the year reported: its exit code and summary, and how many commands it sent. */
interface Submission {
  code: number;
  stdout: string;
  sent: number;
}

/** Calls `send` with `items` in slices spread evenly over `ms`. */
async function paced<T>(
  items: readonly T[],
  send: (slice: T[]) => Promise<void>,
  ms = STREAM_MS,
): Promise<void> {
  const slices = Math.max(1, Math.ceil(ms / 100));
  const size = Math.max(1, Math.ceil(items.length / slices));
  const t0 = Date.now();
  for (let i = 0, k = 1; i < items.length; i += size, k++) {
    await send(items.slice(i, i + size));
    await sleep(Math.max(0, t0 + (k * ms) / slices - Date.now()));
  }
}

/** `lines` through `enforce submit` on its standard input, paced, to the intake at `address`. */
function throughStream(lines: readonly string[], address: string): Promise<Submission> {
  const submission = promisify(execFile)(
    process.execPath,
    [CLI, 'submit', '-', '--json', '--quiet', '--intake', address, '--retry-for', '180'],
    { maxBuffer: 32 << 20 },
  );
  // A trial that fails takes its submission with it (see the end of this file).
  children.add(submission.child);
  const stdin = submission.child.stdin;
  if (!stdin) throw new Error('enforce submit has no standard input');
  // A CLI that stopped early (a refused token) says why in its summary.
  stdin.on('error', () => undefined);
  const writing = paced(
    lines,
    (slice) =>
      new Promise<void>((resolve) => stdin.write(`${slice.join('\n')}\n`, () => resolve())),
  ).finally(() => stdin.end());
  const ended = submission.then(
    (r) => ({ code: 0, stdout: r.stdout, sent: lines.length }),
    (e: { code: number; stdout: string }) => ({
      code: e.code,
      stdout: e.stdout,
      sent: lines.length,
    }),
  );
  return Promise.all([writing, ended]).then(([, r]) => r);
}

/**
 * `commands` published to intake's submissions topic as agencies' producers
 * would (keyed by case): those before `burst` paced over their share of
 * STREAM_MS, the rest at once. Answered when every one has a receipt,
 * summed up as `enforce submit --json` sums up a stream.
 */
async function throughIngress(
  brokers: string[],
  ns: string,
  commands: intake.Command[],
  burst: number,
): Promise<Submission> {
  const token = await mintDevToken(DEV_AUTH, {
    subject: 'agencies',
    roles: ['agency', 'supervisor'],
    agencies: ['*'],
  });
  const feed = await ingressFeed({
    brokers,
    topics: namespaced(ns),
    commands,
    bearer: `Bearer ${token}`,
    group: `${ns}.receipts`,
  });
  children.add({ kill: () => (void feed.close(), true) });
  const sent = commands.length;
  try {
    const order = commands.slice(0, burst).map((_, i) => i);
    await paced(
      order,
      (slice) => feed.publish(slice[0], (slice.at(-1) ?? 0) + 1),
      (STREAM_MS * burst) / commands.length,
    );
    await feed.publish(burst);
    await feed.answered(sent, TRIAL_MS);
  } catch (e) {
    log(`the ingress: ${(e as Error).message}`);
  } finally {
    await feed.close();
  }
  const receipts = [...feed.receipts.values()];
  const refused = receipts.filter((r) => !r.accepted);
  return {
    code: receipts.length === sent ? 0 : 1,
    stdout: JSON.stringify({
      acked: receipts.length,
      rejected: refused.length,
      problems: refused.map((r) => ({ code: r.errorCode, reason: r.reason })),
    }),
    sent,
  };
}

/** A trial within its deadline; whatever it leaves running is stopped. */
async function boundedTrial(stack: PrivateStack, fault: Fault, n: number): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      log(`${fault} #${n}: no result after ${TRIAL_MS / 60_000} minutes`);
      resolve(failed(fault));
    }, TRIAL_MS);
  });
  try {
    return await Promise.race([
      trial(stack, fault, n).catch((e: unknown) => {
        // A trial that breaks (its stack did not come back, a service did
        // not start) is a trial that did not hold; the run goes on.
        log(`${fault} #${n}: the trial broke: ${(e as Error).message.split('\n')[0]}`);
        return { ...failed(fault), timedOut: false };
      }),
      late,
    ]);
  } finally {
    clearTimeout(timer);
    for (const c of children) c.kill();
    children.clear();
    for (const svc of services) await svc.kill();
    services.clear();
    // A trial that broke mid-freeze leaves the database or Kafka going on again.
    if (fault === 'freeze') stack.freezeStore(false);
    if (fault === 'pg-freeze') stack.freezePostgres(false);
    if (fault === 'kafka-freeze') stack.freezeKafka(false);
    if (fault === 'broker-freeze' || fault === 'coordinator-freeze')
      for (let node = 1; node <= BROKERS; node++) stack.freezeBroker(node, false);
    // A stack a fault left down is brought back for the next trial.
    await upAgain(stack);
  }
}

/** The outcome of a trial that gave no answer. */
const failed = (fault: Fault): Outcome => ({
  ...EQUAL_TO_TRUTH,
  fault,
  acked: false,
  servedFrozen: 0,
  timedOut: true,
  recoverySeconds: TRIAL_MS / 1000,
});

const home = await mkdtemp(join(tmpdir(), 'enforcement-chaos-'));
await chmod(home, 0o755);
const offset = Number(args['port-offset']);
const stack = new PrivateStack(home, {
  kafka: 30092 + offset,
  kafkaController: 30093 + offset,
  ferretdb: 27057 + offset,
  ferretdbDebug: 18118 + offset,
  postgres: 26432 + offset,
  brokers: BROKERS,
});
const outcomes: Outcome[] = [];
let ended = '';
try {
  log(`private stack in ${home}`);
  await stack.up();
  run: for (let n = 1; n <= TRIALS; n++)
    for (const fault of FAULTS) {
      try {
        const o = await boundedTrial(stack, fault, n);
        log(JSON.stringify(o));
        outcomes.push(o);
      } catch (e) {
        // The stack did not come back after this trial: the run ends here,
        // with what it has.
        log(`${fault} #${n}: the stack did not come back: ${(e as Error).message.split('\n')[0]}`);
        outcomes.push(failed(fault));
        ended = `The run ended after ${fault} #${n}: the stack did not come back.`;
        break run;
      }
    }
} finally {
  for (const c of children) c.kill();
  for (const svc of services) await svc.kill();
  await stack.down().catch(() => undefined);
  await rm(home, { recursive: true, force: true });
}

const rows = FAULTS.map((fault) => {
  const os = outcomes.filter((o) => o.fault === fault);
  const equal = os.filter(equalToTruth).length;
  const sum = (
    k:
      | 'lost'
      | 'doubled'
      | 'offTopic'
      | 'broken'
      | 'rulesOff'
      | 'figuresOff'
      | 'scoresOff'
      | 'servedFrozen',
  ) => os.reduce((a, o) => a + o[k], 0);
  const rec = os.map((o) => o.recoverySeconds);
  const name = {
    postgres: 'kill -9 PostgreSQL',
    ferretdb: 'kill -9 FerretDB',
    freeze: `FerretDB frozen (SIGSTOP) for ${FREEZE_MS / 1000} s, its connections left open`,
    'pg-freeze': `PostgreSQL frozen (SIGSTOP) for ${FREEZE_MS / 1000} s under a running FerretDB`,
    'pg-lock': `every table of the services' databases locked against writes for ${FREEZE_MS / 1000} s in a PostgreSQL session (reads answered)`,
    'kafka-freeze': `Kafka frozen (SIGSTOP) for ${FREEZE_MS / 1000} s, its connections left open`,
    intake:
      VIA === 'ingress'
        ? 'kill -9 of case-intake in the middle of its batches (FerretDB frozen for 1.5 s around it; restarted)'
        : 'kill -9 case-intake (restarted)',
    scoring: 'kill -9 of one of two supervision-scoring instances (restarted)',
    reporting: 'kill -9 of one of two reporting instances (restarted)',
    kafka: 'Kafka restart',
    'broker-freeze': `one of ${BROKERS} Kafka brokers frozen (SIGSTOP) for ${FREEZE_MS / 1000} s, its connections left open`,
    'coordinator-freeze': `the Kafka broker (of ${BROKERS}) coordinating scoring's projection group frozen (SIGSTOP) for ${FREEZE_MS / 1000} s, its connections left open`,
    broker: `kill -9 of one of ${BROKERS} Kafka brokers, one of ${SCORERS} scoring and one of ${REPORTERS} reporting instances (none restarted)`,
    failover: `kill -9 of one of ${INTAKES} case-intake instances while Kafka is frozen (1.5 s), its clients failing over to another through their load balancer (not restarted)`,
  }[fault];
  const late = os.filter((o) => o.timedOut).length;
  return `| ${name} | ${os.length} | ${equal} | ${sum('lost')} | ${sum('doubled')} | ${sum('offTopic')} | ${sum('broken')} | ${sum('rulesOff')} | ${sum('figuresOff')} | ${sum('scoresOff')} | ${sum('servedFrozen')} | ${late} | ${Math.max(...rec).toFixed(1)} |`;
});
const md = [
  '# Fault suite results',
  '',
  `\`npm run chaos -- --trials ${TRIALS} --cases ${CASES} --faults ${FAULTS.join(',')} --brokers ${BROKERS} --intakes ${INTAKES} --scorers ${SCORERS} --reporters ${REPORTERS}${FREEZE_MS !== 40_000 ? ` --freeze-seconds ${FREEZE_MS / 1000}` : ''}${STREAM_MS !== 30_000 ? ` --stream-seconds ${STREAM_MS / 1000}` : ''}${VIA !== 'stream' ? ` --via ${VIA}` : ''}\` at ${commit}, ${new Date().toISOString()}, node ${process.version}, ${cpus().length} cores.`,
  '',
  `Each trial: a generated year ${VIA === 'ingress' ? `published to intake's Kafka ingress (keyed by case, a review under the case it challenges; the part before the fault's moment evenly over its share of ${STREAM_MS / 1000} s, the rest at once, so that the fault finds the ingress in the middle of its batches) and read by ${INTAKES} case-intake instance${INTAKES > 1 ? 's in its group' : ''}` : `streamed through \`enforce submit\` into ${INTAKES} case-intake instance${INTAKES > 1 ? 's (each agency through one of them)' : ''}`}${VIA === 'ingress' ? '' : `, sent evenly over ${STREAM_MS / 1000} s`}, on a private stack with ${BROKERS} Kafka broker${BROKERS > 1 ? 's (replication factor 3, min.insync.replicas 2)' : ''}; ${SCORERS} supervision-scoring instances in one consumer group (rules on the event clock, closing the loop) and ${REPORTERS} reporting instances in another; one fault at a random moment while it is sent (once 10% to 60% of it is stored; a killed instance is the first of its kind).` +
    " \"Equal to truth\": every command acknowledged; every case's history in the store and on the topic exactly the year's; every history verifying; every case's rule actions exactly its plan's (`supervisionPlan`: what a fault-free run records); the annual figures the rules do not touch (cases, conclusions, closure, handling days, overdue, penalties, fines, discretion anomalies, reconsiderations) equal to the generator's truth for the city, every agency and every district; every agency's 2021 score equal to the scoring model run on the histories; under the database's freeze (FerretDB's or PostgreSQL's), every service saying it is not serving at every health check from 10 s into it until it ends; under the tables' lock, at least one instance of each service whose database had a write waiting 18 s or more (15 s unanswered, and a few health rounds) at every such check; and under Kafka's, every intake that stored commands in its first 10 s, from 22 s; after any freeze (of one broker too), every service serving again; all within the trial's deadline.",
  '',
  '| fault | trials | equal to truth | lost (store) | doubled (store) | missing on topic | broken histories | rules ≠ plan (cases) | figures ≠ truth (groups) | scores ≠ model (agencies) | SERVING late into a freeze (services) | past deadline | recovery, max s |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  'The figures the rules touch (orders, evaluations, mean score) are checked through the rules: every action equal to the plan.',
  ...(ended ? ['', ended] : []),
  '',
].join('\n');
await mkdir(dirname(OUT), { recursive: true });
await writeFile(OUT, md);
process.stdout.write(md);
process.exit(outcomes.every(equalToTruth) ? 0 : 3);

/**
 * The trial's year from its namespace. A small year's penalties cannot
 * always carry six reconsiderations (the generator refuses, naming the
 * shortfall): the next seed of the same namespace is taken, so that no trial
 * breaks on the draw.
 */
function yearFor(ns: string): ReturnType<typeof generateYear> {
  for (let attempt = 0; ; attempt++) {
    try {
      return generateYear({
        seed: attempt === 0 ? ns : `${ns}/${attempt}`,
        cases: CASES,
        evaluate: true,
        reconsideration: { accepted: 6, concluded: 4, corrected: 1, notAccepted: 1 },
      });
    } catch (e) {
      if (!(e instanceof RangeError && /too few/.test(e.message)) || attempt >= 20) throw e;
    }
  }
}
