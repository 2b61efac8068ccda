import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as client from 'openid-client';
import type { Verifier } from '@enforcement/auth';
import type { ConsoleConfig } from './config.js';
import { startSession } from './session.js';

/** The sign-in in progress: PKCE verifier and state, for ten minutes. */
const FLOW_COOKIE = 'console_oidc';

/**
 * Sign-in by OpenID Connect (authorization code with PKCE), with any standard
 * provider. The provider's access token is what the services verify (by
 * AUTH_JWKS_URL), so it carries the `roles` and `agencies` claims.
 */
export class OidcSignIn {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(
    private readonly config: ConsoleConfig,
    private readonly verify: Verifier,
  ) {
    const missing = (['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'CONSOLE_PUBLIC_URL'] as const).filter(
      (k) => config[k] === '-' || config[k] === '',
    );
    if (missing.length > 0)
      throw new Error(`sign-in by OpenID Connect needs ${missing.join(', ')}`);
  }

  private provider(): Promise<client.Configuration> {
    this.configuration ??= client
      .discovery(
        new URL(this.config.OIDC_ISSUER),
        this.config.OIDC_CLIENT_ID,
        this.config.OIDC_CLIENT_SECRET === '-' ? undefined : this.config.OIDC_CLIENT_SECRET,
        undefined,
        // A provider on plain http is accepted only in development.
        this.config.ENFORCEMENT_ENV === 'development'
          ? { execute: [client.allowInsecureRequests] }
          : undefined,
      )
      .catch((e: unknown) => {
        this.configuration = undefined;
        throw e;
      });
    return this.configuration;
  }

  private get redirectUri(): string {
    return new URL('/auth/callback', this.config.CONSOLE_PUBLIC_URL).toString();
  }

  async login(c: Context): Promise<Response> {
    const provider = await this.provider();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    setCookie(c, FLOW_COOKIE, JSON.stringify({ verifier, state }), {
      httpOnly: true,
      sameSite: 'Lax',
      path: '/auth',
      secure: this.config.CONSOLE_PUBLIC_URL.startsWith('https:'),
      maxAge: 600,
    });
    const url = client.buildAuthorizationUrl(provider, {
      redirect_uri: this.redirectUri,
      scope: this.config.OIDC_SCOPES,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    return c.redirect(url.toString());
  }

  async callback(c: Context): Promise<Response> {
    const flow = getCookie(c, FLOW_COOKIE);
    deleteCookie(c, FLOW_COOKIE, { path: '/auth' });
    if (!flow) return c.text('sign-in expired or was not started here; sign in again', 400);
    const { verifier, state } = JSON.parse(flow) as { verifier: string; state: string };
    const provider = await this.provider();
    // The URL as the provider redirected to it, on the public address.
    const here = new URL(c.req.url);
    const current = new URL(this.redirectUri);
    current.search = here.search;
    const tokens = await client.authorizationCodeGrant(provider, current, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    });
    try {
      await this.verify(`Bearer ${tokens.access_token}`);
    } catch (e) {
      return c.text(
        `the provider's access token is not one the services accept: ${e instanceof Error ? e.message : String(e)}`,
        403,
      );
    }
    startSession(c, this.config, tokens.access_token);
    return c.redirect('/');
  }

  /** Where to send the browser after the console forgot the session: the provider's logout, if it has one. */
  async logoutUrl(): Promise<string> {
    const provider = await this.provider();
    if (!provider.serverMetadata().end_session_endpoint) return '/';
    return client
      .buildEndSessionUrl(provider, {
        post_logout_redirect_uri: new URL('/', this.config.CONSOLE_PUBLIC_URL).toString(),
        client_id: this.config.OIDC_CLIENT_ID,
      })
      .toString();
  }
}
