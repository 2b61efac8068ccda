import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findChromium } from '@enforcement/cli/pdf';

const run = promisify(execFile);

/** A4 in PDF points, as Chromium prints it (rounded). */
export const A4_POINTS = [595, 842];

/** Each page's size in points, in page order, read from the PDF's MediaBox entries. */
export function pdfPages(pdf: Buffer): number[][] {
  return [...pdf.toString('latin1').matchAll(/\/MediaBox \[([\d.\s-]+)\]/g)].map((m) => {
    const [x0 = 0, y0 = 0, x1 = 0, y1 = 0] = (m[1] ?? '').trim().split(/\s+/).map(Number);
    return [Math.round(x1 - x0), Math.round(y1 - y0)];
  });
}

/**
 * Lays a page out in headless Chromium at a window width and answers what a
 * script measured there: `measure` is the body of a function run after load,
 * whose JSON-able result comes back.
 */
export async function measureInBrowser(
  html: string,
  width: number,
  measure: string,
): Promise<unknown> {
  const browser = findChromium();
  if (!browser) throw new Error('no Chromium (scripts/bootstrap.sh installs it)');
  const dir = await mkdtemp(join(tmpdir(), 'layout-'));
  try {
    const page = join(dir, 'page.html');
    const probe = `<script>addEventListener('load', () => { const r = (() => { ${measure} })(); const out = document.createElement('pre'); out.id = 'measured'; out.textContent = JSON.stringify(r); document.body.append(out); });</script>`;
    await writeFile(page, html.replace('</body>', `${probe}</body>`));
    const { stdout } = await run(
      browser,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--hide-scrollbars',
        `--user-data-dir=${join(dir, 'profile')}`,
        `--window-size=${width},900`,
        '--virtual-time-budget=5000',
        '--dump-dom',
        `file://${page}`,
      ],
      { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const found = /<pre id="measured">([^<]*)<\/pre>/.exec(stdout);
    if (!found) throw new Error('the page did not report its measurements');
    return JSON.parse(
      (found[1] ?? '')
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&amp;/g, '&'),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
