import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from '../test-support/commands.js';
import { startIntake, unary, type TestIntake } from '../test-support/harness.js';
import { DEV_CHAIN_KEYS } from '../application/chain-keys.js';

const ISSUER = 'https://idp.city.example/realms/enforcement';
const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/**
 * Intake as production runs it: keys from the identity provider's JWKS, its
 * own chain key. The development key, and every malformed or foreign token,
 * is refused on a real call.
 */
describe('tokens and key material in production', () => {
  let jwks: Server;
  let jwksUrl = '';
  let idpKey: CryptoKey;
  let strangerKey: CryptoKey;
  const chainKeys = `k1:${randomBytes(32).toString('base64')}`;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256', { extractable: true });
    idpKey = pair.privateKey;
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/certs`;
  });
  afterAll(() => new Promise<void>((r) => jwks.close(() => r())));

  const production = (over: Record<string, string> = {}) => ({
    ENFORCEMENT_ENV: 'production',
    AUTH_JWKS_URL: jwksUrl,
    AUTH_ISSUER: ISSUER,
    CHAIN_KEYS: chainKeys,
    ...over,
  });

  it('refuses to start with no key material, the development secret or the development chain key', async () => {
    await expect(startIntake({ env: production({ AUTH_JWKS_URL: '-' }) })).rejects.toThrow(
      /production needs AUTH_JWKS_URL/,
    );
    await expect(
      startIntake({ env: production({ AUTH_JWT_SECRET: DEV_AUTH.secret }) }),
    ).rejects.toThrow(/for development only/);
    await expect(startIntake({ env: production({ CHAIN_KEYS: '-' }) })).rejects.toThrow(
      /production needs CHAIN_KEYS/,
    );
    await expect(startIntake({ env: production({ CHAIN_KEYS: DEV_CHAIN_KEYS }) })).rejects.toThrow(
      /published development key/,
    );
    await expect(startIntake({ env: { ENFORCEMENT_ENV: '' } })).rejects.toThrow(
      /ENFORCEMENT_ENV is required/,
    );
  });

  describe('a production intake verifying by JWKS', () => {
    let svc: TestIntake;
    beforeAll(async () => {
      svc = await startIntake({ env: production() });
    });
    afterAll(() => svc?.stop());

    const idpToken = (
      claims: JWTPayload = { roles: ['agency'], agencies: ['lz-eeb'] },
      o: {
        key?: CryptoKey;
        exp?: string | null;
        iss?: string;
        aud?: string;
        sub?: string | null;
      } = {},
    ) => {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
        .setIssuer(o.iss ?? ISSUER)
        .setAudience(o.aud ?? 'enforcement')
        .setIssuedAt();
      if (o.sub !== null) jwt.setSubject(o.sub ?? 'officer-li');
      if (o.exp !== null) jwt.setExpirationTime(o.exp ?? '15m');
      return jwt.sign(o.key ?? idpKey);
    };

    const call = (authorization: string | undefined) => {
      const md = new Metadata();
      if (authorization !== undefined) md.set('authorization', authorization);
      return unary((cb) =>
        svc.client.registerCase(fullLoop(uniqueName('prod')).register, md, cb),
      ).then(
        () => undefined,
        (e: ServiceError) => e,
      );
    };

    it('accepts a token its identity provider signed', async () => {
      expect(await call(`Bearer ${await idpToken()}`)).toBeUndefined();
    });

    it('refuses every malformed, foreign, unbounded or development token as UNAUTHENTICATED', async () => {
      const good = await idpToken();
      const [head, body, sig] = good.split('.');
      const attacks: [string, string | undefined][] = [
        ['no header', undefined],
        ['empty bearer', 'Bearer '],
        ['basic auth', 'Basic YWdlbmN5OnNlY3JldA=='],
        ['garbage', 'Bearer abc.def.ghi'],
        [
          'alg none',
          `Bearer ${b64url({ alg: 'none' })}.${b64url({ sub: 'x', roles: ['supervisor'], iss: ISSUER, aud: 'enforcement', exp: Math.floor(Date.now() / 1000) + 60 })}.`,
        ],
        [
          'the public development key (scripts/token.mjs)',
          `Bearer ${await mintDevToken(DEV_AUTH, { subject: 'cli-supervisor', roles: ['supervisor'], agencies: ['*'] })}`,
        ],
        [
          'HS256 with the issuer right',
          `Bearer ${await mintDevToken({ ...DEV_AUTH, issuer: ISSUER }, { subject: 's', roles: ['supervisor'] })}`,
        ],
        ['another issuer', `Bearer ${await idpToken(undefined, { iss: 'https://evil.example' })}`],
        ['another audience', `Bearer ${await idpToken(undefined, { aud: 'payroll' })}`],
        ['expired', `Bearer ${await idpToken(undefined, { exp: '-5m' })}`],
        ['no exp', `Bearer ${await idpToken(undefined, { exp: null })}`],
        ['exp in 100 years', `Bearer ${await idpToken(undefined, { exp: '100y' })}`],
        ['no known role', `Bearer ${await idpToken({ roles: ['admin'], agencies: ['*'] })}`],
        ['no subject', `Bearer ${await idpToken(undefined, { sub: null })}`],
        [
          'a stranger key under the same kid',
          `Bearer ${await idpToken(undefined, { key: strangerKey })}`,
        ],
        [
          'payload swapped under a valid signature',
          `Bearer ${head}.${b64url({ sub: 'x', roles: ['supervisor'], agencies: ['*'], iss: ISSUER, aud: 'enforcement', exp: Math.floor(Date.now() / 1000) + 60 })}.${sig}`,
        ],
      ];
      expect(body).toBeTruthy();
      const refused = await Promise.all(
        attacks.map(async ([name, h]) => [name, (await call(h))?.code]),
      );
      expect(refused).toEqual(attacks.map(([name]) => [name, status.UNAUTHENTICATED]));
    });
  });
});
