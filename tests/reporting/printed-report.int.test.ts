import { describe, expect, it } from 'vitest';
import { printToPdf } from '@enforcement/cli/pdf';
import { render } from '@enforcement/reporting';
import { A4_POINTS, measureInBrowser, pdfPages } from '../support/browser.js';
import { statisticsOfYear } from '../support/year-report.js';

/** A generated year's report, rendered by reporting's own renderer. */
const reportOfYear = (): string =>
  render(
    statisticsOfYear({ seed: 'printed', cases: 900, asOfMs: Date.now() }),
    'HTML',
  ).content.toString('utf8');

/** Elements wider than their box (content a reader would have to scroll to), and the page's own width. */
const OVERFLOW = `
  const wide = [...document.querySelectorAll('.scroll, .chart, section, main')]
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => (e.querySelector('h3, h2')?.textContent ?? e.className) + ': ' + e.scrollWidth + ' > ' + e.clientWidth);
  return { wide, page: document.documentElement.scrollWidth, window: innerWidth };
`;

describe('the annual report as people read it: on a screen and on A4', () => {
  const html = reportOfYear();

  it.each([1400, 1280])(
    'fits every table and chart in a %i px window, nothing to scroll sideways',
    async (width) => {
      const m = (await measureInBrowser(html, width, OVERFLOW)) as {
        wide: string[];
        page: number;
        window: number;
      };
      expect(m.wide).toEqual([]);
      expect(m.page).toBeLessThanOrEqual(m.window);
    },
  );

  it('prints to A4: a title page, then the sections, every page A4', async () => {
    const pdf = await printToPdf(Buffer.from(html));
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const pages = pdfPages(pdf);
    // Title, headline figures, four groupings and the notes, each from a new page.
    expect(pages.length).toBeGreaterThanOrEqual(7);
    for (const size of pages) expect(size).toEqual(A4_POINTS);
  });

  it('prints every table whole in width on A4, with a header row', async () => {
    // Chromium's print layout at A4's printable width (210 mm less 26 mm of margins, at 96 px per inch).
    const printable = Math.floor(((210 - 26) / 25.4) * 96);
    const m = (await measureInBrowser(
      html.replace('@media print {', '@media all {'),
      printable,
      `${OVERFLOW.replace('return {', 'const headed = [...document.querySelectorAll("table")].every((t) => t.tHead && t.tHead.rows[0].cells.length === t.tBodies[0].rows[0].cells.length); return { headed,')}`,
    )) as { wide: string[]; headed: boolean };
    expect(m.wide).toEqual([]);
    expect(m.headed).toBe(true);
  });
});
