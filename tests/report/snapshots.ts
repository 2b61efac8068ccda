// The annual report as a reader gets it, regenerated for docs/examples:
//   npm run report:examples [-- --cases 3000 --seed liuzhou]
// A generated year folded by reporting's own statistics and renderer (the
// figures the service gives for the same events), written as HTML, Markdown,
// CSV and JSON, printed to PDF by headless Chromium as `enforce report
// --format pdf` does, and photographed at 1400 px and as A4 pages.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { printToPdf, findChromium } from '@enforcement/cli/pdf';
import { cityDate } from '@enforcement/reference-data';
import { render } from '@enforcement/reporting';
import { repoRoot } from '@enforcement/testing';
import { statisticsOfYear } from '../support/year-report.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '3000' },
    seed: { type: 'string', default: 'liuzhou' },
    out: { type: 'string', default: 'docs/examples' },
  },
});
const out = join(repoRoot(), values.out);
mkdirSync(out, { recursive: true });

// As of the end of March 2022: the year closed, its late conclusions in.
const s = statisticsOfYear({
  seed: values.seed,
  cases: Number(values.cases),
  asOfMs: cityDate(2022, 4, 1).getTime(),
});

const base = join(out, 'annual-report-2021');
const html = render(s, 'HTML').content;
writeFileSync(`${base}.html`, html);
writeFileSync(`${base}.md`, render(s, 'MARKDOWN').content);
writeFileSync(`${base}.csv`, render(s, 'CSV').content);
writeFileSync(`${base}.json`, render(s, 'JSON').content);
writeFileSync(`${base}.pdf`, await printToPdf(html));

const browser = findChromium();
if (!browser) throw new Error('no Chromium: npm run report:examples needs it');
execFileSync(
  browser,
  [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    `--user-data-dir=${join(out, '.profile')}`,
    '--window-size=1400,2200',
    `--screenshot=${base}-1400px.png`,
    `file://${base}.html`,
  ],
  { stdio: 'ignore', timeout: 60_000 },
);
execFileSync('rm', ['-rf', join(out, '.profile')]);
// A4 pages as pictures, where poppler's pdftoppm is installed (the last run's go first).
for (const f of readdirSync(out)) if (f.startsWith('annual-report-2021-a4-')) rmSync(join(out, f));
try {
  execFileSync('pdftoppm', ['-png', '-r', '60', `${base}.pdf`, `${base}-a4`], { timeout: 60_000 });
} catch {
  process.stderr.write('pdftoppm not found (Debian: poppler-utils): A4 page pictures not made\n');
}
process.stdout.write(
  `wrote ${base}.{html,md,csv,json,pdf} and pictures (digest ${render(s, 'JSON').digest})\n`,
);
