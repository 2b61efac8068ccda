import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { intake } from '@enforcement/contracts';
import type { RunningConsole } from '@enforcement/console';
import { eventually, tokenFor, uniqueName, unary } from '@enforcement/testing';
import { launchChromium, signIn, startConsole } from '../support/console.js';
import { registerOverdueCase } from '../support/overdue-case.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

const STUCK = '监督规则的动作未能送达案件受理服务';

describe('the Operations page shows a supervisor when the rules cannot reach case-intake, and when they can again', () => {
  let sys: WholeSystem;
  let web: RunningConsole;
  let browser: Browser;
  let page: Page;

  /** After a pass of the rules: whether intake's history of the case holds the rules' order. */
  const ordered = async (caseId: string) => {
    await sys.scoring.runtime.tick();
    return (
      await unary<intake.GetCaseResponse>(async (cb) =>
        sys.intakeClient.getCase({ caseId }, await tokenFor(['supervisor']), cb),
      ).catch(() => ({ history: [] }))
    ).history.some((e) => e.payload?.$case === 'supervisionOrderOpened');
  };

  beforeAll(async () => {
    // The rules on the wall clock, a pass when the test runs one: so the
    // second case's order is still owed when intake goes away.
    sys = await startWholeSystem();
    web = await startConsole(sys, new Date().getUTCFullYear());
    browser = await launchChromium();
    page = await browser.newPage({ locale: 'zh-CN' });
    await signIn(page, web.url, { role: 'supervisor' });
  });
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await sys?.stop();
  });

  it('a red alert naming the reason while nothing gets through, gone once intake is back', async () => {
    // Intake up: an overdue case gets its order, and the page has no alert.
    const first = uniqueName('page-late');
    await registerOverdueCase(sys, first);
    await eventually(() => ordered(first).then((y) => y || undefined), {
      timeoutMs: 30_000,
      intervalMs: 500,
      what: 'the first case’s order',
    });
    await page.getByRole('link', { name: '运行状态' }).click();
    await page.getByText('最近一次动作被受理').waitFor();
    expect(await page.getByText(STUCK).count()).toBe(0);

    // Intake goes away; a second overdue case is projected and its order is owed.
    const second = uniqueName('page-late');
    await registerOverdueCase(sys, second);
    await eventually(
      async () =>
        (await sys.scoring.runtime.models.getCase(second))?.view.version === 1 ? true : undefined,
      { what: `${second} projected` },
    );
    await sys.intake.stop();
    await sys.scoring.runtime.tick();

    // The page polls every 5 s: the alert says what is wrong, in the words intake's client gave.
    const alert = page.locator('.ant-alert-error', { hasText: STUCK });
    await alert.waitFor({ timeout: 20_000 });
    expect(await alert.innerText()).toMatch(
      /case-intake did not take \d+ action\(s\): .*UNAVAILABLE/,
    );
    // Its card says intake is down.
    await page
      .getByTestId('service-intake')
      .getByText('不可用', { exact: true })
      .waitFor({ timeout: 10_000 });

    // Intake back at its address: the owed order goes, and the alert gives way to the last trouble.
    await sys.startIntakeAgain();
    await eventually(() => ordered(second).then((y) => y || undefined), {
      timeoutMs: 15_000,
      intervalMs: 500,
      what: 'the second case’s order, once intake is back',
    });
    await alert.waitFor({ state: 'detached', timeout: 20_000 });
    await page.getByText('最近一次故障').waitFor();
  }, 120_000);
});
