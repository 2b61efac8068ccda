import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningConsole } from '@enforcement/console';
import type { Browser } from 'playwright-core';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { launchChromium, signIn, startConsole } from '../support/console.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/** The statuses a page's live stream has said so far, in order, as `<feed> up|down`. */
class LiveStream {
  private text = '';
  private readonly aborted = new AbortController();

  private constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {
    void this.pump();
  }

  static async open(url: string, cookie: string): Promise<LiveStream> {
    const c = new AbortController();
    const res = await fetch(`${url}/api/live`, { headers: { cookie }, signal: c.signal });
    expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
    const s = new LiveStream((res.body as ReadableStream<Uint8Array>).getReader());
    s.aborted.signal.addEventListener('abort', () => c.abort());
    return s;
  }

  private async pump(): Promise<void> {
    for (;;) {
      const { value, done } = await this.reader
        .read()
        .catch(() => ({ value: undefined, done: true }));
      if (done) return;
      this.text += new TextDecoder().decode(value);
    }
  }

  statuses(): string[] {
    return [...this.text.matchAll(/"feed":"(\w+)","up":(true|false)/g)].map(
      (m) => `${m[1]} ${m[2] === 'true' ? 'up' : 'down'}`,
    );
  }

  /** Waits until both of scoring's feeds were last said to be `state`. */
  async both(state: 'up' | 'down', timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const last = (feed: string) =>
      this.statuses()
        .filter((s) => s.startsWith(`${feed} `))
        .at(-1);
    while (last('orders') !== `orders ${state}` || last('scores') !== `scores ${state}`) {
      if (Date.now() > deadline)
        throw new Error(
          `the feeds were not ${state} within ${timeoutMs} ms: ${this.statuses().join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  close(): void {
    this.aborted.abort();
  }
}

describe("a page's live feed follows scoring: up once its watches are subscribed, down while it is away, up again when it is back", () => {
  let sys: WholeSystem;
  let web: RunningConsole;
  let browser: Browser | undefined;
  let cookie: string;
  beforeAll(async () => {
    sys = await startWholeSystem();
    web = await startConsole(sys, 2021);
    // Signed in with the development role picker, as the page does.
    const res = await fetch(`${web.url}/auth/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-console-request': '1' },
      body: JSON.stringify({ role: 'supervisor' }),
    });
    expect(res.status).toBe(200);
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(cookie).toMatch(/^console_session=/);
  });
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await sys?.stop();
  });

  it('says so for each of scoring’s watches, and the page’s header shows it without flickering', async () => {
    const live = await LiveStream.open(web.url, cookie);
    browser = await launchChromium();
    const page = await browser.newPage({ locale: 'zh-CN' });
    await signIn(page, web.url, { role: 'supervisor' });
    const header = page.getByTestId('live-status');
    try {
      await live.both('up', 10_000);
      expect(live.statuses()[0]).toBe('live up');
      await header.getByText('实时连接正常').waitFor();

      await sys.scoring.stop();
      await live.both('down', 10_000);
      await header.getByText('实时连接中断，正在重连').waitFor();
      // Away for 5 s: the watches are tried again every second, and none is
      // said to be up, on the stream or in the header.
      const before = live.statuses().length;
      const shown = new Set<string>();
      const until = Date.now() + 5_000;
      while (Date.now() < until) {
        shown.add(await header.innerText());
        await new Promise((r) => setTimeout(r, 50));
      }
      const meanwhile = live.statuses().slice(before);
      expect(meanwhile.filter((s) => s.endsWith(' down')).length).toBeGreaterThanOrEqual(4);
      expect(meanwhile.filter((s) => s.endsWith(' up'))).toEqual([]);
      expect([...shown]).toEqual(['实时连接中断，正在重连']);

      await sys.startScoringAgain();
      // Back at its address: the console's channel finds it within its
      // backoff, and the watches reopened on it are confirmed.
      await live.both('up', 10_000);
      await header.getByText('实时连接正常').waitFor({ timeout: 10_000 });
    } finally {
      live.close();
    }
  }, 90_000);

  it('ends the session on the page when its token expires: the sign-in page says so, and the live stream is not opened again', async () => {
    // A session of a few seconds, in the cookie the console sets (it lapses with the token).
    const exp = Math.floor(Date.now() / 1000) + 8;
    const token = await mintDevToken(DEV_AUTH, {
      subject: 'console-supervisor',
      roles: ['supervisor'],
      expiresIn: exp,
    });
    browser ??= await launchChromium();
    const context = await browser.newContext({ locale: 'zh-CN' });
    try {
      await context.addCookies([
        { name: 'console_session', value: token, url: web.url, httpOnly: true, expires: exp },
      ]);
      const page = await context.newPage();
      const liveRequests: number[] = [];
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/live') liveRequests.push(Date.now());
      });
      await page.goto(web.url);
      await page.getByTestId('who').waitFor();
      await page.getByTestId('live-status').getByText('实时连接正常').waitFor({ timeout: 10_000 });
      // At the token's expiry the page goes back to sign-in, and says why.
      await page.getByTestId('session-ended').waitFor({ timeout: 15_000 });
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000);
      expect(await page.getByTestId('session-ended').innerText()).toBe('登录已过期，请重新登录');
      expect(await page.getByTestId('who').count()).toBe(0);
      await page.getByRole('button', { name: /^(登 ?录|Sign in)$/ }).waitFor();
      // Nothing keeps knocking with the ended session.
      const opened = liveRequests.length;
      await new Promise((r) => setTimeout(r, 5_000));
      expect(liveRequests.length).toBe(opened);
    } finally {
      await context.close();
    }
  }, 60_000);
});
