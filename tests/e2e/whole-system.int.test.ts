import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reporting, scoring } from '@enforcement/contracts';
import { cityParts } from '@enforcement/reference-data';
import { generateYear, reportedFigures } from '@enforcement/generator';
import { checkHealth } from '@enforcement/grpc-kit';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import stringWidth from 'string-width';
import { eventually, stack, tokenFor, unary } from '@enforcement/testing';
import { A4_POINTS, pdfPages } from '../support/browser.js';
import { CLI, enforce, enforceWith } from '../support/cli.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';
import { freePort } from '../support/ports.js';

describe('the whole system: a generated year through the CLI into intake, scoring and reporting', () => {
  let sys: WholeSystem;
  const dir = mkdtempSync(join(tmpdir(), 'e2e-'));
  const year = generateYear({ seed: 'e2e', cases: 900, evaluate: true });

  beforeAll(async () => {
    sys = await startWholeSystem();
    // The CLI generates the same year the test planned: same seed, same commands.
    const generated = await enforce(
      sys,
      'generate',
      '--seed',
      'e2e',
      '--cases',
      '900',
      // The seed report's 463, which the planned year holds at any size that fits them.
      '--reconsiderations',
      '463',
      '--evaluate',
      '--out',
      join(dir, 'year.ndjson'),
      '--truth',
      join(dir, 'truth.json'),
      '--quiet',
    );
    expect(generated.code).toBe(0);
    const submitted = await enforce(sys, 'submit', join(dir, 'year.ndjson'), '--json', '--quiet');
    expect(submitted.stderr).toBe('');
    expect(JSON.parse(submitted.stdout)).toMatchObject({
      accepted: year.commands,
      rejected: 0,
      invalid: 0,
    });
    expect(submitted.code).toBe(0);
    const submittedBy = new Date();
    const md = await tokenFor(['reporting']);
    await eventually(
      async () => {
        const s = await unary<reporting.GetAnnualStatisticsResponse>((cb) =>
          sys.reportingClient.getAnnualStatistics(
            reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy: 1 }),
            md,
            cb,
          ),
        );
        return s.asOf && s.asOf > submittedBy ? s : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: 'reporting to catch up' },
    );
  }, 300_000);

  afterAll(async () => {
    await sys?.stop();
  });

  it('matches every ground-truth total in the report, and the truth file the CLI wrote', async () => {
    const out = await enforce(sys, 'report', '--year', '2021', '--by', 'agency', '--json');
    expect(out.code).toBe(0);
    const s = reporting.GetAnnualStatisticsResponse.fromJSON(JSON.parse(out.stdout));
    expect(s.overall).toMatchObject(reportedFigures(year.truth.overall));
    for (const g of s.groups)
      expect(g, g.key).toMatchObject(
        reportedFigures(year.truth.byAgency.get(g.key) ?? year.truth.overall),
      );
    const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as {
      overall: { reconsiderationsCorrected: number; casesRegistered: number };
    };
    expect(truth.overall).toMatchObject({ reconsiderationsCorrected: 81, casesRegistered: 900 });
  });

  it('has a score for every concluded case', async () => {
    const md = await tokenFor(['supervisor']);
    const concluded = [...year.stream()]
      .filter((c) => c.kind?.$case === 'concludeCase')
      .map((c) => c.kind?.value.meta?.caseId ?? '');
    expect(concluded.length).toBeGreaterThan(800);
    const missing = await eventually(
      async () => {
        const lacking: string[] = [];
        for (let i = 0; i < concluded.length; i += 16)
          await Promise.all(
            concluded.slice(i, i + 16).map(async (caseId) => {
              const r = await unary<scoring.GetCaseScoreResponse>((cb) =>
                sys.scoringClient.getCaseScore({ caseId }, md, cb),
              ).catch(() => undefined);
              if (!r?.score) lacking.push(caseId);
            }),
          );
        return lacking.length === 0 ? lacking : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1_000, what: 'a score for every concluded case' },
    );
    expect(missing).toEqual([]);
    const ranking = await enforce(sys, 'scores', '--period', '2021', '--json');
    expect(ranking.code).toBe(0);
    const rows = (JSON.parse(ranking.stdout) as { rows: { rank: number; key: string }[] }).rows;
    expect(rows.map((r) => r.key).sort()).toEqual([...year.truth.byAgency.keys()].sort());
  });

  // Intake stores a case, agency and district without the white space at
  // their ends. Until the evening of 2026-12-06 scoring and reporting
  // matched them as asked for: a case pasted with a trailing space had no
  // score, and an agency asking for its own " lz-eeb" was refused.
  it('finds a case, an agency and a district asked for with white space at their ends', async () => {
    const concluded = [...year.stream()].find((c) => c.kind?.$case === 'concludeCase');
    const caseId = concluded?.kind?.value.meta?.caseId ?? '';
    const supervisor = await tokenFor(['supervisor']);
    const scoreOf = (asked: string) =>
      unary<scoring.GetCaseScoreResponse>((cb) =>
        sys.scoringClient.getCaseScore({ caseId: asked }, supervisor, cb),
      );
    await eventually(() => scoreOf(caseId).catch(() => undefined), { what: 'the case scored' });
    const { score } = await scoreOf(` ${caseId}\u3000`);
    expect(score?.caseId).toBe(caseId);
    const agencyId = score?.agencyId ?? '';
    const district = score?.district ?? '';
    const agency = await tokenFor(['agency'], [agencyId]);

    /**
     * The answer to `ask` with the names as stored, once asking with them
     * spelled with white space at their ends gives the same (scoring's rules
     * and both projections may still be at work between two calls).
     */
    const asSpelled = <T>(ask: (spelled: boolean) => Promise<T>, what: string) =>
      eventually(
        async () => {
          const plain = await ask(false);
          return isDeepStrictEqual(await ask(true), plain) ? plain : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500, what },
      );

    const scores = (r: Partial<scoring.ListScoresRequest>) =>
      unary<scoring.ListScoresResponse>((cb) =>
        sys.scoringClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
            ...r,
          }),
          r.agencyId ? agency : supervisor,
          cb,
        ),
      );
    const units = await asSpelled(
      (spelled) =>
        scores({
          groupBy: scoring.GroupBy.GROUP_BY_UNIT,
          agencyId: spelled ? ` ${agencyId}\t` : agencyId,
        }),
      'the units of an agency spelled with white space',
    );
    expect(units.rows.length).toBeGreaterThan(0);
    const districts = await asSpelled(
      (spelled) =>
        scores({
          groupBy: scoring.GroupBy.GROUP_BY_DISTRICT,
          district: spelled ? `\u3000${district} ` : district,
        }),
      'a district spelled with white space',
    );
    expect(districts.rows.map((r) => r.key)).toEqual([district]);

    const orders = await asSpelled(
      (spelled) =>
        unary<scoring.ListSupervisionOrdersResponse>((cb) =>
          sys.scoringClient.listSupervisionOrders(
            scoring.ListSupervisionOrdersRequest.fromPartial({
              agencyId: spelled ? ` ${agencyId} ` : agencyId,
              pageSize: 1000,
            }),
            agency,
            cb,
          ),
        ),
      'the orders of an agency spelled with white space',
    );
    expect(orders.orders.every((o) => o.agencyId === agencyId)).toBe(true);

    const listed = await asSpelled(
      (spelled) =>
        unary<reporting.ListCasesResponse>((cb) =>
          sys.reportingClient.listCases(
            reporting.ListCasesRequest.fromPartial({
              year: 2021,
              agencyId: spelled ? `\u3000${agencyId} ` : agencyId,
            }),
            agency,
            cb,
          ),
        ),
      'the cases of an agency spelled with white space',
    );
    expect(listed.total).toBeGreaterThan(0);

    const reader = await tokenFor(['reporting']);
    const inDistrict = await asSpelled(
      async (spelled) =>
        (
          await unary<reporting.GetAnnualStatisticsResponse>((cb) =>
            sys.reportingClient.getAnnualStatistics(
              reporting.GetAnnualStatisticsRequest.fromPartial({
                year: 2021,
                district: spelled ? ` ${district}\u3000` : district,
              }),
              reader,
              cb,
            ),
          )
        ).overall,
      'the statistics of a district spelled with white space',
    );
    expect(inDistrict?.casesRegistered).toBeGreaterThan(0);
  });

  it('finds the data people ask for: periods as written, the latest year with data by default', async () => {
    const thisYear = new Date().getFullYear();
    // A quarter and a month as people write them, without a kind flag.
    const quarter = await enforce(sys, 'scores', '--period', '2021-Q3', '--json');
    expect(quarter.code).toBe(0);
    expect((JSON.parse(quarter.stdout) as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
    const month = await enforce(sys, 'scores', '--period', '2021-07', '--json');
    expect((JSON.parse(month.stdout) as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
    const wrong = await enforce(sys, 'scores', '--period', '2021-13');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--period: write 2021, 2021-Q3 or 2021-07, not 2021-13');
    const mismatch = await enforce(sys, 'scores', '--period', '2021-Q3', '--period-kind', 'month');
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain('--period 2021-Q3 is a quarter, not a month');

    // No period: the latest year with scores (cases are scored in the year
    // they are concluded: the 2021 caseload's last conclusions fall in 2022),
    // and a word on stderr saying so.
    const lastConclusion = Math.max(
      ...[...year.stream()].flatMap((c) =>
        c.kind?.$case === 'concludeCase'
          ? [cityParts(c.kind.value.meta?.occurredAt ?? new Date(0)).year]
          : [],
      ),
    );
    const latest = await enforce(sys, 'scores', '--json');
    expect(latest.code).toBe(0);
    expect(latest.stderr).toContain(
      `no scores for ${thisYear}; showing ${lastConclusion}, the latest year with scores`,
    );
    expect((JSON.parse(latest.stdout) as { rows: unknown[] }).rows.length).toBeGreaterThan(0);
    // A period without data says where the data is.
    const empty = await enforce(sys, 'scores', '--period', String(thisYear));
    expect(empty.stderr).toContain(
      `no scores for ${thisYear}; scores exist for ${lastConclusion} (--period ${lastConclusion})`,
    );

    const report = await enforce(sys, 'report', '--json');
    expect(report.code).toBe(0);
    // A report is about a year's caseload: the latest year with cases registered.
    expect(report.stderr).toContain('the year 2021, the latest with cases registered');
    expect((JSON.parse(report.stdout) as { year: number }).year).toBe(2021);
    const none = await enforce(sys, 'report', '--year', String(thisYear));
    expect(none.stderr).toContain(
      `no cases registered in ${thisYear}; the latest year with cases is 2021 (--year 2021)`,
    );
    // The table states the three rates, each under its own name.
    const table = await enforce(sys, 'report', '--year', '2021');
    expect(table.stdout).toContain('closed in year');
    expect(table.stdout).toContain('on time');
    expect(table.stdout).toContain('closed by as-of');
  });

  it('renders the HTML report, verifies a case and audits the whole store through the CLI', async () => {
    const html = join(dir, 'report.html');
    const rendered = await enforce(
      sys,
      'report',
      '--year',
      '2021',
      '--format',
      'html',
      '--out',
      html,
      '--json',
    );
    expect(rendered.code).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain('2021 年度行政执法统计');
    // The same report printed to a PDF to file: A4 pages, a title page and one per section.
    const pdf = join(dir, 'report.pdf');
    const printed = await enforce(sys, 'report', '--year', '2021', '--format', 'pdf', '--out', pdf);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout).toMatch(
      /^wrote .*report\.pdf \(\d+ bytes, position \d+, digest [0-9a-f]{64}\)/,
    );
    const bytes = readFileSync(pdf);
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdfPages(bytes).length).toBeGreaterThanOrEqual(7);
    for (const box of pdfPages(bytes)) expect(box).toEqual(A4_POINTS);
    const verified = await enforce(sys, 'verify', 'LZ2021-000001', 'LZ2021-R00001');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/LZ2021-000001: intact, \d+ events/);
    const reconciled = await enforce(
      sys,
      'reconcile',
      '--brokers',
      stack().kafkaBrokers.join(','),
      '--topic',
      sys.topics.caseEvents,
    );
    expect(reconciled.code).toBe(0);
    expect(reconciled.stdout).toMatch(
      /^(\d+) events in the store, \1 on \S+ \(\d+ messages, \d+ republished\): they agree$/m,
    );
    const audited = await enforce(sys, 'audit');
    expect(audited.code).toBe(0);
    expect(audited.stdout).toMatch(
      /^\d+ cases, \d+ events checked against \d+ checkpoints: every history intact$/m,
    );
  });

  it('keeps answering under load: 32 annual reports, 32 rankings, a full ReadAll and an audit at once, health SERVING throughout', async () => {
    const [rep, sup] = await Promise.all([tokenFor(['reporting']), tokenFor(['supervisor'])]);
    const deadline = () => ({ deadline: Date.now() + 90_000 });
    const reports = Array.from({ length: 32 }, (_, i) =>
      unary((cb) =>
        sys.reportingClient.getAnnualStatistics(
          reporting.GetAnnualStatisticsRequest.fromPartial({ year: 2021, groupBy: i % 5 }),
          rep,
          deadline(),
          cb,
        ),
      ),
    );
    const rankings = Array.from({ length: 32 }, (_, i) =>
      unary((cb) =>
        sys.scoringClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            groupBy: ((i % 5) + 1) as scoring.GroupBy,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
            ascending: i % 2 === 0,
            pageSize: 20,
          }),
          sup,
          deadline(),
          cb,
        ),
      ),
    );
    const readAll = new Promise<number>((resolve, reject) => {
      let n = 0;
      const stream = sys.intakeClient.readAll(
        { afterPosition: 0, maxCount: 0, fromCommits: false },
        sup,
        deadline(),
      );
      stream.on('data', () => n++);
      stream.on('end', () => resolve(n));
      stream.on('error', reject);
    });
    const audit = enforce(sys, 'audit', '--json');
    const health = Promise.all(
      [sys.intake.address, sys.scoring.address, sys.reporting.address].map((a) =>
        checkHealth(a, '', 30_000),
      ),
    );
    const [r, s, all, a, h] = await Promise.all([
      Promise.all(reports),
      Promise.all(rankings),
      readAll,
      audit,
      health,
    ]);
    expect(r).toHaveLength(32);
    expect(s).toHaveLength(32);
    expect(all).toBeGreaterThanOrEqual(year.commands);
    expect(a.code).toBe(0);
    expect(h).toEqual(['SERVING', 'SERVING', 'SERVING']);
  });

  it('keeps streaming past bad lines, says which, and exits 3; bad usage exits 2', async () => {
    const file = join(dir, 'mixed.ndjson');
    const good = readFileSync(join(dir, 'year.ndjson'), 'utf8').split('\n').slice(0, 3);
    writeFileSync(
      file,
      [
        good[0],
        '{not json',
        good[1],
        '{"registerCase":{"meta":{"caseId":"x","commandId":"y"}}}',
        good[2],
      ].join('\n'),
    );
    const out = await enforce(sys, 'submit', file, '--json', '--quiet');
    expect(out.code).toBe(3);
    const summary = JSON.parse(out.stdout) as {
      duplicates: number;
      rejected: number;
      invalid: number;
      problems: { line: number; code: string }[];
    };
    expect(summary).toMatchObject({ duplicates: 3, rejected: 1, invalid: 1 });
    expect(summary.problems.map((p) => p.line).sort()).toEqual([2, 4]);
    const usage = await enforce(sys, 'report', '--format', 'docx');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--format must be one of html, pdf, markdown, csv, json');
    const pdfToStdout = await enforce(sys, 'report', '--format', 'pdf');
    expect(pdfToStdout.code).toBe(2);
    expect(pdfToStdout.stderr).toContain('--format pdf writes a file: give --out FILE');
    const unknown = await enforce(sys, 'frobnicate');
    expect(unknown.code).toBe(2);
  });

  it('guides a person who gets something wrong: suggestions, plain reasons, no stack traces', async () => {
    const noTrace = (r: { stderr: string }) => expect(r.stderr).not.toMatch(/\n\s+at /);
    const slip = await enforce(sys, 'scores', '--perod', '2021');
    expect(slip.code).toBe(2);
    expect(slip.stderr).toContain('unknown option --perod (did you mean --period?)');
    const command = await enforce(sys, 'scroes');
    expect(command.code).toBe(2);
    expect(command.stderr).toContain("unknown command 'scroes' (did you mean 'scores'?)");
    const version = await enforce(sys, '--version');
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^enforce \d+\.\d+\.\d+ \(contracts enforcement/);

    const missing = await enforce(sys, 'submit', join(dir, 'no-such.ndjson'));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`enforce submit: no such file: ${join(dir, 'no-such.ndjson')}\n`);

    // A service that is down is named, with what sets its address.
    const closed = await freePort();
    const down = await enforceWith(sys, { ENFORCE_REPORTING: `127.0.0.1:${closed}` }, 'report');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(
      `reporting is not answering at 127.0.0.1:${closed}, from $ENFORCE_REPORTING`,
    );
    noTrace(down);
    const intakeDown = await enforceWith(
      sys,
      { ENFORCE_INTAKE: `127.0.0.1:${closed}` },
      'submit',
      join(dir, 'year.ndjson'),
      '--retry-for',
      '1',
      '--quiet',
    );
    expect(intakeDown.code).toBe(1);
    expect(intakeDown.stderr).toContain(
      `case-intake at 127.0.0.1:${closed} ($ENFORCE_INTAKE) is not answering`,
    );
    expect(intakeDown.stdout).toContain('stopped: case-intake');
    noTrace(intakeDown);

    // A server that takes the connection and never answers: the call's deadline ends it.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const slow = await enforce(sys, 'orders', '--scoring', `127.0.0.1:${port}`, '--timeout', '2');
      expect(slow.code).toBe(1);
      expect(slow.stderr).toContain(
        `supervision-scoring at 127.0.0.1:${port} did not answer within 2 s (--timeout to wait longer)`,
      );
    } finally {
      silent.close();
    }

    // A bad token is explained.
    const expired = await mintDevToken(DEV_AUTH, {
      subject: 'x',
      roles: ['supervisor'],
      expiresIn: '-1m',
    });
    const old = await enforce(sys, 'orders', '--token', expired);
    expect(old.code).toBe(1);
    expect(old.stderr).toContain('UNAUTHENTICATED: token expired');
    expect(old.stderr).toContain(
      'The token comes from --token, $ENFORCE_TOKEN_FILE or $ENFORCE_TOKEN',
    );
    const elsewhere = await mintDevToken(
      { ...DEV_AUTH, audience: 'elsewhere' },
      { subject: 'x', roles: ['supervisor'] },
    );
    const wrongAudience = await enforceWith(sys, { ENFORCE_TOKEN: elsewhere }, 'orders');
    expect(wrongAudience.stderr).toContain('token meant for "elsewhere"');

    // Sizes the generator cannot plan are usage errors that say what fits.
    const tooMany = await enforce(
      sys,
      'generate',
      '--cases',
      '100',
      '--reconsiderations',
      '500',
      '--quiet',
    );
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toMatch(
      /100 cases are too few for 500 reconsiderations: .* at most about \d+ fit/,
    );
    const tiny = await enforce(
      sys,
      'generate',
      '--cases',
      '3',
      '--quiet',
      '--json',
      '--out',
      join(dir, 'tiny.ndjson'),
    );
    expect(tiny.code).toBe(0);
    expect(JSON.parse(tiny.stdout)).toMatchObject({ cases: 3, reviews: 0 });
    const scaled = await enforce(
      sys,
      'generate',
      '--cases',
      '2000',
      '--quiet',
      '--json',
      '--out',
      join(dir, 'scaled.ndjson'),
    );
    // 463 per 10,000 cases, as in the seed report, plus the filed but not accepted.
    expect(JSON.parse(scaled.stdout)).toMatchObject({ cases: 2000, reviews: 93 + 4 });
  });

  it('shows tables people read: names beside ids, escalated orders, fines in 万元', async () => {
    // The generated year answers every order in the end, escalated ones late:
    // none stands escalated now, and the CLI says where the escalated ones are.
    const standing = await enforce(sys, 'orders', '--status', 'escalated');
    expect(standing.code).toBe(0);
    expect(standing.stderr).toMatch(
      /no order is escalated and still unanswered; \d+\+? were escalated and answered since \(--escalated lists them\)/,
    );
    const escalated = await enforce(sys, 'orders', '--escalated', '--limit', '1000', '--json');
    expect(escalated.code).toBe(0);
    const listed = scoring.ListSupervisionOrdersResponse.fromJSON(JSON.parse(escalated.stdout));
    // The truth counts the orders opened in 2021; the list holds the next year's too.
    const in2021 = listed.orders.filter((o) => o.openedAt && cityParts(o.openedAt).year === 2021);
    expect(in2021).toHaveLength(year.truth.overall.ordersEscalated);
    for (const o of listed.orders) {
      expect(o.escalated).toBe(true);
      expect(o.level).toBeGreaterThan(1);
    }
    const text = await enforce(sys, 'orders', '--escalated');
    expect(text.stdout.split('\n')[0]).toMatch(
      /^order\s+case\s+agency\s+name\s+reason\s+status\s+level\s+escalated/,
    );
    expect(text.stdout).toMatch(/lz-\w+\s+柳州市\S+\s+\S+\s+ANSWERED\s+\d\s+yes/);
    const byAgency = await enforce(sys, 'report', '--year', '2021', '--by', 'agency');
    expect(byAgency.stdout).toContain('柳州市生态环境局');
    expect(byAgency.stdout).toContain('fines 万元');
    // Columns line up as a terminal draws them (Chinese names two cells a
    // character): every agency's row, ending in its right-aligned rank, is as
    // wide as the header.
    const [header = '', , ...agencies] = byAgency.stdout.trim().split('\n').slice(1);
    expect(agencies).toHaveLength(year.truth.byAgency.size);
    for (const row of agencies) expect(stringWidth(row)).toBe(stringWidth(header));
  });

  it('ends quietly when its reader stops reading, as `| head -1` does', async () => {
    const child = spawn(process.execPath, [CLI, 'generate', '--cases', '2000', '--quiet']);
    const first = await new Promise<string>((resolve) =>
      child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().split('\n')[0] ?? '')),
    );
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(first).toContain('"registerCase"');
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});
