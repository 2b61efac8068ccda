import { afterAll, describe, expect, it } from 'vitest';
import { credentials, type Metadata } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import type { CaseIntake } from '@enforcement/case-intake';
import { events, intake, reporting, type scoring } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { MODEL_V1, scoreCase } from '@enforcement/supervision-scoring';
import { eventually, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { figureDifferences } from '../support/figures.js';
import { gaugeValue, prometheusScraper } from '../support/metrics.js';
import { ruleDifferences } from '../support/rules-oracle.js';
import { modelViews } from '../support/score-model.js';
import { submitAll } from '../support/submit.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/** How long a crashed instance's commits wait in the outbox before the survivor's sweep publishes them. */
const SWEEP_MS = 20_000;

const caseOf = (c: intake.Command) => c.kind?.value.meta?.caseId ?? '';

/**
 * An agency's client fails over between two instances of intake on one
 * store (docs/intake.md). Instance A stores a command and dies before
 * publishing it; the client sends the case's next commands to B, which
 * stores and publishes them at once. A's commit reaches Kafka only when B's
 * sweep finds it in the outbox, after the versions that follow it. Both
 * read models must hold the later versions back until it comes, the rules
 * (on the event clock, acting through B) must act exactly as their plan
 * says, and everything must end as the histories give it: the generator's
 * figures the rules do not touch, and the scoring model's scores.
 */
describe('intake failing over between instances: a commit published after the versions that follow it', () => {
  let sys: WholeSystem | undefined;
  let beside: CaseIntake | undefined;
  let besideClient: intake.CaseIntakeServiceClient | undefined;
  // What an operator's Prometheus reads of the services.
  const scraper = prometheusScraper();
  const waiting = async (service: 'reporting' | 'supervision-scoring') => {
    const text = await scraper.scrape();
    const labels = { service };
    return {
      cases: gaugeValue(text, 'enforcement_projection_waiting_cases', labels),
      age: gaugeValue(text, 'enforcement_projection_waiting_age', labels),
    };
  };

  afterAll(async () => {
    besideClient?.close();
    await beside?.kill();
    await sys?.stop();
    await scraper.close();
  });

  it('reaches scoring and reporting late; the rules keep to their plan and both read models end as the histories give', async () => {
    const year = generateYear({
      seed: 'failover',
      year: 2021,
      cases: 120,
      evaluate: true,
      reconsideration: reconsiderationsOf(20),
    });
    const commands = [...year.stream()];
    // Every fourth case (or review) by first appearance fails over at its
    // first, second or third command, when another command of it follows.
    const counts = new Map<string, number>();
    for (const c of commands) counts.set(caseOf(c), (counts.get(caseOf(c)) ?? 0) + 1);
    const failAt = new Map<string, number>();
    for (const [i, id] of [...counts.keys()].entries()) {
      const at = i % 3;
      if (i % 4 === 0 && (counts.get(id) ?? 0) > at + 1) failAt.set(id, at);
    }
    expect(failAt.size).toBeGreaterThan(20);

    sys = await startWholeSystem({
      rulesTickMs: 1_000,
      scoringEnv: { RULES_CLOCK: 'events' },
      intakeEnv: { RELAY_SWEEP_AFTER_MS: String(SWEEP_MS) },
    });
    beside = await sys.startIntakeBeside({ relay: 'off' });
    besideClient = new intake.CaseIntakeServiceClient(beside.address, credentials.createInsecure());
    const md = await tokenFor(['agency', 'supervisor'], ['*']);

    // Runs of commands for one instance, in the year's order; a command
    // waits for the run before it to be answered, as a client's would.
    const seen = new Map<string, number>();
    const runs: { toBeside: boolean; commands: intake.Command[] }[] = [];
    for (const c of commands) {
      const id = caseOf(c);
      const n = seen.get(id) ?? 0;
      seen.set(id, n + 1);
      const toBeside = failAt.get(id) === n;
      const last = runs.at(-1);
      if (last?.toBeside === toBeside) last.commands.push(c);
      else runs.push({ toBeside, commands: [c] });
    }
    const acks: intake.SubmitEventsResponse[] = [];
    /** The version each failed-over case's commit took at A. */
    const stranded = new Map<string, number>();
    for (const r of runs) {
      const client = r.toBeside ? besideClient : sys.intakeClient;
      const answered = await submitAll(client, md, r.commands);
      if (r.toBeside) for (const a of answered) stranded.set(a.caseId, a.version);
      acks.push(...answered);
    }
    expect(acks.filter((a) => !a.accepted).slice(0, 3)).toEqual([]);
    expect(acks).toHaveLength(commands.length);
    expect(stranded.size).toBe(failAt.size);
    // The instance dies with its commits stored and never published.
    await beside.kill();
    beside = undefined;

    // Until the sweep, reporting and scoring hold the later versions and say
    // so: the cases waiting, and how long ago the earliest waiting event was
    // recorded.
    const gaps = await Promise.all(
      (['reporting', 'supervision-scoring'] as const).map((service) =>
        eventually(
          async () => {
            const w = await waiting(service);
            return (w.cases ?? 0) > 0 ? w : undefined;
          },
          { timeoutMs: SWEEP_MS, intervalMs: 250, what: `${service} to count the cases waiting` },
        ),
      ),
    );
    for (const gap of gaps) {
      expect(gap.cases).toBeLessThanOrEqual(failAt.size);
      expect(gap.age).toBeGreaterThan(0);
    }

    // The rules: exactly their plan's actions, once the swept commits are applied.
    let ruleDiffs: string[] = [];
    await eventually(
      async () => {
        ruleDiffs = ruleDifferences(await storedHistories(sys?.intakeClient, md));
        return ruleDiffs.length === 0 ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2_000, what: 'the rules to reach their plan' },
    ).catch(() => undefined);
    expect(ruleDiffs.slice(0, 3)).toEqual([]);
    const histories = await storedHistories(sys.intakeClient, md);

    // On the topic: every stored version of every case, and for most
    // failed-over cases the version after A's commit ahead of it.
    const order = await topicOrder(sys.topics.caseEvents, histories, (v) =>
      events.CaseEvent.decode(v),
    );
    const late = [...stranded].filter(([id, v]) => {
      const versions = order.get(id) ?? [];
      return versions.includes(v + 1) && versions.indexOf(v + 1) < versions.indexOf(v);
    });
    expect(late.length).toBeGreaterThan(stranded.size / 2);
    // The checkpoints topic is compacted to each case's last record: that
    // must be the case's head, not a swept commit's older one, or intake
    // would check the case's later versions against nothing after a restart.
    const heads = await topicOrder(
      sys.topics.caseCheckpoints,
      new Map([...histories].map(([id, h]) => [id, h.slice(-1)])),
      (v) => JSON.parse(v.toString()) as { caseId: string; version: number },
    );
    const behind = [...histories].filter(([id, h]) => heads.get(id)?.at(-1) !== h.length);
    expect(behind.map(([id, h]) => `${id}: ${heads.get(id)?.join(',')} of ${h.length}`)).toEqual(
      [],
    );

    // Reporting: the generator's figures the rules do not touch, for the
    // city, every agency and every district, once it has applied the topic.
    const published = new Date();
    const rmd = await tokenFor(['reporting']);
    const statistics = (groupBy: reporting.StatisticsGroupBy) =>
      unary<reporting.GetAnnualStatisticsResponse>((cb) =>
        sys?.reportingClient.getAnnualStatistics(
          reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy }),
          rmd,
          cb,
        ),
      );
    await eventually(
      async () => {
        const s = await statistics(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_UNSPECIFIED);
        return s.asOf && s.asOf > published ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'reporting to apply the topic' },
    );
    // Nothing waits any more.
    expect(await waiting('reporting')).toEqual({ cases: 0, age: 0 });
    expect(await waiting('supervision-scoring')).toEqual({ cases: 0, age: 0 });
    const byAgency = await statistics(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY);
    const byDistrict = await statistics(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DISTRICT);
    expect(byAgency.groups.map((g) => g.key).sort()).toEqual(
      [...year.truth.byAgency.keys()].sort(),
    );
    expect(figureDifferences(byAgency, byDistrict, year.truth)).toEqual([]);

    // Scoring: every case at its last version, scored as the model scores its history.
    const views = modelViews(histories);
    const smd = await tokenFor(['supervisor']);
    // Until they all agree, or a minute has passed: then the cases that differ.
    let wrong: string[] = [];
    await eventually(
      async () => {
        wrong = [];
        for (const [id, view] of views) {
          const want = scoreCase(view, MODEL_V1);
          if (!want) continue;
          const got = await unary<scoring.GetCaseScoreResponse>((cb) =>
            sys?.scoringClient.getCaseScore({ caseId: id }, smd, cb),
          ).catch(() => undefined);
          const s = got?.score;
          if (
            !s ||
            s.caseVersion !== (histories.get(id)?.length ?? 0) ||
            Math.abs(s.score - want.score) > 0.005 ||
            s.corrected !== view.correctedBy.length > 0
          )
            wrong.push(`${id}: ${s?.score} at v${s?.caseVersion}, model ${want.score}`);
        }
        return wrong.length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'every case scored as the model scores it' },
    ).catch(() => undefined);
    expect(wrong).toEqual([]);
    // The check above covered failed-over cases that published late and are scored.
    const scoredLate = late.filter(([id]) => {
      const view = views.get(id);
      return view !== undefined && scoreCase(view, MODEL_V1) !== undefined;
    });
    expect(scoredLate.length).toBeGreaterThan(0);
  }, 300_000);
});

