import { createVerifier, type KeySource, type Verifier, type VerifierConfig } from './verifier.js';
import { DEV_AUTH } from './dev.js';

/**
 * Where a service runs. `development` (and tests) may use the published
 * development key; `production` must be given real key material. There is no
 * default: a deployment says which it is.
 */
export type EnforcementEnv = 'development' | 'production';

/** The auth settings every service reads from its environment (see @enforcement/config). */
export interface AuthSettings {
  readonly ENFORCEMENT_ENV: EnforcementEnv;
  /** JWKS URL of the identity provider, or '-'. */
  readonly AUTH_JWKS_URL: string;
  /** PEM public key (SPKI), or '-'. */
  readonly AUTH_JWT_PUBLIC_KEY: string;
  /** HS256 secret for development, or '-' for the development default. */
  readonly AUTH_JWT_SECRET: string;
  readonly AUTH_ISSUER: string;
  readonly AUTH_AUDIENCE: string;
  readonly AUTH_MAX_TOKEN_LIFETIME_S: number;
}

export class AuthConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid auth configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AuthConfigError';
  }
}

const set = (v: string) => v !== '-' && v !== '';

/**
 * The verifier configuration the settings allow, or every reason they are
 * refused. Production takes keys from a JWKS endpoint or a public key and
 * never a shared secret; development falls back to the development secret.
 */
export function verifierConfigFrom(
  s: AuthSettings,
  nodeEnv: string | undefined = process.env.NODE_ENV,
): VerifierConfig {
  const problems: string[] = [];
  const sources: KeySource[] = [];
  if (set(s.AUTH_JWKS_URL)) sources.push({ kind: 'jwks', url: s.AUTH_JWKS_URL });
  if (set(s.AUTH_JWT_PUBLIC_KEY)) sources.push({ kind: 'public-key', pem: s.AUTH_JWT_PUBLIC_KEY });
  if (sources.length > 1) problems.push('set AUTH_JWKS_URL or AUTH_JWT_PUBLIC_KEY, not both');
  if (s.ENFORCEMENT_ENV === 'production') {
    if (set(s.AUTH_JWT_SECRET))
      problems.push(
        'AUTH_JWT_SECRET (HS256) is for development only; production verifies tokens by AUTH_JWKS_URL or AUTH_JWT_PUBLIC_KEY',
      );
    if (sources.length === 0)
      problems.push('production needs AUTH_JWKS_URL (or AUTH_JWT_PUBLIC_KEY) to verify tokens');
    if (s.AUTH_ISSUER === DEV_AUTH.issuer)
      problems.push(`AUTH_ISSUER must name the identity provider, not '${DEV_AUTH.issuer}'`);
  } else if (nodeEnv === 'production') {
    problems.push('ENFORCEMENT_ENV=development is refused where NODE_ENV=production');
  }
  if (problems.length > 0) throw new AuthConfigError(problems);
  const keys: KeySource = sources[0] ?? {
    kind: 'secret',
    secret: set(s.AUTH_JWT_SECRET) ? s.AUTH_JWT_SECRET : DEV_AUTH.secret,
  };
  return {
    keys,
    issuer: s.AUTH_ISSUER,
    audience: s.AUTH_AUDIENCE,
    maxLifetimeSeconds: s.AUTH_MAX_TOKEN_LIFETIME_S,
  };
}

export const verifierFrom = (s: AuthSettings, nodeEnv?: string): Verifier =>
  createVerifier(verifierConfigFrom(s, nodeEnv));
