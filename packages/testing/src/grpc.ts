import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { CLOCK_TOLERANCE_S, DEV_AUTH, mintDevToken, type Role } from '@enforcement/auth';

/** Call metadata with a development bearer token for the given roles. */
export async function tokenFor(roles: Role[], agencies: string[] = []): Promise<Metadata> {
  const md = new Metadata();
  const token = await mintDevToken(DEV_AUTH, {
    subject: `test-${roles.join('+')}`,
    roles,
    agencies,
  });
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/**
 * Call metadata with a development token the services accept for about
 * `seconds` more (its `exp` is that long ahead less the clock skew they
 * tolerate), and the moment they stop accepting it (ms).
 */
export async function lapsingToken(
  roles: Role[],
  agencies: string[],
  seconds: number,
): Promise<{ md: Metadata; validUntil: number }> {
  const exp = Math.floor(Date.now() / 1000) + seconds - CLOCK_TOLERANCE_S;
  const token = await mintDevToken(DEV_AUTH, {
    subject: `test-lapsing-${roles.join('+')}`,
    roles,
    agencies,
    expiresIn: exp,
  });
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return { md, validUntil: (exp + CLOCK_TOLERANCE_S) * 1000 };
}

/** Promise form of a grpc-js unary call. */
export function unary<Res>(
  invoke: (cb: (err: ServiceError | null, res: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => invoke((err, res) => (err ? reject(err) : resolve(res))));
}
