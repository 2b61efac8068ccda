import { createServer as createHttpServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Browser } from 'playwright-core';
import { loadConsoleConfig, serveConsole, type RunningConsole } from '@enforcement/console';
import { launchChromium } from '../support/console.js';
import { freePort } from '../support/ports.js';

const RESOURCE = 'urn:enforcement';

/**
 * The roles a person gets from the identity provider, by login name:
 * `supervisor`, or `agency:<id>`. The provider puts them in its JWT access
 * tokens, as a deployment's provider would by its role mappers.
 */
const claimsOf = (login: string) =>
  login.startsWith('agency:')
    ? { roles: ['agency'], agencies: [login.slice('agency:'.length)] }
    : { roles: [login], agencies: [] };

describe('signing in to the console by OpenID Connect, with a standard provider', () => {
  let provider: Server;
  let web: RunningConsole;
  let browser: Browser;
  let issuer = '';

  beforeAll(async () => {
    const [providerPort, consolePort] = [await freePort(), await freePort()];
    issuer = `http://127.0.0.1:${providerPort}`;
    const consoleUrl = `http://127.0.0.1:${consolePort}`;
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    const configuration: Configuration = {
      clients: [
        {
          client_id: 'console',
          client_secret: 'console-secret-for-tests-only',
          redirect_uris: [`${consoleUrl}/auth/callback`],
          post_logout_redirect_uris: [`${consoleUrl}/`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      jwks: { keys: [jwk] },
      cookies: { keys: ['cookie-key-for-tests-only'] },
      pkce: { required: () => true },
      findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
      features: {
        devInteractions: { enabled: true },
        rpInitiatedLogout: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => RESOURCE,
          useGrantedResource: () => true,
          getResourceServerInfo: () => ({
            scope: 'enforcement',
            audience: 'enforcement',
            accessTokenFormat: 'jwt',
            accessTokenTTL: 600,
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      // Consent is the provider's business, not this test's: every sign-in is granted the console's scopes.
      loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
        const client = ctx.oidc.client;
        const accountId = ctx.oidc.session?.accountId;
        if (!client || !accountId) return undefined;
        const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId });
        grant.addOIDCScope('openid profile');
        grant.addResourceScope(RESOURCE, 'enforcement');
        await grant.save();
        return grant;
      },
      extraTokenClaims: (_ctx, token) =>
        claimsOf(String((token as { accountId?: string }).accountId ?? '')),
    };
    const oidc = new Provider(issuer, configuration);
    provider = createHttpServer(oidc.callback());
    await new Promise<void>((r) => provider.listen(providerPort, '127.0.0.1', r));
    web = await serveConsole(
      loadConsoleConfig({
        // Development lets the provider speak plain http on this machine; production refuses it.
        ENFORCEMENT_ENV: 'development',
        CONSOLE_SIGN_IN: 'oidc',
        CONSOLE_PORT: String(consolePort),
        CONSOLE_PUBLIC_URL: consoleUrl,
        OIDC_ISSUER: issuer,
        OIDC_CLIENT_ID: 'console',
        OIDC_CLIENT_SECRET: 'console-secret-for-tests-only',
        OIDC_SCOPES: 'openid profile enforcement',
        AUTH_JWKS_URL: `${issuer}/jwks`,
        AUTH_ISSUER: issuer,
        AUTH_AUDIENCE: 'enforcement',
      }),
    );
    browser = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await new Promise<void>((r) => (provider ? provider.close(() => r()) : r()));
  });

  it("signs an agency in through the provider's login, keeps the token out of the page, and signs it out there too", async () => {
    const context = await browser.newContext({ locale: 'zh-CN' });
    const page = await context.newPage();
    await page.goto(web.url);
    await page.getByRole('link', { name: '通过统一身份认证登录' }).click();
    // The provider's own login page.
    await page.waitForURL((u) => u.toString().startsWith(issuer));
    await page.locator('input[name=login]').fill('agency:lz-eeb');
    await page.locator('input[name=password]').fill('any');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.waitForURL((u) => u.toString().startsWith(web.url));
    await expect(page.getByTestId('who').innerText()).resolves.toContain('lz-eeb');
    const me = await page.evaluate<{ subject: string; roles: string[]; agencies: string[] }>(
      "fetch('/api/me').then((r) => r.json())",
    );
    expect(me).toMatchObject({ subject: 'agency:lz-eeb', roles: ['agency'], agencies: ['lz-eeb'] });
    // The session cookie holds the provider's access token, where page scripts cannot read it.
    const cookie = (await context.cookies(web.url)).find((c) => c.name === 'console_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await page.evaluate<string>('document.cookie')).not.toContain('console_session');

    await page.getByRole('button', { name: /^退 ?出$/ }).click();
    await page.waitForURL((u) => u.toString().startsWith(issuer));
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.waitForURL((u) => u.toString().startsWith(web.url));
    await page.getByRole('link', { name: '通过统一身份认证登录' }).waitFor();
    expect(await page.evaluate<number>("fetch('/api/me').then((r) => r.status)")).toBe(401);
    await context.close();
  });

  it('refuses a callback that no sign-in of this browser started', async () => {
    const r = await fetch(`${web.url}/auth/callback?code=forged&state=forged`);
    expect(r.status).toBe(400);
    expect(await r.text()).toContain('sign in again');
  });

  it('refuses to mint development tokens: the role picker is not there', async () => {
    const r = await fetch(`${web.url}/auth/dev`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-console-request': '1' },
      body: JSON.stringify({ role: 'supervisor' }),
    });
    expect(r.status).toBe(404);
    expect(await (await fetch(`${web.url}/auth/mode`)).json()).toMatchObject({
      mode: 'oidc',
      agencies: [],
    });
  });
});
