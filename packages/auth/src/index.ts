import {
  importSPKI,
  jwtVerify,
  SignJWT,
  errors as joseErrors,
  type JWTPayload,
  type CryptoKey,
} from 'jose';
import { DomainError } from '@enforcement/errors';

export type Role = 'agency' | 'supervisor' | 'reporting';
const ROLES: readonly Role[] = ['agency', 'supervisor', 'reporting'];

/** Who is calling, as the verified token says. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly Role[];
  /** Agencies an agency-role caller acts for; '*' only in import tokens. */
  readonly agencies: readonly string[];
}

export const hasRole = (p: Principal, r: Role): boolean => p.roles.includes(r);

/** True when `p` may act as agency `agencyId`. */
export const actsFor = (p: Principal, agencyId: string): boolean =>
  hasRole(p, 'agency') && (p.agencies.includes(agencyId) || p.agencies.includes('*'));

export interface AuthConfig {
  /** HS256 shared secret (development and tests), at least 32 characters. */
  readonly secret?: string;
  /** PEM public key (SPKI) for RS256 / ES256 tokens issued by the city's identity provider. */
  readonly publicKeyPem?: string;
  readonly issuer: string;
  readonly audience: string;
}

const unauthenticated = (message: string) =>
  new DomainError('AUTH.UNAUTHENTICATED', 'UNAUTHENTICATED', message);

export type Verifier = (authorization: string | undefined) => Promise<Principal>;

/** Verifies `Bearer <jwt>` values into principals; anything else is UNAUTHENTICATED. */
export function createVerifier(config: AuthConfig): Verifier {
  let key: Promise<Uint8Array | CryptoKey>;
  let algorithms: string[];
  if (config.publicKeyPem) {
    const alg = config.publicKeyPem.includes('EC') ? 'ES256' : 'RS256';
    key = importSPKI(config.publicKeyPem, alg);
    algorithms = ['ES256', 'RS256'];
  } else if (config.secret && config.secret.length >= 32) {
    key = Promise.resolve(new TextEncoder().encode(config.secret));
    algorithms = ['HS256'];
  } else {
    throw new Error('auth: configure a public key, or a secret of at least 32 characters');
  }
  return async (authorization) => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) throw unauthenticated('a bearer token is required (authorization: Bearer <jwt>)');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(m[1], await key, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms,
      }));
    } catch (e) {
      const why = e instanceof joseErrors.JWTExpired ? 'token expired' : 'token not valid';
      throw unauthenticated(why);
    }
    const roles = (Array.isArray(payload.roles) ? payload.roles : []).filter((r): r is Role =>
      ROLES.includes(r as Role),
    );
    if (roles.length === 0) throw unauthenticated('token grants no known role');
    const agencies = Array.isArray(payload.agencies) ? payload.agencies.map(String) : [];
    return { subject: payload.sub ?? 'unknown', roles, agencies };
  };
}

/** Development helper: a signed HS256 token (the CLI, demo and tests use it). */
export async function mintDevToken(
  config: Pick<AuthConfig, 'issuer' | 'audience'> & { secret: string },
  claims: { subject: string; roles: Role[]; agencies?: string[]; expiresIn?: string },
): Promise<string> {
  return new SignJWT({ roles: claims.roles, agencies: claims.agencies ?? [] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.subject)
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '12h')
    .sign(new TextEncoder().encode(config.secret));
}

/** The development defaults shared by services, CLI and tests; production sets its own. */
export const DEV_AUTH = {
  secret: 'dev-only-secret-change-me-0123456789abcdef',
  issuer: 'enforcement-dev',
  audience: 'enforcement',
} as const;

/** The auth settings every service reads from its environment (see @enforcement/config). */
export interface AuthSettings {
  readonly AUTH_JWT_SECRET: string;
  /** PEM public key, or '-' for none. */
  readonly AUTH_JWT_PUBLIC_KEY: string;
  readonly AUTH_ISSUER: string;
  readonly AUTH_AUDIENCE: string;
}

export function verifierFrom(s: AuthSettings): Verifier {
  return createVerifier({
    secret: s.AUTH_JWT_SECRET,
    ...(s.AUTH_JWT_PUBLIC_KEY !== '-' ? { publicKeyPem: s.AUTH_JWT_PUBLIC_KEY } : {}),
    issuer: s.AUTH_ISSUER,
    audience: s.AUTH_AUDIENCE,
  });
}
