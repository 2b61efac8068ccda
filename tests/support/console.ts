import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { findChromium } from '@enforcement/cli/pdf';
import { loadConsoleConfig, serveConsole, type RunningConsole } from '@enforcement/console';
import type { WholeSystem } from './whole-system.js';

/**
 * Debian's Chromium, driven by Playwright. The flags keep it from reaching
 * for Google's hosts, which this machine's closed network refuses.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no Chromium (scripts/bootstrap.sh installs it)');
  return chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * The console over `sys`, signing in with the development role picker, on a
 * free port or on `port` (a console started again where its pages look for it).
 */
export function startConsole(sys: WholeSystem, year: number, port = 0): Promise<RunningConsole> {
  return serveConsole(
    loadConsoleConfig({
      ENFORCEMENT_ENV: 'development',
      CONSOLE_SIGN_IN: 'development',
      CONSOLE_PORT: String(port),
      CONSOLE_DEFAULT_YEAR: String(year),
      INTAKE_ADDRESS: sys.intake.address,
      SCORING_ADDRESS: sys.scoring.address,
      REPORTING_ADDRESS: sys.reporting.address,
    }),
  );
}

/** Signs in through the role picker, as a person would. */
export async function signIn(
  page: Page,
  url: string,
  as: { role: 'supervisor' | 'reporting' } | { role: 'agency'; agency: string },
): Promise<void> {
  await page.goto(url);
  const names = {
    supervisor: /监督人员|Supervisor/,
    agency: /执法机关|Agency/,
    reporting: /统计报告|Reporting/,
  };
  await page.getByRole('radio', { name: names[as.role] }).check();
  if (as.role === 'agency') {
    await page.locator('#agency-pick').fill(as.agency);
    await page.locator('.ant-select-item-option', { hasText: `(${as.agency})` }).click();
  }
  await page.getByRole('button', { name: /^(登 ?录|Sign in)$/ }).click();
  await page.getByTestId('who').waitFor();
}

const axeSource = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** axe-core's violations on the page as it stands, serious and critical only. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the debugging protocol, which the page's script policy does not govern.
  await page.evaluate(axeSource);
  const found = await page.evaluate<AxeViolation[]>(
    "axe.run({ resultTypes: ['violations'] }).then((r) => r.violations)",
  );
  return found
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => ({ target: n.target })),
    }));
}
