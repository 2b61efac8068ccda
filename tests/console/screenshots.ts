// Screenshots of the console's main pages for the README, from a running
// console (the demo's, by default):
//   npm run console:screenshots [-- --url http://127.0.0.1:8080 --out docs/console]
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '@enforcement/testing';
import { launchChromium, signIn } from '../support/console.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:8080' },
    out: { type: 'string', default: join(repoRoot(), 'docs/console') },
  },
});
const url = values.url;
const out = values.out;

await mkdir(out, { recursive: true });
const browser = await launchChromium();
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 860 },
    locale: 'zh-CN',
    timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  await signIn(page, url, { role: 'supervisor' });
  const shot = async (name: string, path: string, ready: () => Promise<unknown>) => {
    await page.goto(`${url}${path}`);
    await ready();
    // Charts and tables settle after their data arrives.
    await page.waitForTimeout(1_500);
    await page.screenshot({ path: join(out, `${name}.png`), fullPage: false });
    console.log(`${name}: ${join(out, `${name}.png`)}`);
  };
  await shot('overview', '/', () => page.getByTestId('figure-casesRegistered').waitFor());
  await shot('rankings', '/rankings?groupBy=AGENCY', () =>
    page.locator('.ant-table-tbody tr.ant-table-row').first().waitFor(),
  );
  await shot('orders', '/orders?status=OPEN', () =>
    page.locator('.ant-table-tbody tr.ant-table-row').first().waitFor(),
  );
  const caseLink = await page
    .locator('.ant-table-tbody tr.ant-table-row a')
    .first()
    .getAttribute('href');
  await shot('case', caseLink ?? '/', () => page.locator('[data-version]').first().waitFor());
  await shot('report', '/report?year=2021', () =>
    page.frameLocator('iframe').locator('body').waitFor(),
  );
  await shot('operations', '/operations', () => page.getByTestId('service-intake').waitFor());
} finally {
  await browser.close();
}
