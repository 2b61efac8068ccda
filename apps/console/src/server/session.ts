import type { Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { decodeJwt } from 'jose';
import {
  DEV_AUTH,
  mintDevToken,
  ROLES,
  type Principal,
  type Role,
  type Verifier,
} from '@enforcement/auth';
import type { ConsoleConfig } from './config.js';

/** The cookie that carries the signed-in person's token (HttpOnly: page scripts never see it). */
export const SESSION_COOKIE = 'console_session';

export interface Session {
  readonly token: string;
  readonly principal: Principal;
}

/** Who is signed in, as the services will see them; undefined when nobody, or the token no longer verifies. */
export async function sessionOf(c: Context, verify: Verifier): Promise<Session | undefined> {
  const token = getCookie(c, SESSION_COOKIE);
  if (!token) return undefined;
  try {
    return { token, principal: await verify(`Bearer ${token}`) };
  } catch {
    return undefined;
  }
}

/** Keeps the token in the session cookie until it expires. */
export function startSession(c: Context, config: ConsoleConfig, token: string): void {
  const exp = decodeJwt(token).exp;
  const maxAge = exp ? Math.max(0, exp - Math.floor(Date.now() / 1000)) : 3_600;
  setCookie(c, SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'Lax',
    path: '/',
    secure: config.CONSOLE_PUBLIC_URL.startsWith('https:'),
    maxAge,
  });
}

export const endSession = (c: Context): void => {
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
};

/** What the development role picker offers. */
export interface DevSignIn {
  readonly role: Role;
  /** The agency an agency-role person acts for. */
  readonly agency?: string;
}

/**
 * A development token for the picked role, signed with the key the services
 * accept in development (AUTH_JWT_SECRET, else the published development key).
 */
export async function devToken(config: ConsoleConfig, pick: DevSignIn): Promise<string> {
  if (!ROLES.includes(pick.role)) throw new Error(`unknown role '${String(pick.role)}'`);
  if (pick.role === 'agency' && !pick.agency) throw new Error('an agency role needs its agency');
  const secret =
    config.AUTH_JWT_SECRET !== '-' && config.AUTH_JWT_SECRET !== ''
      ? config.AUTH_JWT_SECRET
      : DEV_AUTH.secret;
  return mintDevToken(
    { secret, issuer: config.AUTH_ISSUER, audience: config.AUTH_AUDIENCE },
    {
      subject: pick.role === 'agency' ? `console-${pick.agency}` : `console-${pick.role}`,
      roles: [pick.role],
      agencies: pick.role === 'agency' && pick.agency ? [pick.agency] : [],
      expiresIn: '8h',
    },
  );
}
