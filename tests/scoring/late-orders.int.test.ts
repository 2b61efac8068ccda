import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { scoring } from '@enforcement/contracts';
import type { RunningConsole } from '@enforcement/console';
import { eventually, tokenFor, uniqueName, unary } from '@enforcement/testing';
import { concludeLate, deadlineOrders, registerOverdueCase } from '../support/overdue-case.js';
import { enforce } from '../support/cli.js';
import { launchChromium, seriousViolations, signIn, startConsole } from '../support/console.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/**
 * Late data (docs/scoring.md, "The rules' clock"): a fact dated before the
 * rules' actions that reaches scoring after them. The orders stay; the order
 * list says which of their actions the case's history no longer calls for.
 */
describe('orders whose case no longer calls for them, as supervisors list and watch them', () => {
  let sys: WholeSystem;
  let web: RunningConsole;
  let browser: Browser;

  beforeAll(async () => {
    sys = await startWholeSystem({ rulesTickMs: 300 });
    web = await startConsole(sys, new Date().getUTCFullYear());
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await sys?.stop();
  });

  /** Agency lz-eeb's orders, as a supervisor lists them: `only` those no longer called for. */
  const list = async (only: boolean) => {
    const md = await tokenFor(['supervisor']);
    const r = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
      sys.scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({
          agencyId: 'lz-eeb',
          unwarrantedOnly: only,
          pageSize: 1000,
        }),
        md,
        cb,
      ),
    );
    return r.orders;
  };
  /** The case's orders among these, each with the actions on it its history no longer calls for. */
  const flagsOf = (orders: readonly scoring.SupervisionOrder[], caseId: string) =>
    new Map(
      orders.filter((o) => o.caseId === caseId).map((o) => [o.orderId, o.unwarrantedActions]),
    );
  const listed = async (caseId: string, only: boolean) => flagsOf(await list(only), caseId);
  /** Orders no longer called for, as GetRulesStatus counts them: the city's, and lz-eeb's. */
  const unwarrantedCounted = async () => {
    const md = await tokenFor(['supervisor']);
    const s = await unary<scoring.GetRulesStatusResponse>((cb) =>
      sys.scoringClient.getRulesStatus({}, md, cb),
    );
    return {
      city: s.ordersUnwarranted,
      agency: s.agencies.find((a) => a.agencyId === 'lz-eeb')?.ordersUnwarranted,
    };
  };

  it('names, on each order, the actions a conclusion dated in time but sent after them takes away: listed, watched and rebuilt alike', async () => {
    const caseId = uniqueName('late-orders');
    await registerOverdueCase(sys, caseId);
    const actions = await deadlineOrders(sys, caseId);
    expect(actions.size).toBe(2);
    // Judged on time, every action stands.
    await eventually(async () => ((await listed(caseId, false)).size === 2 ? true : undefined), {
      what: 'the two orders listed',
    });
    expect(await listed(caseId, false)).toEqual(new Map([...actions.keys()].map((id) => [id, []])));
    expect(await listed(caseId, true)).toEqual(new Map());
    expect(await unwarrantedCounted()).toEqual({ city: 0, agency: 0 });

    const supervisor = await tokenFor(['supervisor']);
    const watched: scoring.SupervisionOrder[] = [];
    const watch = sys.scoringClient.watchSupervisionOrders({ agencyId: 'lz-eeb' }, supervisor);
    watch.on('data', (r: scoring.WatchSupervisionOrdersResponse) => {
      if (r.order?.caseId === caseId) watched.push(r.order);
    });
    watch.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await concludeLate(sys, caseId);

    // Both orders, each with its opening and its escalations.
    await eventually(async () => ((await listed(caseId, true)).size === 2 ? true : undefined), {
      timeoutMs: 30_000,
      what: 'the orders listed as no longer called for',
    });
    expect(await listed(caseId, true)).toEqual(actions);
    expect(await listed(caseId, false)).toEqual(actions);
    await eventually(
      () =>
        new Set(watched.filter((o) => o.unwarrantedActions.length > 0).map((o) => o.orderId))
          .size === 2
          ? true
          : undefined,
      { what: 'the flagged orders watched' },
    );
    watch.cancel();
    expect(flagsOf(watched, caseId)).toEqual(actions);

    // The rules' status counts them, city-wide and by agency.
    expect(await unwarrantedCounted()).toEqual({ city: 2, agency: 2 });

    // `enforce orders --unwarranted` lists them so too.
    const cli = await enforce(sys, 'orders', '--unwarranted', '--agency', 'lz-eeb', '--json');
    expect(cli.code).toBe(0);
    const printed = scoring.ListSupervisionOrdersResponse.fromJSON(JSON.parse(cli.stdout));
    expect(flagsOf(printed.orders, caseId)).toEqual(actions);

    // The console's queue tags them, naming the actions, and lists them alone on request.
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    await signIn(page, `${web.url}/orders?agency=lz-eeb&unwarranted=true`, { role: 'supervisor' });
    for (const [orderId, ids] of actions)
      await page
        .locator(`tr[data-order="${orderId}"] [data-unwarranted="${ids.join(' ')}"]`, {
          hasText: '依据已不成立',
        })
        .waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-order]').count()).toBe((await list(true)).length);
    expect(await seriousViolations(page)).toEqual([]);
    // The operations page counts them, leading to the list.
    await page.goto(`${web.url}/operations`);
    await page.locator('[data-testid="orders-unwarranted"]', { hasText: /^2$/ }).waitFor();
    // And the case's page tags them among its orders.
    await page.goto(`${web.url}/cases/${encodeURIComponent(caseId)}`);
    for (const [orderId, ids] of actions)
      await page
        .locator(`tr[data-row-key="${orderId}"] [data-unwarranted="${ids.join(' ')}"]`)
        .waitFor({ timeout: 15_000 });
    expect(await seriousViolations(page)).toEqual([]);
    await context.close();

    // Projected again from the topic, the orders carry the same.
    await unary((cb) => sys.scoringClient.rebuildReadModels({}, supervisor, cb));
    expect(await listed(caseId, true)).toEqual(actions);
  });
});
