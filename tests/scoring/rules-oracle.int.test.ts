import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Metadata } from '@grpc/grpc-js';
import { credentials, status } from '@grpc/grpc-js';
import { events, intake, MAX_ID_LENGTH } from '@enforcement/contracts';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { namespaced, type TopicNames } from '@enforcement/messaging';
import {
  createSupervisionScoring,
  loadScoringConfig,
  type SupervisionScoring,
} from '@enforcement/supervision-scoring';
import { eventually, serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { ingressFeed } from '../support/ingress-feed.js';
import { RULE_COMMAND, ruleDifferences } from '../support/rules-oracle.js';
import { submitAll } from '../support/submit.js';

/**
 * The supervision rules against their specification (`supervisionPlan`), on
 * histories fast-check makes up: two or three agencies streaming concurrently,
 * each in the order things happened but at its own pace; cases concluded in
 * time, late or never, deadlines extended, decisions with and without review,
 * evidence or benchmark, orders by hand answered in time, late or never, some
 * escalated by hand before any answer; the scoring
 * service restarted mid-stream, or run as two instances; the first agency's
 * client failing over, for one burst, to a second instance of intake that
 * stores and never publishes (it crashed before publishing: the first
 * instance's sweep publishes those commits seconds later, after the versions
 * the agency sent next). Whatever the timing,
 * the rules' actions in each case's history must be exactly the plan's, dated
 * as the plan dates them, up to how far the agency's own history reaches.
 *
 * The same again with the agencies publishing to intake's Kafka ingress
 * instead, keyed by case as their producers would: an agency's feed is
 * spread over every partition, which one or two intakes read apart, so its
 * cases arrive out of the order they happened in (no failover there: the
 * second intake reads beside the first).
 *
 * RULES_ORACLE_RUNS histories through streams, and RULES_ORACLE_INGRESS_RUNS
 * through the ingress (fast subsets in npm test; `npm run fuzz` runs more).
 */
const RUNS = Number(process.env.RULES_ORACLE_RUNS ?? 4);
const INGRESS_RUNS = Number(process.env.RULES_ORACLE_INGRESS_RUNS ?? 2);
const DAY = 86_400_000;
const YEAR = Date.UTC(2021, 0, 4, 2);
const AGENCIES = ['lz-eeb', 'lz-psb', 'lz-amr'] as const;

interface CaseSpec {
  registerDay: number;
  evidenceDay: number | null;
  reviewDay: number | null;
  reviewApproved: boolean;
  decideDay: number | null;
  fine: { fineFen: number; grounds: string };
  extendDay: number | null;
  extendBy: number;
  concludeDay: number | null;
  order: {
    day: number;
    dueIn: number;
    answerIn: number | null;
    /** Escalated by hand this many days after opening, when still unanswered then. */
    escalateIn: number | null;
  } | null;
}

const caseSpec: fc.Arbitrary<CaseSpec> = fc.record({
  registerDay: fc.integer({ min: 0, max: 40 }),
  evidenceDay: fc.option(fc.integer({ min: 2, max: 60 }), { freq: 4 }),
  reviewDay: fc.option(fc.integer({ min: 3, max: 60 }), { freq: 3 }),
  reviewApproved: fc.boolean(),
  decideDay: fc.option(fc.integer({ min: 8, max: 100 }), { freq: 5 }),
  fine: fc.constantFrom(
    { fineFen: 30_000_000, grounds: '' },
    { fineFen: 20_000_000, grounds: '' },
    { fineFen: 90_000_000, grounds: '情节严重' },
    { fineFen: 15_000_000, grounds: '初次违法' },
  ),
  extendDay: fc.option(fc.integer({ min: 30, max: 100 }), { freq: 3 }),
  extendBy: fc.integer({ min: 1, max: 40 }),
  concludeDay: fc.option(fc.integer({ min: 10, max: 130 }), { freq: 6 }),
  order: fc.option(
    fc.record({
      day: fc.integer({ min: 2, max: 80 }),
      dueIn: fc.integer({ min: 1, max: 15 }),
      answerIn: fc.option(fc.integer({ min: 1, max: 25 })),
      escalateIn: fc.option(fc.integer({ min: 1, max: 20 }), { freq: 2 }),
    }),
    { freq: 3 },
  ),
});

let seq = 0;
/** One case's commands, each dated; the agency submits them in time order. */
function commandsOf(
  caseId: string,
  agencyId: string,
  c: CaseSpec,
): { at: number; cmd: intake.Command }[] {
  const start = YEAR + c.registerDay * DAY;
  const at = (d: number) => start + d * DAY;
  const meta = (d: number): intake.CommandMeta => ({
    // Not named after the case: its id may be as long as an id may be.
    commandId: `cmd-${++seq}`,
    caseId,
    occurredAt: new Date(at(d)),
  });
  const out: { at: number; cmd: intake.Command }[] = [];
  const add = (d: number, kind: intake.Command['kind']) => out.push({ at: at(d), cmd: { kind } });
  add(0, {
    $case: 'registerCase',
    value: {
      meta: meta(0),
      agencyId,
      district: '鱼峰区',
      domain: events.Domain.DOMAIN_ENVIRONMENT,
      violationCode: 'ENV-AIR-001',
      legalBasis: '《大气污染防治法》第九十九条',
      source: events.CaseSource.CASE_SOURCE_COMPLAINT,
      parties: [{ kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: '某公司', identifier: '' }],
      title: '',
      major: false,
    },
  });
  add(1, {
    $case: 'dispatchCase',
    value: {
      meta: meta(1),
      unitId: `${agencyId}-u1`,
      officers: [
        { officerId: 'o1', name: '甲', credentialNo: '1' },
        { officerId: 'o2', name: '乙', credentialNo: '2' },
      ],
    },
  });
  const progress = (d: number, step: intake.RecordProgressRequest['step']) =>
    add(d, { $case: 'recordProgress', value: { meta: meta(d), step } });
  if (c.evidenceDay !== null)
    progress(c.evidenceDay, {
      $case: 'evidence',
      value: {
        evidenceId: 'ev',
        kind: 'photo',
        sha256: 'c'.repeat(64),
        collectedBy: 'o1',
        collectedAt: new Date(at(c.evidenceDay)),
        description: '',
      },
    });
  if (c.reviewDay !== null)
    progress(c.reviewDay, {
      $case: 'legalReview',
      value: { reviewer: '法制员', approved: c.reviewApproved, opinion: '' },
    });
  if (c.extendDay !== null)
    progress(c.extendDay, {
      $case: 'extension',
      value: {
        newDueAt: new Date(start + (90 + c.extendBy) * DAY),
        reason: '复杂',
        approvedBy: '负责人',
      },
    });
  if (c.decideDay !== null) {
    progress(c.decideDay - 2, {
      $case: 'notice',
      value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: c.fine.fineFen },
    });
    progress(c.decideDay - 1, {
      $case: 'hearing',
      value: { presidedBy: '', summary: '', waived: true },
    });
    add(c.decideDay, {
      $case: 'decidePenalty',
      value: {
        meta: meta(c.decideDay),
        violationCode: 'ENV-AIR-001',
        grade: events.SeverityGrade.SEVERITY_GRADE_GENERAL,
        ...c.fine,
        otherMeasures: [],
      },
    });
  }
  if (c.concludeDay !== null) {
    const d = Math.max(c.concludeDay, (c.decideDay ?? 0) + 1);
    add(d, {
      $case: 'concludeCase',
      value: {
        meta: meta(d),
        conclusion:
          c.decideDay !== null
            ? events.Conclusion.CONCLUSION_PENALIZED
            : events.Conclusion.CONCLUSION_NO_PENALTY,
        summary: '',
      },
    });
  }
  if (c.order) {
    const o = c.order;
    // As long as the case's id, up to the longest an id may be.
    const orderId = `m1-${caseId}`.slice(0, MAX_ID_LENGTH);
    add(o.day, {
      $case: 'openSupervisionOrder',
      value: {
        meta: meta(o.day),
        orderId,
        reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
        note: '',
        responseDueAt: new Date(at(o.day + o.dueIn)),
        ruleId: '',
      },
    });
    if (o.escalateIn !== null && (o.answerIn === null || o.escalateIn < o.answerIn))
      add(o.day + o.escalateIn, {
        $case: 'escalateSupervisionOrder',
        value: {
          meta: meta(o.day + o.escalateIn),
          orderId,
          reason: '督办逾期未复',
          responseDueAt: new Date(at(o.day + o.escalateIn + 5)),
        },
      });
    if (o.answerIn !== null)
      add(o.day + o.answerIn, {
        $case: 'answerSupervisionOrder',
        value: { meta: meta(o.day + o.answerIn), orderId, answer: '已整改' },
      });
  }
  // Dated steps in time order; the meta of each was made in the order above, so re-date nothing.
  return out.sort((a, b) => a.at - b.at);
}

