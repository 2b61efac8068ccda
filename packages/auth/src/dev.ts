import { SignJWT } from 'jose';
import type { Role } from './principal.js';

/**
 * The published development key shared by services, CLI and tests. It is
 * accepted only where ENFORCEMENT_ENV=development: anyone can mint any role
 * with it.
 */
export const DEV_AUTH = {
  secret: 'dev-only-secret-change-me-0123456789abcdef',
  issuer: 'enforcement-dev',
  audience: 'enforcement',
} as const;

/**
 * Development helper: a signed HS256 token (the CLI, demo and tests use it).
 * `expiresIn`: a span from now (`'8h'`, `'-1m'`), or the `exp` itself in
 * seconds since the epoch.
 */
export async function mintDevToken(
  config: { issuer: string; audience: string; secret: string },
  claims: { subject: string; roles: Role[]; agencies?: string[]; expiresIn?: string | number },
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
