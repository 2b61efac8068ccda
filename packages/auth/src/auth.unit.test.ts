import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { DomainError } from '@enforcement/errors';
import {
  actsFor,
  AuthConfigError,
  CLOCK_TOLERANCE_S,
  createVerifier,
  DEV_AUTH,
  mintDevToken,
  stillValid,
  verifierConfigFrom,
  whenExpired,
  type AuthSettings,
} from './index.js';

const dev: AuthSettings = {
  ENFORCEMENT_ENV: 'development',
  AUTH_JWKS_URL: '-',
  AUTH_JWT_PUBLIC_KEY: '-',
  AUTH_JWT_SECRET: '-',
  AUTH_ISSUER: DEV_AUTH.issuer,
  AUTH_AUDIENCE: DEV_AUTH.audience,
  AUTH_MAX_TOKEN_LIFETIME_S: 86_400,
};

const hs = (claims: { exp?: number | string | null; iat?: boolean } = {}) => {
  const jwt = new SignJWT({ roles: ['supervisor'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('s')
    .setIssuer(DEV_AUTH.issuer)
    .setAudience(DEV_AUTH.audience);
  if (claims.iat !== false) jwt.setIssuedAt();
  if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? '1h');
  return jwt.sign(new TextEncoder().encode(DEV_AUTH.secret));
};

describe('bearer tokens', () => {
  const verify = createVerifier(verifierConfigFrom(dev, 'development'));

  it('turns a valid token into a principal with roles and agencies', async () => {
    const token = await mintDevToken(DEV_AUTH, {
      subject: 'officer-7',
      roles: ['agency'],
      agencies: ['lz-eeb'],
    });
    const p = await verify(`Bearer ${token}`);
    const exp = decodeJwt(token).exp ?? 0;
    expect(p).toEqual({
      subject: 'officer-7',
      roles: ['agency'],
      agencies: ['lz-eeb'],
      validUntil: (exp + CLOCK_TOLERANCE_S) * 1000,
    });
    expect(actsFor(p, 'lz-eeb')).toBe(true);
    expect(actsFor(p, 'lz-psb')).toBe(false);
  });

  it.each([
    ['no header', undefined],
    ['not bearer', 'Basic abc'],
    ['garbage', 'Bearer not.a.jwt'],
  ])('refuses %s as UNAUTHENTICATED', async (_, header) => {
    await expect(verify(header)).rejects.toMatchObject({ kind: 'UNAUTHENTICATED' });
  });

  it('refuses a token signed with another key, or for another audience', async () => {
    const foreign = await mintDevToken(
      { ...DEV_AUTH, secret: 'another-secret-of-enough-length-000000' },
      { subject: 's', roles: ['supervisor'] },
    );
    await expect(verify(`Bearer ${foreign}`)).rejects.toBeInstanceOf(DomainError);
    await expect(verify(`Bearer ${foreign}`)).rejects.toThrow(
      "token signature does not match this service's keys",
    );
    const otherAudience = await mintDevToken(
      { ...DEV_AUTH, audience: 'elsewhere' },
      { subject: 's', roles: ['supervisor'] },
    );
    await expect(verify(`Bearer ${otherAudience}`)).rejects.toMatchObject({
      code: 'AUTH.UNAUTHENTICATED',
    });
    // Each refusal says what is wrong, so the holder knows which token to get.
    await expect(verify(`Bearer ${otherAudience}`)).rejects.toThrow(
      `token meant for "elsewhere", not for "${DEV_AUTH.audience}", this service's audience`,
    );
    const otherIssuer = await mintDevToken(
      { ...DEV_AUTH, issuer: 'https://idp.example' },
      { subject: 's', roles: ['supervisor'] },
    );
    await expect(verify(`Bearer ${otherIssuer}`)).rejects.toThrow(
      `token issued by "https://idp.example", not by "${DEV_AUTH.issuer}", the issuer this service trusts`,
    );
  });

  it('refuses an expired token', async () => {
    const old = await mintDevToken(DEV_AUTH, {
      subject: 's',
      roles: ['supervisor'],
      expiresIn: '-1m',
    });
    await expect(verify(`Bearer ${old}`)).rejects.toThrow('token expired');
  });

  it('says a principal is valid until a new call with its token would be refused', async () => {
    // exp 29 s ago: still accepted (the clock tolerance), for about one more second.
    const exp = Math.floor(Date.now() / 1000) - CLOCK_TOLERANCE_S + 1;
    const token = await mintDevToken(DEV_AUTH, {
      subject: 's',
      roles: ['supervisor'],
      expiresIn: exp,
    });
    const p = await verify(`Bearer ${token}`);
    const until = p.validUntil ?? 0;
    expect(until).toBe((exp + CLOCK_TOLERANCE_S) * 1000);
    expect(stillValid(p, until - 1)).toBe(true);
    expect(stillValid(p, until)).toBe(false);
    await new Promise((r) => setTimeout(r, until + 50 - Date.now()));
    await expect(verify(`Bearer ${token}`)).rejects.toThrow('token expired');
  });

  it('judges a token as of the moment it is given: a queued submission as of when the queue took it', async () => {
    const now = Math.floor(Date.now() / 1000);
    // Issued ten minutes ago, expired a minute ago (well past the tolerance of 30 s).
    const token = await new SignJWT({ roles: ['agency'], agencies: ['lz-eeb'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('feed')
      .setIssuer(DEV_AUTH.issuer)
      .setAudience(DEV_AUTH.audience)
      .setIssuedAt(now - 600)
      .setExpirationTime(now - 60)
      .sign(new TextEncoder().encode(DEV_AUTH.secret));
    await expect(verify(`Bearer ${token}`)).rejects.toThrow('token expired: get a new one');
    await expect(verify(`Bearer ${token}`, new Date((now - 300) * 1000))).resolves.toMatchObject({
      subject: 'feed',
      agencies: ['lz-eeb'],
    });
    // As of a moment after its expiry, it says when that moment was.
    const late = new Date((now - 10) * 1000);
    await expect(verify(`Bearer ${token}`, late)).rejects.toThrow(
      `token had expired when the submission was queued (${late.toISOString()})`,
    );
    // A moment ahead of now counts as now: the future makes no token valid.
    const fresh = await mintDevToken(DEV_AUTH, { subject: 's', roles: ['supervisor'] });
    await expect(
      verify(`Bearer ${fresh}`, new Date(Date.now() + 2 * 86_400_000)),
    ).resolves.toMatchObject({ subject: 's' });
    const before = await new SignJWT({ roles: ['agency'] })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('early')
      .setIssuer(DEV_AUTH.issuer)
      .setAudience(DEV_AUTH.audience)
      .setNotBefore(now + 3_600)
      .setExpirationTime(now + 7_200)
      .sign(new TextEncoder().encode(DEV_AUTH.secret));
    await expect(verify(`Bearer ${before}`, new Date((now + 5_000) * 1000))).rejects.toThrow(
      'token not valid yet',
    );
  });

  it('refuses a token that never expires', async () => {
    await expect(verify(`Bearer ${await hs({ exp: null })}`)).rejects.toThrow(/exp is required/);
  });

  it('refuses a token that lives longer than the maximum lifetime, with or without iat', async () => {
    await expect(verify(`Bearer ${await hs({ exp: '100y' })}`)).rejects.toThrow(/at most 86400 s/);
    await expect(verify(`Bearer ${await hs({ exp: '2d', iat: false })}`)).rejects.toThrow(
      /at most 86400 s/,
    );
    await expect(verify(`Bearer ${await hs({ exp: '23h' })}`)).resolves.toMatchObject({
      subject: 's',
    });
  });
});

describe('waiting for a principal to expire', () => {
  const principal = (validUntil?: number) => ({
    subject: 's',
    roles: ['supervisor' as const],
    agencies: [],
    ...(validUntil === undefined ? {} : { validUntil }),
  });

  it('calls once its token is no longer valid, and not before', async () => {
    const until = Date.now() + 300;
    const calls: number[] = [];
    whenExpired(principal(until), () => calls.push(Date.now()));
    await new Promise((r) => setTimeout(r, 150));
    expect(calls).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeGreaterThanOrEqual(until);
  });

  it('calls an already expired principal back later, never before returning', async () => {
    const calls: string[] = [];
    const cancel = whenExpired(principal(Date.now() - 1_000), () => calls.push('expired'));
    calls.push('returned');
    expect(typeof cancel).toBe('function');
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(['returned', 'expired']);
  });

  it('never calls once cancelled, nor for a principal without an expiry', async () => {
    const calls: string[] = [];
    const cancel = whenExpired(principal(Date.now() + 100), () => calls.push('cancelled one'));
    cancel();
    whenExpired(principal(), () => calls.push('no expiry'));
    await new Promise((r) => setTimeout(r, 250));
    expect(calls).toEqual([]);
    expect(stillValid(principal())).toBe(true);
  });
});

describe('key material', () => {
  const sign = (key: CryptoKey, alg: string, kid?: string) =>
    new SignJWT({ roles: ['reporting'] })
      .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
      .setSubject('idp-user')
      .setIssuer('https://idp.example')
      .setAudience('enforcement')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(key);
  const prod = (over: Partial<AuthSettings>): AuthSettings => ({
    ...dev,
    ENFORCEMENT_ENV: 'production',
    AUTH_ISSUER: 'https://idp.example',
    ...over,
  });

  it.each([
    ['RS256', {}],
    ['ES256', {}],
    ['EdDSA', { crv: 'Ed25519' }],
  ] as const)('reads the algorithm from a %s public key, not from its text', async (alg, opts) => {
    const { publicKey, privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
    const pem = await exportSPKI(publicKey);
    const verify = createVerifier(
      verifierConfigFrom(prod({ AUTH_JWT_PUBLIC_KEY: pem }), 'production'),
    );
    await expect(verify(`Bearer ${await sign(privateKey, alg)}`)).resolves.toMatchObject({
      subject: 'idp-user',
      roles: ['reporting'],
    });
    // The development secret signs nothing a public-key deployment accepts.
    const hmac = await mintDevToken(
      { ...DEV_AUTH, issuer: 'https://idp.example' },
      { subject: 'x', roles: ['supervisor'] },
    );
    await expect(verify(`Bearer ${hmac}`)).rejects.toThrow(
      'token signed with an algorithm this service does not accept',
    );
  });

  describe('from a JWKS endpoint', () => {
    let server: Server;
    let url = '';
    let good: CryptoKey;
    let other: CryptoKey;
    beforeAll(async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      good = pair.privateKey;
      other = (await generateKeyPair('ES256')).privateKey;
      const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      server = createServer((_, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('verifies tokens signed by a published key and refuses others', async () => {
      const verify = createVerifier(verifierConfigFrom(prod({ AUTH_JWKS_URL: url }), 'production'));
      await expect(verify(`Bearer ${await sign(good, 'ES256', 'k1')}`)).resolves.toMatchObject({
        subject: 'idp-user',
      });
      await expect(verify(`Bearer ${await sign(other, 'ES256', 'k1')}`)).rejects.toThrow(
        "token signature does not match this service's keys",
      );
    });
  });

  it('production refuses to start without real key material, naming each problem', () => {
    const refused = (s: AuthSettings) => {
      try {
        verifierConfigFrom(s, 'production');
      } catch (e) {
        expect(e).toBeInstanceOf(AuthConfigError);
        return (e as AuthConfigError).problems.join('\n');
      }
      throw new Error('accepted');
    };
    expect(refused(prod({}))).toMatch(/needs AUTH_JWKS_URL/);
    expect(
      refused(prod({ AUTH_JWT_SECRET: 'x'.repeat(40), AUTH_JWKS_URL: 'https://idp/jwks' })),
    ).toMatch(/AUTH_JWT_SECRET \(HS256\) is for development only/);
    expect(
      refused(prod({ AUTH_JWKS_URL: 'https://idp/jwks', AUTH_ISSUER: DEV_AUTH.issuer })),
    ).toMatch(/AUTH_ISSUER must name the identity provider/);
    expect(refused({ ...dev })).toMatch(/refused where NODE_ENV=production/);
  });
});