interface Scenario {
  perAgency: CaseSpec[][];
  /** Commands per burst of each agency's stream, and the pause between bursts (ms). */
  bursts: [number, number, number];
  pauses: [number, number, number];
  restartScoringAfter: number | null;
  instances: 1 | 2;
  /** Which burst of the first agency's stream goes to the instance of intake that never publishes (streams only). */
  failoverBurst: number | null;
  /** How many intakes read the ingress's partitions (the ingress only). */
  readers: 1 | 2;
  /**
   * Every other case's id is this long (the rules' ids hold a case's id and
   * must stay ids intake takes: `evaluate:<model>:<case>` passes 128
   * characters from a case id of 99).
   */
  longIds: number;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  perAgency: fc.tuple(
    fc.array(caseSpec, { minLength: 1, maxLength: 5 }),
    fc.array(caseSpec, { minLength: 1, maxLength: 5 }),
    fc.array(caseSpec, { minLength: 0, maxLength: 4 }),
  ),
  bursts: fc.tuple(
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 12 }),
    fc.integer({ min: 1, max: 12 }),
  ),
  pauses: fc.tuple(
    fc.integer({ min: 0, max: 150 }),
    fc.integer({ min: 0, max: 150 }),
    fc.integer({ min: 0, max: 150 }),
  ),
  restartScoringAfter: fc.option(fc.integer({ min: 1, max: 30 })),
  instances: fc.constantFrom(1 as const, 2 as const),
  failoverBurst: fc.option(fc.integer({ min: 0, max: 6 }), { freq: 2 }),
  readers: fc.constantFrom(1 as const, 2 as const),
  longIds: fc.integer({ min: 99, max: MAX_ID_LENGTH }),
});

