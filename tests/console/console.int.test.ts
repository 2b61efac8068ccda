import type { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { events, intake, reporting, scoring } from '@enforcement/contracts';
import { generateYear } from '@enforcement/generator';
import { agencyName, reasonText } from '@enforcement/reference-data';
import type { RunningConsole } from '@enforcement/console';
import { eventually, tokenFor, unary } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { submitAll } from '../support/submit.js';
import { caughtUp, startWholeSystem, type WholeSystem } from '../support/whole-system.js';
import { launchChromium, seriousViolations, signIn, startConsole } from '../support/console.js';

const YEAR = 2021;

/** The figures a Chinese reader is shown: 万元 with two decimals, thousands separators. */
const wan = (fen: number) =>
  `${new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(fen / 1_000_000)} 万元`;

describe('the supervision console in Chromium, on the real stack', () => {
  let sys: WholeSystem;
  let web: RunningConsole;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const year = generateYear({
    seed: 'console',
    cases: 160,
    evaluate: true,
    reconsideration: { accepted: 12, concluded: 10, corrected: 3, notAccepted: 1 },
  });
  const caseIds = [
    ...new Set(
      [...year.stream()].map(
        (c) => (c.kind?.value as { meta?: { caseId?: string } }).meta?.caseId ?? '',
      ),
    ),
  ].filter((id) => id.startsWith(`LZ${YEAR}`));

  const page = async (width = 1280, height = 900): Promise<Page> => {
    const context = await browser.newContext({
      viewport: { width, height },
      locale: 'zh-CN',
      timezoneId: 'Europe/London',
    });
    contexts.push(context);
    return context.newPage();
  };

  beforeAll(async () => {
    sys = await startWholeSystem();
    const md = await tokenFor(['agency', 'supervisor', 'reporting'], ['*']);
    const acks = await submitAll(sys.intakeClient, md, year.stream());
    expect(acks.filter((a) => !a.accepted)).toEqual([]);
    await caughtUp(sys, await tokenFor(['supervisor']), YEAR, new Date());
    web = await startConsole(sys, YEAR);
    const ready = await fetch(`${web.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true });
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await web?.stop();
    await sys?.stop();
  });

  it('shows a supervisor the year as GetAnnualStatistics gives it, formatted for Chinese readers', async () => {
    const p = await page();
    await signIn(p, web.url, { role: 'supervisor' });
    const stats = await unary<reporting.GetAnnualStatisticsResponse>(async (cb) =>
      sys.reportingClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({ year: YEAR, groupBy: 1 }),
        await tokenFor(['reporting']),
        cb,
      ),
    );
    const o = stats.overall ?? reporting.Statistics.fromPartial({});
    await p.getByTestId('figure-casesRegistered').locator(`text=${o.casesRegistered}`).waitFor();
    const shown = async (field: string) =>
      Number(await p.getByTestId(`figure-${field}`).getAttribute('data-value'));
    for (const field of [
      'casesRegistered',
      'casesConcluded',
      'closureRateInYear',
      'closureRate',
      'onTimeRate',
      'overdueCases',
      'penalties',
      'penaltyTotalFen',
      'discretionAnomalies',
      'ordersOpened',
      'ordersEscalated',
      'reconsiderationsAccepted',
      'correctionRate',
      'meanScore',
    ] as const)
      expect(await shown(field), field).toBe(o[field]);
    expect(o.casesRegistered).toBe(160);
    await expect(p.getByTestId('figure-penaltyTotalFen').innerText()).resolves.toContain(
      wan(o.penaltyTotalFen),
    );
    // Beijing time whatever the browser's zone: the as-of line names the minute in UTC+8.
    const asOfLine = await p.getByTestId('figures-as-of').innerText();
    expect(asOfLine).toMatch(/截至 \d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
    // The figures say which year they count (督办待答复 is the year's orders), and
    // the live orders beside them say they are of every year.
    expect(asOfLine).toMatch(new RegExp(`^${YEAR} 年度数据 · 截至`));
    await expect(p.getByText('实时督办动态（不限年度）').count()).resolves.toBe(1);
    // The best agency of the year is the one the rankings (ListScores) put first.
    const ranking = await unary<scoring.ListScoresResponse>(async (cb) =>
      sys.scoringClient.listScores(
        scoring.ListScoresRequest.fromPartial({
          groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
          periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
          period: String(YEAR),
          pageSize: 1000,
        }),
        await tokenFor(['supervisor']),
        cb,
      ),
    );
    const best = p
      .locator('.ant-card', { hasText: '最佳' })
      .first()
      .locator('tbody tr.ant-table-row')
      .first();
    await expect(best.innerText()).resolves.toContain(agencyName(ranking.rows[0]?.key ?? ''));
    await expect(best.innerText()).resolves.toContain((ranking.rows[0]?.meanScore ?? 0).toFixed(2));
    expect(await seriousViolations(p)).toEqual([]);
  });

  it('drills from the districts to an agency, its units and officers, with the scores ListScores gives', async () => {
    const p = await page();
    await signIn(p, `${web.url}/rankings`, { role: 'supervisor' });
    const md = await tokenFor(['supervisor']);
    const list = (q: Partial<scoring.ListScoresRequest>) =>
      unary<scoring.ListScoresResponse>((cb) =>
        sys.scoringClient.listScores(
          scoring.ListScoresRequest.fromPartial({
            periodKind: 3,
            period: String(YEAR),
            pageSize: 1000,
            ...q,
          }),
          md,
          cb,
        ),
      );
    const districts = await list({ groupBy: scoring.GroupBy.GROUP_BY_DISTRICT });
    const first = districts.rows[0];
    expect(first).toBeDefined();
    const rows = () => p.locator('.ant-table-tbody tr.ant-table-row');
    await expect.poll(() => rows().count()).toBe(districts.rows.length);
    await rows().first().getByRole('button').click();
    // A district's agencies, as reporting counts them over the district's cases.
    const inDistrict = await unary<reporting.GetAnnualStatisticsResponse>(async (cb) =>
      sys.reportingClient.getAnnualStatistics(
        reporting.GetAnnualStatisticsRequest.fromPartial({
          year: YEAR,
          groupBy: reporting.StatisticsGroupBy.STATISTICS_GROUP_BY_AGENCY,
          district: first?.key ?? '',
        }),
        await tokenFor(['reporting']),
        cb,
      ),
    );
    const agencies = [...inDistrict.groups].sort(
      (a, b) => b.meanScore - a.meanScore || a.key.localeCompare(b.key),
    );
    expect(agencies.length).toBeGreaterThan(0);
    await expect.poll(() => rows().count()).toBe(Math.min(agencies.length, 20));
    await expect(rows().first().innerText()).resolves.toContain(agencyName(agencies[0]?.key ?? ''));
    expect(await rows().first().locator('td').nth(3).innerText()).toBe(
      String(agencies[0]?.casesRegistered),
    );
    await rows().first().getByRole('button').click();
    const units = await list({
      groupBy: scoring.GroupBy.GROUP_BY_UNIT,
      agencyId: agencies[0]?.key ?? '',
    });
    await expect.poll(() => rows().count()).toBe(units.rows.length);
    const meanShown = await rows().first().locator('td').nth(2).innerText();
    expect(meanShown).toBe((units.rows[0]?.meanScore ?? 0).toFixed(2));
    await rows().first().getByRole('button').click();
    const officers = await list({
      groupBy: scoring.GroupBy.GROUP_BY_OFFICER,
      agencyId: agencies[0]?.key ?? '',
    });
    await expect.poll(() => rows().count()).toBe(Math.min(officers.rows.length, 20));
    expect(p.url()).toContain('groupBy=OFFICER');
    expect(await seriousViolations(p)).toEqual([]);
    // The best officer's cases, as reporting lists them, and on to one of them.
    const officer = officers.rows[0]?.key ?? '';
    await rows().first().getByRole('button').click();
    const cases = await unary<reporting.ListCasesResponse>(async (cb) =>
      sys.reportingClient.listCases(
        reporting.ListCasesRequest.fromPartial({
          year: YEAR,
          agencyId: agencies[0]?.key ?? '',
          officerId: officer,
          pageSize: 1000,
        }),
        await tokenFor(['supervisor']),
        cb,
      ),
    );
    expect(cases.total).toBeGreaterThan(0);
    expect(cases.cases.every((c) => c.officerIds.includes(officer))).toBe(true);
    await expect.poll(() => rows().count()).toBe(Math.min(cases.cases.length, 20));
    const firstCase = cases.cases[0]?.caseId ?? '';
    await expect(rows().first().innerText()).resolves.toContain(firstCase);
    await rows().first().getByRole('link', { name: firstCase }).click();
    await p.waitForURL(new RegExp(`/cases/${firstCase}$`));
    await p.getByTestId('integrity').waitFor();
    expect(await seriousViolations(p)).toEqual([]);
  });

  it('shows a case with its timeline, its score indicator by indicator and its chain verified', async () => {
    const md = await tokenFor(['supervisor']);
    let scored: scoring.CaseScore | undefined;
    for (const id of caseIds) {
      const s = await unary<scoring.GetCaseScoreResponse>((cb) =>
        sys.scoringClient.getCaseScore({ caseId: id }, md, cb),
      ).catch(() => undefined);
      if (s?.score && s.score.indicators.some((i) => i.points < i.maxPoints)) {
        scored = s.score;
        break;
      }
    }
    expect(scored).toBeDefined();
    const caseId = scored?.caseId ?? '';
    const history = await unary<intake.GetCaseResponse>((cb) =>
      sys.intakeClient.getCase({ caseId }, md, cb),
    );
    const p = await page();
    await signIn(p, `${web.url}/cases/${caseId}`, { role: 'supervisor' });
    await expect(p.getByTestId('case-score').innerText()).resolves.toBe(
      (scored?.score ?? 0).toFixed(2),
    );
    await expect.poll(() => p.locator('[data-version]').count()).toBe(history.history.length);
    await expect(p.getByTestId('integrity').innerText()).resolves.toContain('完整');
    // Each indicator that lost points links to the events behind it.
    const lost = scored?.indicators.find((i) => i.points < i.maxPoints && i.eventIds.length > 0);
    if (lost) {
      const version = history.history.find((e) => e.eventId === lost.eventIds[0])?.version;
      await p
        .getByRole('link', { name: `v${version}` })
        .first()
        .click();
      expect(p.url()).toContain(`#${lost.eventIds[0]}`);
    }
    // The reasons in the page's language: in Chinese from each reason's code
    // and figures, in English as the model recorded them.
    const reasoned = scored?.indicators.find((i) => i.points < i.maxPoints);
    if (!reasoned) throw new Error('the case was chosen for an indicator that lost points');
    expect(reasoned.reasonDetails.map((d) => d.code)).toHaveLength(reasoned.reasons.length);
    const english = reasoned.reasons.join('；');
    const chinese = reasoned.reasonDetails
      .map((d) => reasonText('zh', d.code, d.args) ?? 'a code the catalogue lacks')
      .join('；');
    expect(chinese).not.toBe(english);
    await p.getByText(chinese, { exact: true }).waitFor();
    expect(await p.getByText(english, { exact: true }).count()).toBe(0);
    await p.getByRole('button', { name: 'English' }).click();
    await p.getByText(english, { exact: true }).waitFor();
    expect(await p.getByText(chinese, { exact: true }).count()).toBe(0);
    expect(await seriousViolations(p)).toEqual([]);
  });

  it('shows a case whose history is too large for one answer up to where GetCase cut it, and says where it goes on', async () => {
    const agency = await tokenFor(['agency'], ['lz-eeb']);
    const caseId = `LONG-${Date.now().toString(36)}`;
    const l = loop(caseId, new Date(Date.UTC(YEAR, 5, 1)));
    await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
    await unary((cb) => sys.intakeClient.dispatchCase(l.dispatch, agency, cb));
    const [evidence] = l.steps();
    if (evidence?.step?.$case !== 'evidence') throw new Error('the loop starts with evidence');
    const first = evidence.step.value;
    // Five pieces of evidence of 900 KB each: 4.5 MB of history.
    for (let i = 0; i < 5; i++)
      await unary((cb) =>
        sys.intakeClient.recordProgress(
          {
            meta: { ...evidence.meta, commandId: `${caseId}:ev${i}`, caseId },
            step: {
              $case: 'evidence',
              value: {
                ...first,
                evidenceId: `ev-${i}`,
                description: `${i}`.repeat(900_000),
              },
            },
          },
          agency,
          cb,
        ),
      );
    const got = await unary<intake.GetCaseResponse>((cb) =>
      sys.intakeClient.getCase({ caseId }, agency, cb),
    );
    expect(got.historyNextVersion).toBeGreaterThan(1);
    const p = await page();
    await signIn(p, `${web.url}/cases/${caseId}`, { role: 'supervisor' });
    await expect.poll(() => p.locator('[data-version]').count()).toBe(got.history.length);
    const note = await p.getByTestId('history-continues').innerText();
    expect(note).toContain(`${got.historyNextVersion}`);
    expect(note).toContain(`: ${7 - got.history.length}`);
    await expect(p.getByTestId('integrity').innerText()).resolves.toContain('完整');
  });

  it('pages through the orders queue: a page, then the next on request, in ListSupervisionOrders order', async () => {
    const md = await tokenFor(['supervisor']);
    const all = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
      sys.scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({ pageSize: 1000 }),
        md,
        cb,
      ),
    );
    expect(all.orders.length).toBeGreaterThan(6);
    const p = await page();
    await signIn(p, `${web.url}/orders?pageSize=3`, { role: 'supervisor' });
    const shown = () =>
      p
        .locator('tr[data-order]')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-order')));
    await expect.poll(shown).toEqual(all.orders.slice(0, 3).map((o) => o.orderId));
    await p.getByRole('button', { name: /加载更多/ }).click();
    await expect.poll(shown).toEqual(all.orders.slice(0, 6).map((o) => o.orderId));
  });

  it('lists the reconsiderations about an enforcement case and leads to them', async () => {
    const filed = [...year.stream()].flatMap((c) =>
      c.kind?.$case === 'fileReconsideration'
        ? [{ review: c.kind.value.meta?.caseId ?? '', target: c.kind.value.enforcementCaseId }]
        : [],
    );
    const first = filed[0];
    expect(first).toBeDefined();
    const reviews = filed.filter((f) => f.target === first?.target).map((f) => f.review);
    const p = await page();
    await signIn(p, `${web.url}/cases/${first?.target}`, { role: 'supervisor' });
    const card = p.locator('.ant-card', { hasText: '复议与诉讼' });
    for (const id of reviews) await card.getByRole('link', { name: id }).waitFor();
    expect(await card.locator('tbody tr.ant-table-row').count()).toBe(reviews.length);
    await card.getByRole('link', { name: first?.review ?? '' }).click();
    await p.waitForURL(new RegExp(`/cases/${first?.review}$`));
    await p.getByRole('link', { name: first?.target ?? '' }).waitFor();
  });

  /** The first enforcement case of the year not archived yet, which can still take an order. */
  const openEnforcementCase = async (md: Metadata): Promise<intake.CaseView | undefined> => {
    for (const id of caseIds) {
      const c = await unary<intake.GetCaseResponse>((cb) =>
        sys.intakeClient.getCase({ caseId: id }, md, cb),
      );
      if (
        c.case &&
        c.case.caseType === 1 &&
        c.case.status !== intake.CaseStatus.CASE_STATUS_ARCHIVED
      )
        return c.case;
    }
    return undefined;
  };

  it('lets a supervisor open an order that arrives live, and the agency answer it, which arrives live too', async () => {
    const md = await tokenFor(['supervisor']);
    const target = await openEnforcementCase(md);
    expect(target).toBeDefined();
    const caseId = target?.caseId ?? '';
    const agency = target?.agencyId ?? '';

    const watcher = await page();
    await signIn(watcher, web.url, { role: 'supervisor' });
    await watcher.getByText('实时连接正常').waitFor();
    const supervisor = await page();
    await signIn(supervisor, `${web.url}/cases/${caseId}`, { role: 'supervisor' });
    await supervisor.getByRole('button', { name: '发起督办' }).click();
    const dialog = supervisor.getByRole('dialog');
    await dialog.getByLabel('说明').fill('请说明办理进度');
    await dialog.getByRole('button', { name: /提 ?交/ }).click();
    await dialog.waitFor({ state: 'detached' });

    // It arrives in the watcher's live feed without a reload.
    const item = watcher.locator(`[data-testid="live-orders"] [data-status="ORDER_STATUS_OPEN"]`, {
      hasText: caseId,
    });
    await item.waitFor({ timeout: 15_000 });
    const orderId = await item.getAttribute('data-order');
    expect(orderId).toMatch(/^SUP-/);

    // The agency sees it in its queue, answers it; the supervisor's feed shows it answered.
    const own = await page();
    await signIn(own, `${web.url}/orders`, { role: 'agency', agency });
    const row = own.locator(`tr[data-order="${orderId}"]`);
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('button', { name: /回 ?复/ }).click();
    const answer = own.getByRole('dialog');
    await answer.getByLabel('回复内容').fill('已整改，按期办结');
    await answer.getByRole('button', { name: /提 ?交/ }).click();
    await answer.waitFor({ state: 'detached' });
    await watcher
      .locator(
        `[data-testid="live-orders"] [data-order="${orderId}"][data-status="ORDER_STATUS_ANSWERED"]`,
      )
      .waitFor({ timeout: 15_000 });
    const listed = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
      sys.scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({ agencyId: agency, pageSize: 1000 }),
        md,
        cb,
      ),
    );
    expect(listed.orders.find((o) => o.orderId === orderId)?.status).toBe(
      scoring.OrderStatus.ORDER_STATUS_ANSWERED,
    );
    expect(await seriousViolations(own)).toEqual([]);
  });

  it("keeps an agency to its own cases and orders: no other agency's case, no operations, no city figures", async () => {
    const md = await tokenFor(['supervisor']);
    const cases = await Promise.all(
      caseIds
        .slice(0, 40)
        .map((id) =>
          unary<intake.GetCaseResponse>((cb) => sys.intakeClient.getCase({ caseId: id }, md, cb)),
        ),
    );
    const mine = cases[0]?.case?.agencyId ?? '';
    const foreign =
      cases.find((c) => c.case?.agencyId && c.case.agencyId !== mine)?.case?.caseId ?? '';
    expect(foreign).not.toBe('');
    const p = await page();
    await signIn(p, `${web.url}/orders`, { role: 'agency', agency: mine });
    const listed = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
      sys.scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({ agencyId: mine, pageSize: 1000 }),
        md,
        cb,
      ),
    );
    // The table is there before its rows: wait for them to arrive.
    await expect
      .poll(() => p.locator('tr[data-order]').count())
      .toBe(Math.min(20, listed.orders.length));
    await expect(p.locator('tbody').innerText()).resolves.not.toMatch(
      new RegExp(
        cases
          .filter((c) => c.case?.agencyId !== mine)
          .map((c) => agencyName(c.case?.agencyId ?? ''))
          .filter((n) => n !== agencyName(mine))[0] ?? '^$',
      ),
    );
    expect(await p.getByRole('link', { name: '运行状态' }).count()).toBe(0);
    expect(await p.getByRole('link', { name: '年度报告' }).count()).toBe(0);
    await p.goto(`${web.url}/cases/${foreign}`);
    await p.getByText('当前角色无权查看').waitFor();
    const foreignAgency = cases.find((c) => c.case?.caseId === foreign)?.case?.agencyId ?? '';
    const api = await p.evaluate<number[], string[]>(
      async (urls) => (await Promise.all(urls.map((u) => fetch(u)))).map((x) => x.status),
      [
        '/api/operations',
        '/api/statistics?year=2021',
        `/api/cases?year=2021&agency=${foreignAgency}`,
        `/api/cases?year=2021&agency=${mine}`,
      ],
    );
    expect(api).toEqual([403, 403, 403, 200]);
    const cross = await p.evaluate(
      async () => (await fetch('/api/orders/x/answer', { method: 'POST', body: '{}' })).status,
    );
    expect(cross).toBe(403);
  });

  it('refuses malformed and hostile requests with the rule and field at fault, and loses nothing accepted', async () => {
    const md = await tokenFor(['supervisor']);
    const target = await openEnforcementCase(md);
    const caseId = target?.caseId ?? '';
    const owner = target?.agencyId ?? '';
    const other = [...new Set(year.truth.byAgency.keys())].find((a) => a !== owner) ?? '';
    const supervisor = await page();
    await signIn(supervisor, web.url, { role: 'supervisor' });
    type Answer = {
      status: number;
      body: { error?: { code?: string; field?: string; grpc?: string }; duplicate?: boolean };
    };
    const call = (p: Page, method: string, url: string, body?: string) =>
      p.evaluate<Answer, { method: string; url: string; body?: string }>(
        async (r) => {
          const res = await fetch(r.url, {
            method: r.method,
            headers: { 'content-type': 'application/json', 'x-console-request': '1' },
            body: r.body,
          });
          const text = await res.text();
          let parsed: unknown = {};
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = { text };
          }
          return { status: res.status, body: parsed } as Answer;
        },
        { method, url, body },
      );
    const due = new Date(Date.now() + 10 * 86_400_000).toISOString();
    const order = {
      commandId: `outsider-${Date.now()}`,
      caseId,
      reason: 'COMPLAINT',
      note: 'from an outsider test',
      responseDueAt: due,
    };

    expect((await fetch(`${web.url}/%E0%A4%A`)).status).toBe(400);
    expect(await call(supervisor, 'GET', '/api/orders?status=NOPE')).toMatchObject({
      status: 400,
      body: { error: { grpc: 'INVALID_ARGUMENT', field: 'status' } },
    });
    expect(await call(supervisor, 'GET', '/api/scores?groupBy=NOPE')).toMatchObject({
      status: 400,
    });
    expect(await call(supervisor, 'GET', '/api/statistics?year=abc')).toMatchObject({
      status: 400,
      body: { error: { field: 'year' } },
    });
    expect(await call(supervisor, 'POST', '/api/orders', 'not json')).toMatchObject({
      status: 400,
      body: { error: { field: 'body' } },
    });
    expect(
      await call(
        supervisor,
        'POST',
        '/api/orders',
        JSON.stringify({ ...order, note: 'x'.repeat(100_000) }),
      ),
    ).toMatchObject({ status: 413, body: { error: { code: 'CONSOLE.BODY_TOO_LARGE' } } });
    expect(
      await call(supervisor, 'POST', '/api/orders', JSON.stringify({ ...order, commandId: '' })),
    ).toMatchObject({ status: 400, body: { error: { field: 'commandId' } } });
    expect(
      await call(
        supervisor,
        'POST',
        '/api/orders',
        JSON.stringify({
          ...order,
          commandId: `${order.commandId}-past`,
          responseDueAt: '2000-01-01T00:00:00Z',
        }),
      ),
    ).toMatchObject({
      status: 400,
      body: { error: { code: 'ORDER.DUE_BEFORE_OPENED', field: 'response_due_at' } },
    });

    // Accepted once; the same command again is recognised, not applied twice.
    const opened = await call(
      supervisor,
      'POST',
      '/api/orders',
      JSON.stringify({ ...order, orderId: 'SUP-OUTSIDER-1' }),
    );
    expect(opened.status).toBe(200);
    const again = await call(
      supervisor,
      'POST',
      '/api/orders',
      JSON.stringify({ ...order, orderId: 'SUP-OUTSIDER-1' }),
    );
    expect(again).toMatchObject({ status: 200, body: { duplicate: true } });

    // Another agency may not answer it; the owning agency may.
    const foreign = await page();
    await signIn(foreign, web.url, { role: 'agency', agency: other });
    const answer = { commandId: `${order.commandId}-answer`, caseId, answer: 'not ours' };
    expect(
      await call(foreign, 'POST', '/api/orders/SUP-OUTSIDER-1/answer', JSON.stringify(answer)),
    ).toMatchObject({ status: 403, body: { error: { grpc: 'PERMISSION_DENIED' } } });
    const history = await unary<intake.GetCaseResponse>((cb) =>
      sys.intakeClient.getCase({ caseId }, md, cb),
    );
    expect(history.case?.orders.filter((o) => o.orderId === 'SUP-OUTSIDER-1')).toEqual([
      expect.objectContaining({ open: true }),
    ]);
  });

  it('lists again when its live stream comes back: an order opened while the console was away shows on the pages left open', async () => {
    const md = await tokenFor(['supervisor']);
    const target = await openEnforcementCase(md);
    expect(target).toBeDefined();
    const caseId = target?.caseId ?? '';
    const overview = await page();
    await signIn(overview, web.url, { role: 'supervisor' });
    const orders = await page();
    await signIn(orders, `${web.url}/orders`, { role: 'supervisor' });
    const onCase = await page();
    await signIn(onCase, `${web.url}/cases/${caseId}`, { role: 'supervisor' });
    const pages = [overview, orders, onCase];
    for (const p of pages) await p.getByText('实时连接正常').waitFor({ timeout: 15_000 });
    await orders.locator('tr[data-order]').first().waitFor();

    // The console goes away (a redeploy): the pages' streams are cut.
    const port = Number(new URL(web.url).port);
    await web.stop();
    for (const p of pages) await p.getByText('实时连接中断，正在重连').waitFor();
    // Meanwhile an order is opened and scored: its update goes to no page.
    const orderId = `SUP-away-${Date.now()}`;
    await unary((cb) =>
      sys.intakeClient.openSupervisionOrder(
        {
          meta: {
            commandId: `${orderId}-open`,
            caseId,
            expectedVersion: undefined,
            occurredAt: undefined,
          },
          orderId,
          reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
          note: '请说明办理进度',
          responseDueAt: new Date(Date.now() + 7 * 86_400_000),
          ruleId: '',
        },
        md,
        cb,
      ),
    );
    await eventually(
      async () => {
        const listed = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
          sys.scoringClient.listSupervisionOrders(
            scoring.ListSupervisionOrdersRequest.fromPartial({ pageSize: 1 }),
            md,
            cb,
          ),
        );
        return listed.orders[0]?.orderId === orderId ? true : undefined;
      },
      { what: "the order, first in scoring's list" },
    );

    // Back where the pages look for it: each stream connects again, and each
    // page lists again, so the order shows without anyone reloading.
    web = await startConsole(sys, YEAR, port);
    for (const p of pages) await p.getByText('实时连接正常').waitFor({ timeout: 20_000 });
    await overview
      .locator(
        `[data-testid="live-orders"] [data-order="${orderId}"][data-status="ORDER_STATUS_OPEN"]`,
      )
      .waitFor({ timeout: 10_000 });
    await orders.locator(`tr[data-order="${orderId}"]`).waitFor({ timeout: 10_000 });
    await onCase.getByRole('cell', { name: orderId }).waitFor({ timeout: 10_000 });
  }, 120_000);

  it('works at tablet width and in English, and can be driven by the keyboard', async () => {
    const p = await page(768, 1024);
    await signIn(p, web.url, { role: 'supervisor' });
    await p.getByTestId('figure-casesRegistered').waitFor();
    const overflow = await p.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await p.getByRole('button', { name: 'English' }).click();
    await p.getByText('Registered').first().waitFor();
    expect(await p.locator('html').getAttribute('lang')).toBe('en');
    // Tab to the rankings link and follow it with Enter.
    let found = false;
    for (let i = 0; i < 30 && !found; i++) {
      await p.keyboard.press('Tab');
      found = await p.evaluate<boolean>("document.activeElement?.textContent === 'Rankings'");
    }
    expect(found).toBe(true);
    await p.keyboard.press('Enter');
    await p.waitForURL(/\/rankings/);
    // Whether the table is still loading or full, a keyboard user can reach
    // and scroll it: the wide table is a focusable, named region.
    expect(await seriousViolations(p)).toEqual([]);
    const table = p.getByRole('region', { name: 'Rankings' });
    await table.locator('tbody tr[data-row-key]').first().waitFor();
    expect(await seriousViolations(p)).toEqual([]);
    const scrolls = await table.evaluate((el) => el.scrollWidth > el.clientWidth);
    expect(scrolls).toBe(true);
    await table.focus();
    await p.keyboard.press('ArrowRight');
    await expect.poll(() => table.evaluate((el) => el.scrollLeft)).toBeGreaterThan(0);
  });
});
