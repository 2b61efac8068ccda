import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { status, type ServiceError } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from '../test-support/commands.js';
import { startIntake, tokenFor, unary, type TestIntake } from '../test-support/harness.js';

/**
 * Rotating the chain key: new events take the new key, old ones keep
 * verifying with theirs while it stays configured; once it is removed, the
 * events it made no longer verify, and nothing is appended onto them.
 */
describe('chain key rotation', () => {
  const k1 = `k1:${randomBytes(32).toString('base64')}`;
  const k2 = `k2:${randomBytes(32).toString('base64')}`;

  it('verifies across a rotation, and not once the old key is gone', async () => {
    const agency = await tokenFor(['agency'], ['lz-eeb']);
    const supervisor = await tokenFor(['supervisor']);
    const caseId = uniqueName('rotate');
    const l = fullLoop(caseId);
    const run = async <T>(env: Record<string, string>, fn: (s: TestIntake) => Promise<T>) => {
      const s = await startIntake({ ...shared, env: { INGRESS_ENABLED: 'false', ...env } });
      try {
        return await fn(s);
      } finally {
        await s.stop();
      }
    };
    const first = await startIntake({ env: { CHAIN_KEYS: k1, INGRESS_ENABLED: 'false' } });
    const shared = { db: first.db, topics: first.topics };
    try {
      await unary((cb) => first.client.registerCase(l.register, agency, cb));
      await unary((cb) => first.client.dispatchCase(l.dispatch, agency, cb));
    } finally {
      await first.stop();
    }

    const keys = await run({ CHAIN_KEYS: `${k1},${k2}`, CHAIN_KEY_ID: 'k2' }, async (s) => {
      await unary((cb) => s.client.recordProgress(l.evidence, agency, cb));
      const v = await unary<intake.VerifyCaseResponse>((cb) =>
        s.client.verifyCase({ caseId }, supervisor, cb),
      );
      expect(v).toMatchObject({ valid: true, eventCount: 3 });
      const got = await unary<intake.GetCaseResponse>((cb) =>
        s.client.getCase({ caseId }, supervisor, cb),
      );
      return got.history.map((e) => e.chainKeyId);
    });
    expect(keys).toEqual(['k1', 'k1', 'k2']);

    await run({ CHAIN_KEYS: k2, HEAD_CACHE_SIZE: '0' }, async (s) => {
      const v = await unary<intake.VerifyCaseResponse>((cb) =>
        s.client.verifyCase({ caseId }, supervisor, cb),
      );
      expect(v).toMatchObject({
        valid: false,
        firstBadVersion: 1,
        problem: "version 1 names chain key 'k1', which is not configured",
      });
      const refused = await unary((cb) => s.client.recordProgress(l.notice, agency, cb)).catch(
        (e: ServiceError) => e,
      );
      expect((refused as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    });
  });
});