/** How the agencies send: SubmitEvents streams, or the submissions topic intake reads. */
type Via = 'stream' | 'ingress';

/** How long a dead instance's commits wait before the other's sweep publishes them (ms). */
const SWEEP_AFTER_MS = 2_000;

class Rig {
  readonly run = uniqueName('oracle');
  readonly topics: TopicNames;
  intakeSvc!: CaseIntake;
  scoring: SupervisionScoring[] = [];
  client!: intake.CaseIntakeServiceClient;
  /** A second instance on the same store whose relay is off, and its client (a failover's). */
  beside: { svc: CaseIntake; client: intake.CaseIntakeServiceClient } | undefined;
  /** A second instance reading the ingress beside the first. */
  reader: CaseIntake | undefined;

  constructor(private readonly via: Via) {
    this.topics = {
      ...namespaced(this.run),
      caseEvents: `${this.run}.case-events`,
      intakeSubmissions: `${this.run}.submissions`,
      intakeReceipts: `${this.run}.receipts`,
      intakeDeadLetter: `${this.run}.intake-dlq`,
      scoringDeadLetter: `${this.run}.scoring-dlq`,
      scores: `${this.run}.scores`,
    };
  }

  private get db() {
    return this.run.replace(/-/g, '_');
  }

  async start(sc: Scenario): Promise<void> {
    this.intakeSvc = await this.startIntake('on');
    this.client = new intake.CaseIntakeServiceClient(
      this.intakeSvc.address,
      credentials.createInsecure(),
    );
    if (this.via === 'ingress' && sc.readers === 2) this.reader = await this.startIntake('on');
    if (this.via === 'stream' && sc.failoverBurst !== null) {
      const svc = await this.startIntake('off');
      this.beside = {
        svc,
        client: new intake.CaseIntakeServiceClient(svc.address, credentials.createInsecure()),
      };
    }
    for (let i = 0; i < sc.instances; i++) this.scoring.push(await this.startScoring());
  }

