import { describe, expect, it } from 'vitest';
import { DomainError } from '@enforcement/errors';
import { actsFor, createVerifier, DEV_AUTH, mintDevToken } from './index.js';

describe('bearer tokens', () => {
  const verify = createVerifier(DEV_AUTH);

  it('turns a valid token into a principal with roles and agencies', async () => {
    const token = await mintDevToken(DEV_AUTH, {
      subject: 'officer-7',
      roles: ['agency'],
      agencies: ['lz-eeb'],
    });
    const p = await verify(`Bearer ${token}`);
    expect(p).toEqual({ subject: 'officer-7', roles: ['agency'], agencies: ['lz-eeb'] });
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
    const otherAudience = await mintDevToken(
      { ...DEV_AUTH, audience: 'elsewhere' },
      { subject: 's', roles: ['supervisor'] },
    );
    await expect(verify(`Bearer ${otherAudience}`)).rejects.toMatchObject({
      code: 'AUTH.UNAUTHENTICATED',
    });
  });

  it('refuses an expired token', async () => {
    const old = await mintDevToken(DEV_AUTH, {
      subject: 's',
      roles: ['supervisor'],
      expiresIn: '-1m',
    });
    await expect(verify(`Bearer ${old}`)).rejects.toThrow('token expired');
  });
});
