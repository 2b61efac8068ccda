import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  jwtVerify,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { DomainError } from '@enforcement/errors';
import { ROLES, type Principal, type Role } from './principal.js';

/** Where the keys that sign bearer tokens come from. Exactly one is used. */
export type KeySource =
  /** The production path: a JWKS endpoint, as any OIDC provider (Keycloak, ...) publishes one. */
  | { readonly kind: 'jwks'; readonly url: string }
  /** One PEM public key (SPKI); its type decides the algorithm. */
  | { readonly kind: 'public-key'; readonly pem: string }
  /** HS256 with a shared secret: development and tests only. */
  | { readonly kind: 'secret'; readonly secret: string };

export interface VerifierConfig {
  readonly keys: KeySource;
  readonly issuer: string;
  readonly audience: string;
  /** Longest lifetime a token may have, in seconds (exp - iat, and exp - now). */
  readonly maxLifetimeSeconds: number;
  /** Clock skew tolerated on exp, nbf and iat, in seconds. */
  readonly clockToleranceSeconds?: number;
}

/**
 * Verifies a bearer token as of `at` (now unless given): a submission that
 * waited in a queue is judged as of when the queue took it. A moment ahead
 * of now counts as now.
 */
export type Verifier = (authorization: string | undefined, at?: Date) => Promise<Principal>;

/** Clock skew tolerated on exp, nbf and iat unless a verifier is told otherwise (s). */
export const CLOCK_TOLERANCE_S = 30;

const unauthenticated = (message: string) =>
  new DomainError('AUTH.UNAUTHENTICATED', 'UNAUTHENTICATED', message);

/** What a stream answers once the token it was opened with expired (see `whenExpired`). */
export const streamTokenExpired = (): DomainError =>
  unauthenticated('token expired while the stream was open: open it again with a new token');

/** The algorithms a public key can verify, read from the key itself, never from its text. */
export function algorithmsFor(key: KeyObject): string[] {
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return ['RS256', 'RS384', 'RS512'];
    case 'rsa-pss':
      return ['PS256', 'PS384', 'PS512'];
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return ['ES256'];
      if (curve === 'secp384r1') return ['ES384'];
      if (curve === 'secp521r1') return ['ES512'];
      throw new Error(`auth: EC public key on unsupported curve ${curve ?? 'unknown'}`);
    }
    case 'ed25519':
      return ['EdDSA'];
    default:
      throw new Error(
        `auth: public key of type ${key.asymmetricKeyType ?? 'unknown'} cannot verify tokens`,
      );
  }
}

type Key = { key: KeyObject | Uint8Array | JWTVerifyGetKey; algorithms: string[] };

function keyFrom(source: KeySource): Key {
  switch (source.kind) {
    case 'jwks':
      return {
        key: createRemoteJWKSet(new URL(source.url), { timeoutDuration: 5_000 }),
        algorithms: [
          'RS256',
          'RS384',
          'RS512',
          'PS256',
          'PS384',
          'PS512',
          'ES256',
          'ES384',
          'EdDSA',
        ],
      };
    case 'public-key': {
      let key: KeyObject;
      try {
        key = createPublicKey(source.pem);
      } catch (e) {
        throw new Error(`auth: the public key is not a PEM public key (${(e as Error).message})`);
      }
      return { key, algorithms: algorithmsFor(key) };
    }
    case 'secret':
      if (source.secret.length < 32) throw new Error('auth: a secret needs at least 32 characters');
      return { key: new TextEncoder().encode(source.secret), algorithms: ['HS256'] };
    default: {
      const _: never = source;
      return _;
    }
  }
}

function principalOf(payload: JWTPayload): Principal {
  const roles = (Array.isArray(payload.roles) ? payload.roles : []).filter((r): r is Role =>
    ROLES.includes(r as Role),
  );
  if (roles.length === 0) throw unauthenticated('token grants no known role');
  if (!payload.sub) throw unauthenticated('token names no subject (sub)');
  const agencies = Array.isArray(payload.agencies) ? payload.agencies.map(String) : [];
  return { subject: payload.sub, roles, agencies };
}

/**
 * Verifies `Bearer <jwt>` values into principals: signature, issuer, audience,
 * an `exp` that is required and no further ahead than the maximum lifetime.
 * Anything else is UNAUTHENTICATED.
 */
export function createVerifier(config: VerifierConfig): Verifier {
  const { key, algorithms } = keyFrom(config.keys);
  const tolerance = config.clockToleranceSeconds ?? CLOCK_TOLERANCE_S;
  const options = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms,
    requiredClaims: ['exp'],
    clockTolerance: tolerance,
  };
  return async (authorization, at) => {
    const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    if (!m?.[1]) throw unauthenticated('a bearer token is required (authorization: Bearer <jwt>)');
    const asOf = Math.min(at?.getTime() ?? Date.now(), Date.now());
    const judged = { ...options, currentDate: new Date(asOf) };
    let payload: JWTPayload;
    try {
      ({ payload } =
        typeof key === 'function'
          ? await jwtVerify(m[1], key, judged)
          : await jwtVerify(m[1], key, judged));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired)
        throw unauthenticated(
          at === undefined
            ? 'token expired: get a new one'
            : `token had expired when the submission was queued (${new Date(asOf).toISOString()}): get a new one`,
        );
      if (e instanceof joseErrors.JWTClaimValidationFailed) {
        if (e.claim === 'exp') throw unauthenticated('token has no expiry (exp is required)');
        // Issuer and audience are public: saying which ones are expected is what fixes it.
        if (e.claim === 'iss')
          throw unauthenticated(
            `token issued by ${JSON.stringify(e.payload.iss ?? null)}, not by ${JSON.stringify(config.issuer)}, the issuer this service trusts`,
          );
        if (e.claim === 'aud')
          throw unauthenticated(
            `token meant for ${JSON.stringify(e.payload.aud ?? null)}, not for ${JSON.stringify(config.audience)}, this service's audience`,
          );
        if (e.claim === 'nbf') throw unauthenticated('token not valid yet (nbf is in the future)');
        throw unauthenticated(`token claim ${e.claim} not valid: ${e.reason}`);
      }
      if (e instanceof joseErrors.JWSSignatureVerificationFailed)
        throw unauthenticated("token signature does not match this service's keys");
      if (e instanceof joseErrors.JOSEAlgNotAllowed)
        throw unauthenticated(
          `token signed with an algorithm this service does not accept (${algorithms.join(', ')})`,
        );
      throw unauthenticated('token not valid: not a signed JWT');
    }
    const exp = payload.exp ?? 0;
    const now = Math.floor(asOf / 1000);
    const lifetime = payload.iat !== undefined ? Math.max(exp - payload.iat, exp - now) : exp - now;
    if (lifetime > config.maxLifetimeSeconds + tolerance)
      throw unauthenticated(
        `token lives ${lifetime} s; at most ${config.maxLifetimeSeconds} s are accepted`,
      );
    return { ...principalOf(payload), validUntil: (exp + tolerance) * 1000 };
  };
}