  private startIntake(relay: 'on' | 'off'): Promise<CaseIntake> {
    return createCaseIntake(
      loadIntakeConfig({
        ...serviceEnv(this.run),
        GRPC_PORT: '0',
        MONGODB_DB: `${this.db}_intake`,
        EVENT_STORE_BUCKETS: '4',
        CASE_EVENTS_PARTITIONS: '4',
        INGRESS_ENABLED: String(this.via === 'ingress'),
        RELAY_SWEEP_AFTER_MS: String(SWEEP_AFTER_MS),
      }),
      { topics: this.topics, log: () => undefined, relay },
    );
  }

  startScoring(): Promise<SupervisionScoring> {
    return createSupervisionScoring(
      loadScoringConfig({
        ...serviceEnv(this.run),
        MONGODB_DB: `${this.db}_scoring`,
        READ_MODEL_BUCKETS: '4',
        RULES_TICK_MS: '200',
        RULES_CLOCK: 'events',
        INTAKE_ADDRESS: this.intakeSvc.address,
        SCORING_GROUP: `${this.run}.scoring`,
      }),
      // RULES_ORACLE_DEBUG=1 shows what scoring logs (refusals, failed passes).
      { topics: this.topics, log: process.env.RULES_ORACLE_DEBUG ? debugLog : () => undefined },
    );
  }

  async restartScoring(): Promise<void> {
    const first = this.scoring.shift();
    await first?.stop();
    this.scoring.push(await this.startScoring());
  }

  async stop(): Promise<void> {
    this.client?.close();
    this.beside?.client.close();
    await this.beside?.svc.kill();
    for (const s of this.scoring) await s.stop();
    await this.reader?.stop();
    await this.intakeSvc?.stop();
  }
}

const debugLog = (m: string, e?: unknown) =>
  console.log('[scoring]', m, e === undefined ? '' : String(e));

let rig: Rig | undefined;
/** What the property tried, for the report `npm run fuzz` writes. */
const tally = () => ({
  histories: 0,
  cases: 0,
  actions: 0,
  restarts: 0,
  twoInstances: 0,
  failovers: 0,
  twoReaders: 0,
});
const report = { stream: { ...tally(), seconds: 0 }, ingress: { ...tally(), seconds: 0 } };
afterEach(async () => {
  await rig?.stop();
  rig = undefined;
});

/** Streams one agency's commands in bursts (the n-th through `clientOf(n)`), pausing between them. */
async function stream(
  clientOf: (burst: number) => intake.CaseIntakeServiceClient,
  md: Metadata,
  cmds: intake.Command[],
  burst: number,
  pause: number,
  each: (sent: number) => Promise<void>,
): Promise<intake.SubmitEventsResponse[]> {
  const acks: intake.SubmitEventsResponse[] = [];
  for (let i = 0; i < cmds.length; i += burst) {
    acks.push(...(await submitAll(clientOf(i / burst), md, cmds.slice(i, i + burst))));
    await each(i + burst);
    if (pause > 0) await new Promise((r) => setTimeout(r, pause));
  }
  return acks;
}

/**
 * Publishes one agency's commands to the submissions topic in bursts, keyed
 * by case (calling `each` after each burst), pausing between them, and
 * waits until every one has a receipt.
 */
async function publish(
  r: Rig,
  md: Metadata,
  cmds: intake.Command[],
  burst: number,
  pause: number,
  each: (sent: number) => Promise<void>,
): Promise<intake.SubmitEventsResponse[]> {
  const feed = await ingressFeed({
    brokers: stack().kafkaBrokers,
    topics: r.topics,
    commands: cmds,
    bearer: String(md.get('authorization')[0]),
    group: uniqueName('receipts'),
  });
  try {
    for (let i = 0; i < cmds.length; i += burst) {
      await feed.publish(i, Math.min(i + burst, cmds.length));
      await each(i + burst);
      if (pause > 0) await new Promise((res) => setTimeout(res, pause));
    }
    await feed.answered(cmds.length, 60_000);
    return [...feed.receipts.values()];
  } finally {
    await feed.close();
  }
}

