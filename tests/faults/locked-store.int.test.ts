import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import { type intake, reporting, scoring } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { checkHealth } from '@enforcement/grpc-kit';
import { eventually, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { figureDifferences } from '../support/figures.js';
import { PrivateStack } from '../support/private-stack.js';
import { submitAll } from '../support/submit.js';
import { caughtUp, startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/** How long a database command may wait before health says so, in this test (the default is 15 s). */
const STALL_MS = 5_000;
/** Longer than the stall and a few health rounds, shorter than the driver's 60 s socket timeout. */
const NOTICE_MS = 40_000;

/**
 * Another session holds a lock on a service's tables: the store answers
 * `ping` and every read, and each write the service sends waits for the
 * lock, for as long as the session keeps it (up to the driver's 60 s socket
 * timeout, then again). Before, health went on saying SERVING while nothing
 * the service wrote moved. Now a command unanswered for STORE_STALL_MS makes
 * it NOT_SERVING, naming the command, and the services whose writes go
 * through stay SERVING. Once the lock goes, everything that waited is
 * applied: every command acknowledged, the year's figures and every case's
 * score at its last version.
 */
describe('a write waits behind a lock while the store answers everything else', () => {
  let stack: PrivateStack;
  let sys: WholeSystem | undefined;

  beforeAll(async () => {
    const home = await mkdtemp(join(tmpdir(), 'enforcement-locked-'));
    await chmod(home, 0o755); // PostgreSQL runs as its own user
    stack = new PrivateStack(home, {
      kafka: 30692,
      kafkaController: 30693,
      ferretdb: 27657,
      ferretdbDebug: 18718,
      postgres: 27032,
    });
    await stack.up();
    const on = {
      KAFKA_BROKERS: stack.brokers.join(','),
      MONGODB_URI: stack.mongoUri,
      STORE_STALL_MS: String(STALL_MS),
      HEALTH_CHECK_MS: '500',
    };
    sys = await startWholeSystem({
      run: uniqueName('locked'),
      intakeEnv: on,
      scoringEnv: on,
      reportingEnv: on,
    });
  }, 400_000);

  afterAll(async () => {
    await sys?.stop();
    await stack?.down();
    if (stack) await rm(stack.home, { recursive: true, force: true });
  });

  it('the service whose writes wait says NOT_SERVING, naming the write; the others stay SERVING; after, nothing is lost', async () => {
    const s = sys;
    if (!s) throw new Error('the system did not start');
    const db = s.run.replace(/-/g, '_');
    const year = generateYear({
      seed: 'locked',
      year: 2021,
      cases: 36,
      evaluate: true,
      reconsideration: reconsiderationsOf(4),
    });
    const commands = [...year.stream()];
    const third = Math.floor(commands.length / 3);
    const parts = [
      commands.slice(0, third),
      commands.slice(third, 2 * third),
      commands.slice(2 * third),
    ];
    const imd = await tokenFor(['agency', 'supervisor'], ['*']);
    const md = await tokenFor(['supervisor', 'reporting']);
    const acks: intake.SubmitEventsResponse[] = [];
    const submit = async (part: intake.Command[]) => {
      const answered = await submitAll(s.intakeClient, imd, part);
      acks.push(...answered);
      return answered;
    };
    // The server as a whole and its gRPC service (what a load balancer asks
    // for), which needs the store too: both must say the same here.
    const both = async (address: string, service: string) => {
      const [all, one] = [await checkHealth(address), await checkHealth(address, service)];
      return all === one ? all : `${all}, but ${service} ${one}`;
    };
    const health = {
      intake: () => both(s.intake.address, 'enforcement.intake.v1.CaseIntakeService'),
      scoring: () => both(s.scoring.address, 'enforcement.scoring.v1.ScoringService'),
      reporting: () => both(s.reporting.address, 'enforcement.reporting.v1.ReportingService'),
    };
    const notServing = (names: (keyof typeof health)[]) =>
      eventually(
        async () => {
          const said = await Promise.all(names.map((n) => health[n]()));
          return said.every((h) => h === 'NOT_SERVING') ? true : undefined;
        },
        { timeoutMs: NOTICE_MS, intervalMs: 250, what: `${names.join(' and ')} NOT_SERVING` },
      );
    const serving = () =>
      eventually(
        async () => {
          const said = await Promise.all(Object.values(health).map((h) => h()));
          return said.every((h) => h === 'SERVING') ? true : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'every service SERVING' },
      );

    await submit(parts[0] ?? []);
    await caughtUp(s, md, 2021, new Date());
    await serving();

    // Scoring's and reporting's tables locked: intake stores and publishes
    // the next part, and the read models' writes of it wait.
    let release = await stack.lockWrites([`${db}_scoring`, `${db}_reporting`]);
    try {
      await submit(parts[1] ?? []);
      await notServing(['scoring', 'reporting']);
      for (const svc of [s.scoring, s.reporting])
        expect(svc.readiness.failing.get('store')).toMatch(
          new RegExp(
            `^database: \\w+ on ${db}_(scoring|reporting)\\S* has had no answer for \\d+ s$`,
          ),
        );
      // Intake's writes go through, and it says so.
      expect(await health.intake()).toBe('SERVING');
      // The read models still answer what they hold.
      const listed = await unary<scoring.ListScoresResponse>((cb) =>
        s.scoringClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
          }),
          md,
          cb,
        ),
      );
      expect(listed.rows.length).toBeGreaterThan(0);
    } finally {
      await release();
    }
    await serving();

    // Intake's tables locked: its commits wait, and it says so; the read
    // models, with nothing to write, stay SERVING.
    release = await stack.lockWrites([`${db}_intake`]);
    let last: Promise<intake.SubmitEventsResponse[]>;
    try {
      last = submit(parts[2] ?? []);
      await notServing(['intake']);
      expect(s.intake.readiness.failing.get('store')).toMatch(
        new RegExp(`^database: \\w+ on ${db}_intake\\S* has had no answer for \\d+ s$`),
      );
      expect(await health.scoring()).toBe('SERVING');
      expect(await health.reporting()).toBe('SERVING');
    } finally {
      await release();
    }
    expect((await last).filter((a) => !a.accepted)).toEqual([]);
    await serving();

    // Nothing that waited was lost.
    expect(acks.filter((a) => a.accepted)).toHaveLength(commands.length);
    await caughtUp(s, md, 2021, new Date());
    const statistics = (groupBy: reporting.StatisticsGroupBy) =>
      unary<reporting.GetAnnualStatisticsResponse>((cb) =>
        s.reportingClient.getAnnualStatistics(
          reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy }),
          md,
          cb,
        ),
      );
    const byAgency = await statistics(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY);
    const byDistrict = await statistics(reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_DISTRICT);
    expect(figureDifferences(byAgency, byDistrict, year.truth)).toEqual([]);
    // Every concluded case scored at its last version.
    const lastVersion = new Map<string, number>();
    for (const a of acks)
      lastVersion.set(a.caseId, Math.max(lastVersion.get(a.caseId) ?? 0, Number(a.version)));
    const concluded = commands.filter((c) => c.kind?.$case === 'concludeCase');
    expect(concluded.length).toBeGreaterThan(10);
    const want = new Map(
      concluded.map((c) => {
        const id = c.kind?.value.meta?.caseId ?? '';
        return [id, lastVersion.get(id)] as const;
      }),
    );
    expect(await scoredVersions(s, md, [...want.keys()])).toEqual(want);
  }, 400_000);
});

/** The version of each case its score reflects. */
async function scoredVersions(
  s: WholeSystem,
  md: Metadata,
  caseIds: string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const caseId of caseIds) {
    const r = await unary<scoring.GetCaseScoreResponse>((cb) =>
      s.scoringClient.getCaseScore({ caseId }, md, cb),
    );
    out.set(caseId, Number(r.score?.caseVersion ?? 0));
  }
  return out;
}
