import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reporting, scoring, type intake } from '@enforcement/contracts';
import { generateYear } from '@enforcement/generator';
import { eventually, repoRoot, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';
import { submitAll } from '../support/submit.js';

const run = promisify(execFile);

/**
 * A score row with its means to 9 decimals: the shares a mean is summed from
 * may be added in another order after a replay, which moves the last bits.
 */
type Rounded = ReturnType<typeof rounded>;
const rounded = (r: scoring.ScoreRow) => ({
  ...r,
  meanScore: r.meanScore.toFixed(9),
  indicatorMeans: Object.fromEntries(
    Object.entries(r.indicatorMeans).map(([k, v]) => [k, v.toFixed(9)]),
  ),
});
const storeAdmin = join(repoRoot(), 'apps/case-intake/dist/store-admin.js');

/** Runs the documented `npm run store -- …` command (its script) and returns its status and output. */
async function store(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [storeAdmin, ...args], {
      env: { ...process.env, MONGODB_URI: stack().mongoUri },
      timeout: 240_000,
    });
    return { code: 0, ...r };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

/**
 * docs/operations.md, "Backup and restore", followed on the local stack:
 * back the event store up while the services hold a year, destroy the
 * databases and the topics, restore, let intake republish and the read
 * models rebuild from the topic, and find the same annual figures, scores
 * and histories.
 */
describe('backup and restore of the event store', () => {
  const year = generateYear({
    seed: 'backup-restore',
    year: 2021,
    cases: 150,
    evaluate: true,
    reconsideration: { accepted: 8, concluded: 6, corrected: 2, notAccepted: 1 },
  });
  const name = uniqueName('restore');
  const db = name.replace(/-/g, '_');
  let sys: WholeSystem | undefined;
  let dir: string;
  let before: {
    digest: string;
    scores: Rounded[];
    audit: intake.AuditSummary | undefined;
    head: intake.GetCaseResponse;
  };
  const mongo = new MongoClient(stack().mongoUri);
  let firstCase = '';

  const statistics = async (s: WholeSystem) =>
    unary<reporting.GetAnnualStatisticsResponse>(async (cb) =>
      s.reportingClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021 }),
        await tokenFor(['reporting']),
        cb,
      ),
    );
  const agencyScores = async (s: WholeSystem) =>
    (
      await unary<scoring.ListScoresResponse>(async (cb) =>
        s.scoringClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
            pageSize: 100,
          }),
          await tokenFor(['supervisor']),
          cb,
        ),
      )
    ).rows.map(rounded);
  const audit = async (s: WholeSystem) => {
    const md = await tokenFor(['supervisor']);
    let summary: intake.AuditSummary | undefined;
    const findings: intake.AuditFinding[] = [];
    for await (const r of s.intakeClient.auditStore(
      {},
      md,
    ) as AsyncIterable<intake.AuditStoreResponse>) {
      if (r.item?.$case === 'summary') summary = r.item.value;
      if (r.item?.$case === 'finding') findings.push(r.item.value);
    }
    expect(findings).toEqual([]);
    return summary;
  };
  const getCase = async (s: WholeSystem) =>
    unary<intake.GetCaseResponse>(async (cb) =>
      s.intakeClient.getCase({ caseId: firstCase }, await tokenFor(['supervisor']), cb),
    );
  /** The year's figures once reporting has applied every event intake holds. */
  const settled = (s: WholeSystem, digest?: string) =>
    eventually(
      async () => {
        const r = await statistics(s).catch(() => undefined);
        if (!r || (digest !== undefined && r.digest !== digest)) return undefined;
        if (digest === undefined && !(r.asOf && r.asOf > submittedAt)) return undefined;
        return r;
      },
      { timeoutMs: 180_000, intervalMs: 1_000, what: 'reporting to hold the year' },
    );
  let submittedAt = new Date();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'enforcement-backup-'));
    sys = await startWholeSystem({ run: name });
    const acks = await submitAll(
      sys.intakeClient,
      await tokenFor(['agency', 'supervisor'], ['*']),
      year.stream(),
    );
    expect(acks.filter((a) => !a.accepted).slice(0, 3)).toEqual([]);
    firstCase = acks[0]?.caseId ?? '';
    const running = sys;
    submittedAt = new Date();
    const figures = await settled(sys);
    const scores = await eventually(
      async () => {
        const e = await agencyScores(running);
        const cases = e.reduce((n, x) => n + x.cases, 0);
        return cases > 0 && cases === (await agencyScores(running)).reduce((n, x) => n + x.cases, 0)
          ? e
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: 'scores' },
    );
    before = { digest: figures.digest, scores, audit: await audit(sys), head: await getCase(sys) };
  }, 400_000);

  afterAll(async () => {
    await sys?.stop();
    for (const suffix of ['intake', 'scoring', 'reporting'])
      await mongo
        .db(`${db}_${suffix}`)
        .dropDatabase()
        .catch(() => undefined);
    await mongo.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('backs up a live store, refuses a damaged backup and a non-empty target, and restores the same year', async () => {
    // Taken while intake runs, as an operator would.
    const backup = await store(['backup', '--db', `${db}_intake`, '--out', join(dir, 'b')]);
    expect(backup.stderr).toBe('');
    expect(backup.stdout).toMatch(new RegExp(`backed up ${db}_intake: ${year.commands} commits`));
    const verified = await store(['verify', '--from', join(dir, 'b')]);
    expect(verified.code).toBe(0);

    // One flipped byte is found, and the file named.
    await cp(join(dir, 'b'), join(dir, 'damaged'), { recursive: true });
    const commits = await readFile(join(dir, 'damaged', 'commits.bson'));
    const middle = commits.length >> 1;
    commits.writeUInt8(commits.readUInt8(middle) ^ 0x01, middle);
    await writeFile(join(dir, 'damaged', 'commits.bson'), commits);
    const damaged = await store(['restore', '--from', join(dir, 'damaged'), '--db', `${db}_x`]);
    expect(damaged.code).toBe(65);
    expect(damaged.stderr).toMatch(/commits\.bson: SHA-256 differs/);

    // A restore never writes over a store that holds anything.
    const over = await store(['restore', '--from', join(dir, 'b'), '--db', `${db}_intake`]);
    expect(over.code).toBe(65);
    expect(over.stderr).toMatch(/is not empty/);

    // Destroy: every service stopped, its databases dropped, its topics deleted.
    await sys?.stop();
    sys = undefined;
    for (const suffix of ['intake', 'scoring', 'reporting'])
      await mongo.db(`${db}_${suffix}`).dropDatabase();
    const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const mine = (await admin.listTopics()).filter((t) => t.startsWith(`${name}.`));
      expect(mine.length).toBeGreaterThan(0);
      await admin.deleteTopics({ topics: mine, timeout: 30_000 });
      await eventually(
        async () =>
          (await admin.listTopics()).some((t) => t.startsWith(`${name}.`)) ? undefined : true,
        { timeoutMs: 60_000, intervalMs: 500, what: 'the topics to go' },
      );
    } finally {
      await admin.disconnect();
    }

    // Restore into 4 buckets (the store had 8): each case goes where the new layout puts it.
    const restored = await store([
      'restore',
      '--from',
      join(dir, 'b'),
      '--db',
      `${db}_intake`,
      '--buckets',
      '4',
    ]);
    expect(restored.stderr).toBe('');
    expect(restored.stdout).toMatch(new RegExp(`restored ${year.commands} commits`));

    // The services start on the restored store; intake republishes, the read models rebuild.
    const restarted = await startWholeSystem({
      run: name,
      intakeEnv: { EVENT_STORE_BUCKETS: '4' },
    });
    sys = restarted;
    const after = await settled(sys, before.digest);
    expect(after.digest).toBe(before.digest);
    // Scores settle after the figures; a timeout shows how they differ.
    let scores: Rounded[] = [];
    await eventually(
      async () => {
        scores = await agencyScores(restarted);
        return isDeepStrictEqual(scores, before.scores) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: 'the agencies’ scores as before' },
    ).catch(() => undefined);
    expect(scores).toEqual(before.scores);
    expect(await audit(sys)).toEqual(before.audit);
    expect(await getCase(sys)).toEqual(before.head);

    // The commands intake had taken are still known: sent again, they are duplicates.
    const again = await submitAll(
      sys.intakeClient,
      await tokenFor(['agency', 'supervisor'], ['*']),
      [...year.stream()].slice(0, 20),
    );
    expect(again.map((a) => [a.accepted, a.duplicate])).toEqual(again.map(() => [true, true]));
  }, 600_000);
});