/**
 * Sends `sc`'s histories `via` streams or the ingress, and checks every
 * case's rule actions against the plan once they settle.
 */
async function holdsThePlan(given: Scenario, via: Via, tried: ReturnType<typeof tally>) {
  // The failover goes to an instance that has crashed before it publishes,
  // and so before it marks the feed: were its burst the agency's last, the
  // feed would stay at its floors, a limit of streams docs/intake.md states
  // (a stream whose intake stops before its marks go), not what this checks.
  const bursts = Math.ceil(
    (given.perAgency[0] ?? []).flatMap((c) => commandsOf('count', AGENCIES[0], c)).length /
      given.bursts[0],
  );
  const sc = {
    ...given,
    failoverBurst:
      given.failoverBurst !== null && given.failoverBurst < bursts - 1 ? given.failoverBurst : null,
  };
  tried.histories++;
  if (sc.restartScoringAfter !== null) tried.restarts++;
  if (sc.instances === 2) tried.twoInstances++;
  if (via === 'stream' && sc.failoverBurst !== null) tried.failovers++;
  if (via === 'ingress' && sc.readers === 2) tried.twoReaders++;
  rig = new Rig(via);
  await rig.start(sc);
  const r = rig;
  const caseIds: { caseId: string; agencyId: string }[] = [];
  const feeds = AGENCIES.map((agencyId, a) =>
    (sc.perAgency[a] ?? [])
      .flatMap((c, i) => {
        const id = `${r.run}-${a}-${i}`;
        const caseId = (a + i) % 2 === 1 ? id.padEnd(sc.longIds, 'x') : id;
        caseIds.push({ caseId, agencyId });
        return commandsOf(caseId, agencyId, c);
      })
      .sort((x, y) => x.at - y.at)
      .map((x) => x.cmd),
  );
  const tokens = await Promise.all(AGENCIES.map((a) => tokenFor(['agency', 'supervisor'], [a])));
  let restarted = false;
  const answers = await Promise.all(
    feeds.map((cmds, a) => {
      const each = async (sent: number) => {
        if (
          a === 0 &&
          !restarted &&
          sc.restartScoringAfter !== null &&
          sent >= sc.restartScoringAfter
        ) {
          restarted = true;
          await r.restartScoring();
        }
      };
      const md = tokens[a] as Metadata;
      const burst = sc.bursts[a] ?? 5;
      const pause = sc.pauses[a] ?? 0;
      return via === 'ingress'
        ? publish(r, md, cmds, burst, pause, each)
        : stream(
            (n) => (a === 0 && n === sc.failoverBurst && r.beside?.client) || r.client,
            md,
            cmds,
            burst,
            pause,
            each,
          );
    }),
  );
  // Every command answered; the only refusals are the domain's (a step the
  // case's status no longer allows: the histories are made up), never one
  // to send again (ABORTED, UNAVAILABLE) or a fault (INTERNAL).
  expect(answers.flat().length).toBe(feeds.flat().length);
  const refused = answers
    .flat()
    .filter((x) => !x.accepted && x.statusCode !== status.FAILED_PRECONDITION);
  expect(refused.map((x) => `${x.caseId}: ${x.statusCode} ${x.errorCode} ${x.reason}`)).toEqual([]);

  const supervisor = await tokenFor(['supervisor']);
  const histories = async () => {
    const out = new Map<string, events.CaseEvent[]>();
    for (const { caseId } of caseIds) {
      const h = await unary<intake.GetCaseResponse>((cb) =>
        r.client.getCase({ caseId }, supervisor, cb),
      ).then(
        (x) => x.history,
        () => [],
      );
      if (h.length > 0) out.set(caseId, h);
    }
    return out;
  };
  const differences = async () => ruleDifferences(await histories());
  const counted = async () => {
    const all = await histories();
    tried.cases += all.size;
    for (const h of all.values())
      tried.actions += h.filter((e) => RULE_COMMAND.test(e.commandId)).length;
  };
  const settled = await eventually(
    async () => ((await differences()).length === 0 ? true : undefined),
    { what: 'the rules to reach the plan', timeoutMs: 60_000, intervalMs: 500 },
  ).catch(async () => {
    // Where the rules stood, to tell a stalled clock from a stalled case.
    const status = await Promise.all(
      r.scoring.map((x) => x.runtime.rulesStatus().catch((e: unknown) => String(e))),
    );
    return `${(await differences()).join('\n')}\nrules status: ${JSON.stringify(status)}`;
  });
  expect(settled).toBe(true);
  // Instances judge by one clock: what each stored of its partitions
  // reaches every other through the store, so each agency is judged
  // up to the same time by all of them.
  if (r.scoring.length > 1) {
    const judged = async () =>
      Promise.all(
        r.scoring.map(async (x) =>
          JSON.stringify(
            (await x.runtime.rulesStatus()).agencies.map((a) => [a.agencyId, a.judgedUpTo]),
          ),
        ),
      );
    const agreed = await eventually(
      async () => ((await judged()).every((v, _, all) => v === all[0]) ? true : undefined),
      { what: 'the instances to agree on every agency’s time', timeoutMs: 20_000 },
    ).catch(async () => (await judged()).join('\n'));
    expect(agreed).toBe(true);
  }
  await counted();
  await r.stop();
  rig = undefined;
}

