import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { DEV_AUTH, mintDevToken, type Role } from '@enforcement/auth';

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

/** Promise form of a grpc-js unary call. */
export function unary<Res>(
  invoke: (cb: (err: ServiceError | null, res: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) => invoke((err, res) => (err ? reject(err) : resolve(res))));
}
