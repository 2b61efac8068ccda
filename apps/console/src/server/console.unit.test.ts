import { describe, expect, it } from 'vitest';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { createGrpcServer, serviceNameOf } from '@enforcement/grpc-kit';
import { DEV_AUTH, mintDevToken, verifierFrom } from '@enforcement/auth';
import { createConsole } from './app.js';
import { serveConsole } from './serve.js';
import { loadConsoleConfig } from './config.js';
import { apiErrorOf } from './services.js';
import { devToken } from './session.js';

const dev = loadConsoleConfig({ ENFORCEMENT_ENV: 'development', CONSOLE_SIGN_IN: 'development' });

/** A development console on any free port, whose services (unless named) nothing answers for. */
const nowhere = '127.0.0.1:1';
const offlineEnv = {
  ENFORCEMENT_ENV: 'development',
  CONSOLE_SIGN_IN: 'development',
  CONSOLE_PORT: '0',
  INTAKE_ADDRESS: nowhere,
  SCORING_ADDRESS: nowhere,
  REPORTING_ADDRESS: nowhere,
};
const offline = (services: { SCORING_ADDRESS?: string } = {}) =>
  loadConsoleConfig({ ...offlineEnv, ...services });

/** A scoring that answers the watches with `handlers`, on a free port. */
async function fakeScoring(handlers: Partial<scoring.ScoringServiceServer>) {
  const server = new Server();
  server.addService(
    scoring.ScoringServiceService,
    handlers as unknown as scoring.ScoringServiceServer,
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

/** A page's live stream, signed in with `token`. */
const openLive = (url: string, token: string, signal: AbortSignal) =>
  fetch(`${url}/api/live`, { headers: { cookie: `console_session=${token}` }, signal });

describe('the console backend', () => {
  it('mints development tokens the services accept, and only for a known role with its agency', async () => {
    const verify = verifierFrom(dev);
    const token = await devToken(dev, { role: 'agency', agency: 'lz-eeb' });
    await expect(verify(`Bearer ${token}`)).resolves.toMatchObject({
      roles: ['agency'],
      agencies: ['lz-eeb'],
    });
    await expect(devToken(dev, { role: 'agency' })).rejects.toThrow(/needs its agency/);
    await expect(devToken(dev, { role: 'root' as 'agency' })).rejects.toThrow(/unknown role/);
  });

  it('refuses the development role picker outside development, and OpenID Connect without its provider', () => {
    const production = {
      ENFORCEMENT_ENV: 'production',
      AUTH_JWKS_URL: 'https://idp.example.gov.cn/certs',
      AUTH_ISSUER: 'https://idp.example.gov.cn',
    };
    expect(() =>
      createConsole(loadConsoleConfig({ ...production, CONSOLE_SIGN_IN: 'development' })),
    ).toThrow(/needs ENFORCEMENT_ENV=development/);
    expect(() => createConsole(loadConsoleConfig(production))).toThrow(
      /OIDC_ISSUER, OIDC_CLIENT_ID, CONSOLE_PUBLIC_URL/,
    );
    expect(DEV_AUTH.issuer).not.toBe(production.AUTH_ISSUER);
  });

  it('is not ready while the services it needs do not answer, though alive', async () => {
    const c = createConsole(offline());
    try {
      expect((await c.app.request('/healthz')).status).toBe(200);
      const r = await c.app.request('/readyz');
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({
        ready: false,
        services: [{ name: 'case-intake' }, { name: 'supervision-scoring' }, { name: 'reporting' }],
      });
    } finally {
      c.close();
    }
  });

  it("is ready while each service's gRPC service says SERVING, whatever its server says as a whole, and says both", async () => {
    // The three services as their health answers: each server NOT_SERVING as
    // a whole (say, one projection partition stuck), its gRPC service SERVING.
    const definitions = [
      intake.CaseIntakeServiceService,
      scoring.ScoringServiceService,
      reporting.ReportingServiceService,
    ] as const;
    const servers = await Promise.all(
      definitions.map(async (definition) => {
        const grpc = createGrpcServer({ serviceName: 'stand-in', version: '0' });
        grpc.addService(definition, {} as never);
        const port = await grpc.listen('127.0.0.1', 0);
        return { grpc, address: `127.0.0.1:${port}`, name: serviceNameOf(definition) };
      }),
    );
    const c = createConsole(
      loadConsoleConfig({
        ...offlineEnv,
        INTAKE_ADDRESS: servers[0]?.address,
        SCORING_ADDRESS: servers[1]?.address,
        REPORTING_ADDRESS: servers[2]?.address,
      }),
    );
    const readiness = async () => {
      const r = await c.app.request('/readyz');
      return { code: r.status, body: (await r.json()) as unknown };
    };
    try {
      for (const s of servers) s.grpc.setServing(false, new Map([[s.name, true]]));
      expect(await readiness()).toEqual({
        code: 200,
        body: {
          ready: true,
          services: ['case-intake', 'supervision-scoring', 'reporting'].map((name) => ({
            name,
            status: 'SERVING',
            server: 'NOT_SERVING',
          })),
        },
      });
      // Scoring's own calls cannot be answered (its database): not ready.
      servers[1]?.grpc.setServing(false);
      expect(await readiness()).toMatchObject({
        code: 503,
        body: {
          ready: false,
          services: [
            { name: 'case-intake', status: 'SERVING' },
            { name: 'supervision-scoring', status: 'NOT_SERVING', server: 'NOT_SERVING' },
            { name: 'reporting', status: 'SERVING' },
          ],
        },
      });
    } finally {
      c.close();
      await Promise.all(servers.map((s) => s.grpc.shutdown(0)));
    }
  });

  it('tells a page its live feed is down while scoring does not answer, rather than going quiet', async () => {
    const config = offline();
    const web = await serveConsole(config);
    const aborted = new AbortController();
    try {
      const token = await devToken(config, { role: 'supervisor' });
      const res = await openLive(web.url, token, aborted.signal);
      expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      // The first status says the stream is up; then each feed reports it cannot reach scoring.
      while (!(
        text.includes('"feed":"orders","up":false') && text.includes('"feed":"scores","up":false')
      )) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${text}`);
        text += new TextDecoder().decode(value);
      }
      expect(text).toMatch(/event: status/);
      // Reopened every second meanwhile, no watch is ever reported up: a page
      // would otherwise flicker to "live" with scoring still away.
      const until = Date.now() + 3_500;
      while (Date.now() < until) {
        const next = await Promise.race([
          reader.read(),
          new Promise<undefined>((r) => setTimeout(r, Math.max(0, until - Date.now()))),
        ]);
        if (!next || next.done) continue;
        text += new TextDecoder().decode(next.value);
      }
      expect(text.match(/"feed":"orders","up":false/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
      expect(text).not.toMatch(/"feed":"(orders|scores)","up":true/);
    } finally {
      aborted.abort();
      await web.stop();
    }
  });

  it("ends a page's live stream when its session's token expires, saying the session ended", async () => {
    const config = offline();
    const web = await serveConsole(config);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await mintDevToken(DEV_AUTH, {
      subject: 'console-supervisor',
      roles: ['supervisor'],
      expiresIn: exp,
    });
    /** The whole stream, read until the backend ends it, and when it did. */
    const wholeStream = async () => {
      const res = await openLive(web.url, token, AbortSignal.timeout(10_000));
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { text, at: Date.now() };
        text += new TextDecoder().decode(value);
      }
    };
    try {
      const first = await wholeStream();
      expect(first.at).toBeGreaterThanOrEqual(exp * 1000);
      const events = first.text.split('\n').filter((l) => l.startsWith('event: '));
      // The feeds reported (down: scoring is away) until the session ended, then nothing.
      expect(events.at(-1)).toBe('event: session');
      expect(events.filter((e) => e === 'event: session')).toHaveLength(1);
      expect(first.text).toContain('{"up":false,"why":"session expired: sign in again"}');
      // The same token, still inside the services' clock tolerance, gets no new live stream.
      const again = await wholeStream();
      expect(again.text).toContain('event: session');
      expect(again.text).not.toContain('event: order');
    } finally {
      await web.stop();
    }
  });

  it('ends the live stream once, without reopening, when scoring refuses the watches for the token', async () => {
    // A scoring that no longer accepts the session's token (its keys rotated).
    const watches: string[] = [];
    const refuse = (name: string) => (call: ServerWritableStream<unknown, unknown>) => {
      watches.push(name);
      call.emit('error', {
        code: status.UNAUTHENTICATED,
        details: "AUTH.UNAUTHENTICATED: token signature does not match this service's keys",
      });
    };
    const fake = await fakeScoring({
      watchScores: refuse('scores'),
      watchSupervisionOrders: refuse('orders'),
    });
    const config = offline({ SCORING_ADDRESS: fake.address });
    const web = await serveConsole(config);
    try {
      const token = await devToken(config, { role: 'supervisor' });
      const res = await openLive(web.url, token, AbortSignal.timeout(10_000));
      const text = await res.text();
      const events = text.split('\n').filter((l) => l.startsWith('event: '));
      expect(events.filter((e) => e === 'event: session')).toHaveLength(1);
      expect(events.at(-1)).toBe('event: session');
      expect(text).toContain("token signature does not match this service's keys");
      // Neither watch is reported up, and neither is tried again with the refused token.
      expect(text).not.toMatch(/"feed":"(orders|scores)","up":true/);
      await new Promise((r) => setTimeout(r, 2_500));
      // The first refusal cancels the other watch, which may not have reached scoring yet.
      expect(watches.length).toBeGreaterThanOrEqual(1);
      for (const feed of ['orders', 'scores'])
        expect(watches.filter((w) => w === feed).length).toBeLessThanOrEqual(1);
    } finally {
      await web.stop();
      fake.stop();
    }
  });

  it('cuts the live stream of a page that stops reading once its backlog is full, and stops its watches', async () => {
    const UPDATES = 3_000;
    let cancelled = 0;
    const fake = await fakeScoring({
      // Scores as fast as the console takes them, each about 10 KB: far more
      // than the connection to the page holds while the page reads nothing.
      watchScores: (call: ServerWritableStream<unknown, scoring.WatchScoresResponse>) => {
        call.on('cancelled', () => cancelled++);
        call.sendMetadata(new Metadata());
        const officerIds = Array.from({ length: 100 }, (_, i) => `officer-${i}-`.padEnd(100, 'x'));
        for (let i = 0; i < UPDATES; i++)
          call.write({
            score: { ...scoring.CaseScore.fromPartial({ caseId: `c${i}`, officerIds }) },
          });
      },
      watchSupervisionOrders: (call: ServerWritableStream<unknown, unknown>) => {
        call.on('cancelled', () => cancelled++);
        call.sendMetadata(new Metadata());
      },
    });
    const config = loadConsoleConfig({
      ...offlineEnv,
      SCORING_ADDRESS: fake.address,
      CONSOLE_LIVE_BACKLOG_MAX: '50',
    });
    const web = await serveConsole(config);
    const aborted = new AbortController();
    try {
      const token = await devToken(config, { role: 'supervisor' });
      const res = await openLive(web.url, token, aborted.signal);
      // The page reads nothing: the console stops both watches...
      const until = Date.now() + 20_000;
      while (cancelled < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(cancelled).toBe(2);
      // ...and, read now, the stream holds what had gone out, then ends.
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      for (;;) {
        const next = await reader.read().catch(() => ({ done: true, value: undefined }));
        if (next.done) break;
        text += new TextDecoder().decode(next.value);
      }
      const scores = text.split('\n').filter((l) => l === 'event: score').length;
      expect(scores).toBeLessThan(UPDATES);
    } finally {
      aborted.abort();
      await web.stop();
      fake.stop();
    }
  }, 60_000);

  it("passes a service's refusal on with its rule's code, field and the matching HTTP status", () => {
    const md = new Metadata();
    md.set('x-error-code', 'ORDER.DUE_BEFORE_OPENED');
    md.set('x-error-field', 'response_due_at');
    const e = Object.assign(new Error('x'), {
      code: status.INVALID_ARGUMENT,
      details: 'response_due_at: must be after the order is opened',
      metadata: md,
    });
    expect(apiErrorOf(e)).toEqual({
      status: 400,
      body: {
        error: {
          grpc: 'INVALID_ARGUMENT',
          code: 'ORDER.DUE_BEFORE_OPENED',
          field: 'response_due_at',
          message: 'response_due_at: must be after the order is opened',
        },
      },
    });
    expect(
      apiErrorOf(Object.assign(new Error('x'), { code: status.PERMISSION_DENIED, details: 'no' }))
        .status,
    ).toBe(403);
    expect(
      apiErrorOf(Object.assign(new Error('x'), { code: status.FAILED_PRECONDITION, details: 'no' }))
        .status,
    ).toBe(422);
    expect(
      apiErrorOf(Object.assign(new Error('x'), { code: status.UNAVAILABLE, details: 'down' }))
        .status,
    ).toBe(503);
  });
});