/** Replays a reported failure: RULES_ORACLE_SEED=<seed> RULES_ORACLE_PATH=<path>. */
const replay = process.env.RULES_ORACLE_SEED
  ? { seed: Number(process.env.RULES_ORACLE_SEED), path: process.env.RULES_ORACLE_PATH }
  : {};

/** `runs` random histories sent `via` streams or the ingress, each holding the plan; what they tried goes to the report. */
const property = (via: Via, runs: number) => async () => {
  const t0 = Date.now();
  const tried = tally();
  await fc.assert(
    fc.asyncProperty(scenario, async (sc) => {
      await holdsThePlan(sc, via, tried);
      Object.assign(report[via], tried, { seconds: Math.round((Date.now() - t0) / 1000) });
    }),
    { numRuns: runs, endOnFailure: true, ...replay },
  );
};

describe('supervision rules equal their specification on random histories, timings and restarts', () => {
  it(
    'every action the plan requires before each agency’s time, dated as planned; nothing else',
    property('stream', RUNS),
    RUNS * 120_000,
  );
  it(
    'the same through the Kafka ingress: every agency’s cases spread over the partitions one or two intakes read apart',
    property('ingress', INGRESS_RUNS),
    INGRESS_RUNS * 120_000,
  );
  afterAll(() => {
    const out = process.env.RULES_ORACLE_REPORT;
    if (!out) return;
    writeFileSync(
      out,
      [
        '# Supervision rules against their specification',
        '',
        `The rules step of \`npm run fuzz\` at ${process.env.GIT_COMMIT ?? 'HEAD'}, ${new Date().toISOString()}: \`tests/scoring/rules-oracle.int.test.ts\` with RULES_ORACLE_RUNS=${RUNS} and RULES_ORACLE_INGRESS_RUNS=${INGRESS_RUNS}.`,
        '',
        '| sent through | histories | cases | rule actions checked | with a scoring restart | with two scoring instances | with an intake failover | with two intakes reading | seconds |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        ...(['stream', 'ingress'] as const).map((via) => {
          const t = report[via];
          return `| ${via === 'stream' ? 'SubmitEvents streams' : 'the Kafka ingress'} | ${t.histories} | ${t.cases} | ${t.actions} | ${t.restarts} | ${t.twoInstances} | ${via === 'stream' ? t.failovers : '—'} | ${via === 'ingress' ? t.twoReaders : '—'} | ${t.seconds} |`;
        }),
        '',
        "Each history: two or three agencies sending their cases concurrently, each in time order at its own pace; through streams (in about a third, the first agency's client failing over for one burst, never its last, to an instance of intake that never publishes), or published to the submissions topic keyed by case, so each agency's cases reach intake out of order across partitions (one or two intakes reading them); every case's rule actions (orders, escalations, evaluations) equal `supervisionPlan` of its inputs, dated as planned, before how far its agency's history reaches, and each evaluation scores the case as it stood when it was evaluated (its conclusion, or once the orders open then were settled).",
        '',
      ].join('\n'),
    );
  });
});
