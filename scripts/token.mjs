// Prints a development bearer token, for grpcurl and other clients:
//   node scripts/token.mjs supervisor
//   node scripts/token.mjs agency lz-eeb
//   grpcurl -plaintext -H "authorization: Bearer $(node scripts/token.mjs supervisor)" 127.0.0.1:50052 list
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';

const [role = 'supervisor', ...agencies] = process.argv.slice(2);
if (!['agency', 'supervisor', 'reporting'].includes(role)) {
  console.error('usage: node scripts/token.mjs agency|supervisor|reporting [agency-id ...]');
  process.exit(2);
}
console.log(await mintDevToken(DEV_AUTH, { subject: `cli-${role}`, roles: [role], agencies }));
