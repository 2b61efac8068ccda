import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** Browsers that print to PDF headless, in the order they are tried on $PATH. */
const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** The browser to print with: $CHROMIUM, else the first candidate on $PATH. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM) return env.CHROMIUM;
  for (const dir of (env.PATH ?? '').split(delimiter))
    for (const name of CANDIDATES) if (dir && existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/**
 * An HTML page printed to PDF by headless Chromium, with the page's own print
 * styles (A4, page numbers, a title page). A fresh profile per call, removed
 * after; the browser is given `timeoutMs` and then killed.
 */
export async function printToPdf(html: Buffer, timeoutMs = 60_000): Promise<Buffer> {
  const browser = findChromium();
  if (!browser)
    throw new Error(
      "PDF needs Chromium: install it (Debian: apt-get install chromium) or set $CHROMIUM to the browser's path",
    );
  const dir = await mkdtemp(join(tmpdir(), 'enforce-pdf-'));
  try {
    const page = join(dir, 'report.html');
    const pdf = join(dir, 'report.pdf');
    await writeFile(page, html);
    await new Promise<void>((resolve, reject) =>
      execFile(
        browser,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--no-pdf-header-footer',
          `--user-data-dir=${join(dir, 'profile')}`,
          `--print-to-pdf=${pdf}`,
          `file://${page}`,
        ],
        { timeout: timeoutMs, killSignal: 'SIGKILL' },
        (e, _stdout, stderr) =>
          e
            ? reject(
                new Error(
                  `${browser} did not print the report${e.killed ? ` within ${timeoutMs / 1000} s` : ''}: ${String(stderr).trim().split('\n').slice(-3).join(' ') || e.message}`,
                ),
              )
            : resolve(),
      ),
    );
    return await readFile(pdf);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
