import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { verifierFrom, type Verifier } from '@enforcement/auth';
import { AGENCIES, DISTRICTS } from '@enforcement/reference-data';
import { intake, reporting, scoring } from '@enforcement/contracts';
import { channelCredentialsFrom, checkHealth, serviceNameOf } from '@enforcement/grpc-kit';
import { api } from './api.js';
import type { ConsoleConfig } from './config.js';
import { live } from './live.js';
import { OidcSignIn } from './oidc.js';
import { connectServices, type Services } from './services.js';
import { devToken, endSession, sessionOf, startSession, type DevSignIn } from './session.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** The pages' own policy: scripts only from the console; antd writes its styles inline. */
const PAGE_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface ConsoleApp {
  readonly app: Hono;
  readonly services: Services;
  close(): void;
}

/** The console's backend: sign-in, the JSON API over the services' gRPC contracts, live updates, the pages. */
export function createConsole(
  config: ConsoleConfig,
  verify: Verifier = verifierFrom(config),
): ConsoleApp {
  if (config.CONSOLE_SIGN_IN === 'development' && config.ENFORCEMENT_ENV !== 'development')
    throw new Error(
      'CONSOLE_SIGN_IN=development mints development tokens and needs ENFORCEMENT_ENV=development; production signs in by OpenID Connect',
    );
  const oidc = config.CONSOLE_SIGN_IN === 'oidc' ? new OidcSignIn(config, verify) : undefined;
  const services = connectServices(config);
  const session = (c: Parameters<typeof sessionOf>[0]) => sessionOf(c, verify);
  const webRoot =
    config.CONSOLE_WEB_ROOT !== '-'
      ? resolve(config.CONSOLE_WEB_ROOT)
      : fileURLToPath(new URL('../web', import.meta.url));

  const app = new Hono();
  // The pages' code is a few megabytes: gzip makes it a fraction of that (live streams are left alone).
  app.use('/assets/*', compress());
  app.use('/api/*', async (c, next) => (c.req.path === '/api/live' ? next() : compress()(c, next)));
  app.use('*', async (c, next) => {
    await next();
    c.header('x-content-type-options', 'nosniff');
    c.header('referrer-policy', 'same-origin');
    if (!c.res.headers.has('content-security-policy'))
      c.header('content-security-policy', PAGE_POLICY);
  });

  // Alive: the process answers. Ready: the gRPC service of each of the three
  // it calls says SERVING (grpc.health.v1: while what its calls need
  // answers). Each server's whole state is reported beside it: a stuck
  // projection partition makes a server NOT_SERVING while its calls are
  // answered, and does not take the console out of its load balancer.
  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', async (c) => {
    const creds = channelCredentialsFrom({
      ca: config.CONSOLE_TLS_CA,
      cert: config.CONSOLE_TLS_CERT,
      key: config.CONSOLE_TLS_KEY,
    });
    const states = await Promise.all(
      (
        [
          ['case-intake', config.INTAKE_ADDRESS, intake.CaseIntakeServiceService],
          ['supervision-scoring', config.SCORING_ADDRESS, scoring.ScoringServiceService],
          ['reporting', config.REPORTING_ADDRESS, reporting.ReportingServiceService],
        ] as const
      ).map(async ([name, address, definition]) => {
        const ask = (service: string) =>
          checkHealth(address, service, 2_000, creds).catch((e: unknown) =>
            e instanceof Error ? e.message : String(e),
          );
        const [status, server] = await Promise.all([ask(serviceNameOf(definition)), ask('')]);
        return { name, status, server };
      }),
    );
    const ready = states.every((x) => x.status === 'SERVING');
    return c.json({ ready, services: states }, ready ? 200 : 503);
  });

  app.get('/auth/mode', (c) =>
    c.json({
      mode: config.CONSOLE_SIGN_IN,
      agencies:
        config.CONSOLE_SIGN_IN === 'development'
          ? AGENCIES.map((a) => ({ id: a.id, name: a.name }))
          : [],
    }),
  );
  app.post('/auth/dev', async (c) => {
    if (config.CONSOLE_SIGN_IN !== 'development') return c.notFound();
    if (c.req.header('x-console-request') !== '1')
      return c.text('request not sent by the console', 403);
    const pick = (await c.req.json().catch(() => ({}))) as DevSignIn;
    try {
      const token = await devToken(config, pick);
      await verify(`Bearer ${token}`);
      startSession(c, config, token);
      return c.json({ signedIn: true });
    } catch (e) {
      return c.json({ error: { message: e instanceof Error ? e.message : String(e) } }, 400);
    }
  });
  app.get('/auth/login', (c) => (oidc ? oidc.login(c) : c.redirect('/')));
  app.get('/auth/callback', (c) => (oidc ? oidc.callback(c) : c.redirect('/')));
  app.post('/auth/logout', async (c) => {
    endSession(c);
    return c.json({ redirect: oidc ? await oidc.logoutUrl().catch(() => '/') : '/' });
  });

  app.get('/api/reference', (c) =>
    c.json({
      agencies: AGENCIES.map((a) => ({ id: a.id, name: a.name, domain: a.domain })),
      districts: DISTRICTS,
    }),
  );
  app.get('/api/live', async (c) => {
    const found = await session(c);
    if (!found) return c.text('sign in first', 401);
    return live(services, found, c, config.CONSOLE_LIVE_BACKLOG_MAX);
  });
  app.route('/api', api(services, session, config.CONSOLE_DEFAULT_YEAR));

  // The pages: files from the build, and index.html for every page's address.
  app.get('*', async (c) => {
    let path: string;
    try {
      path = normalize(decodeURIComponent(new URL(c.req.url).pathname)).replace(
        /^(\.\.[/\\])+/,
        '',
      );
    } catch {
      return c.text('the address is not valid percent-encoding', 400);
    }
    const file = join(webRoot, path);
    const serve = async (f: string, cache: string) =>
      new Response(await readFile(f), {
        headers: {
          'content-type': TYPES[extname(f)] ?? 'application/octet-stream',
          'cache-control': cache,
        },
      });
    if (file.startsWith(webRoot) && extname(file) !== '') {
      try {
        return await serve(
          file,
          path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      } catch {
        return c.notFound();
      }
    }
    try {
      return await serve(join(webRoot, 'index.html'), 'no-cache');
    } catch {
      return c.text('the console pages are not built (npm run build)', 503);
    }
  });

  return { app, services, close: () => services.close() };
}
