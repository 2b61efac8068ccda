import {
  authSpec,
  integer,
  loadConfig,
  oneOf,
  serviceSpec,
  string,
  type ConfigOf,
} from '@enforcement/config';

export const consoleSpec = {
  ...authSpec,
  ...serviceSpec,
  CONSOLE_HOST: string({ default: '127.0.0.1' }),
  CONSOLE_PORT: integer({ default: 8080, min: 0, max: 65535 }),
  INTAKE_ADDRESS: string({ default: '127.0.0.1:50051' }),
  SCORING_ADDRESS: string({ default: '127.0.0.1:50052' }),
  REPORTING_ADDRESS: string({ default: '127.0.0.1:50053' }),
  /** PEM files for TLS to the services ('-': plaintext); a client certificate and key for mTLS. */
  CONSOLE_TLS_CA: string({ default: '-' }),
  CONSOLE_TLS_CERT: string({ default: '-' }),
  CONSOLE_TLS_KEY: string({ default: '-' }),
  /** How long a call to a service may take before the page is told it failed (ms). */
  CONSOLE_CALL_TIMEOUT_MS: integer({ default: 10_000, min: 100 }),
  /**
   * Sign-in: `oidc` (an OpenID Connect provider, authorization code with
   * PKCE) or `development` (a role picker that mints development tokens;
   * only where ENFORCEMENT_ENV=development).
   */
  CONSOLE_SIGN_IN: oneOf(['oidc', 'development'] as const, { default: 'oidc' }),
  /** The provider's issuer URL (discovery at /.well-known/openid-configuration). */
  OIDC_ISSUER: string({ default: '-' }),
  OIDC_CLIENT_ID: string({ default: '-' }),
  OIDC_CLIENT_SECRET: string({ default: '-' }),
  /** Scopes asked for; the provider puts `roles` and `agencies` claims in the access token. */
  OIDC_SCOPES: string({ default: 'openid profile' }),
  /** Where people reach the console, e.g. https://console.example.gov.cn (the redirect URI is <this>/auth/callback). */
  CONSOLE_PUBLIC_URL: string({ default: '-' }),
  /** How many live updates may wait for a page that does not read them before its stream is cut (it connects again). */
  CONSOLE_LIVE_BACKLOG_MAX: integer({ default: 2_048, min: 1, max: 1_000_000 }),
  /** The year pages open on (0: the current year in Beijing). */
  CONSOLE_DEFAULT_YEAR: integer({ default: 0, min: 0, max: 9999 }),
  /** Where the built pages are (default: next to the server, dist/web). */
  CONSOLE_WEB_ROOT: string({ default: '-' }),
};

export type ConsoleConfig = ConfigOf<typeof consoleSpec>;

export const loadConsoleConfig = (
  env: Record<string, string | undefined> = process.env,
): ConsoleConfig => loadConfig(consoleSpec, env);