/**
 * Each case's versions in the order a topic holds them (`versionOf` reads a
 * message's), once every stored version of every case is there.
 */
async function topicOrder(
  topic: string,
  histories: ReadonlyMap<string, readonly events.CaseEvent[]>,
  versionOf: (value: Buffer) => { caseId: string; version: number },
): Promise<Map<string, number[]>> {
  const kafka = new Kafka({
    clientId: uniqueName('order'),
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('order') });
  const order = new Map<string, number[]>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const { caseId, version } = versionOf(message.value ?? Buffer.alloc(0));
        order.set(caseId, [...(order.get(caseId) ?? []), version]);
      },
    });
    await eventually(
      () =>
        [...histories].every(([id, h]) => h.every((e) => order.get(id)?.includes(e.version)))
          ? true
          : undefined,
      { timeoutMs: 3 * SWEEP_MS + 30_000, intervalMs: 500, what: `every version on ${topic}` },
    );
  } finally {
    await consumer.disconnect();
  }
  return order;
}

/** Every case's history as the store holds it. */
function storedHistories(
  client: intake.CaseIntakeServiceClient | undefined,
  md: Metadata,
): Promise<Map<string, events.CaseEvent[]>> {
  return new Promise((resolve, reject) => {
    if (!client) return reject(new Error('no intake'));
    const out = new Map<string, events.CaseEvent[]>();
    const stream = client.readAll({ afterPosition: 0, maxCount: 0, fromCommits: true }, md);
    stream.on('data', (r: intake.ReadAllResponse) => {
      const e = r.event;
      if (e) out.set(e.caseId, [...(out.get(e.caseId) ?? []), e]);
    });
    stream.on('end', () => {
      for (const h of out.values()) h.sort((a, b) => a.version - b.version);
      resolve(out);
    });
    stream.on('error', reject);
  });
}
