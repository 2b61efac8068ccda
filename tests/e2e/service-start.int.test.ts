import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@enforcement/testing';

/** Starts a service's process with this environment; resolves when it exits. */
function start(service: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [join(repoRoot(), `apps/${service}/dist/main.js`)],
      { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 },
      (e, _stdout, stderr) =>
        resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, stderr }),
    ),
  );
}

describe('a service that cannot start says why in one plain message', () => {
  it.each(['case-intake', 'supervision-scoring', 'reporting'])(
    '%s: every configuration problem named, exit 78, no stack trace',
    async (service) => {
      const r = await start(service, { GRPC_PORT: 'abc' });
      expect(r.code).toBe(78);
      expect(r.stderr).toMatch(
        new RegExp(
          `^${service}: not started: invalid configuration \\(environment variables\\):\\n`,
        ),
      );
      expect(r.stderr).toContain("GRPC_PORT must be an integer, got 'abc'");
      expect(r.stderr).toContain('MONGODB_URI is required but not set');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    },
  );

  it('names an unreachable MongoDB by its variable, without the password, exit 69', async () => {
    const r = await start('reporting', {
      ENFORCEMENT_ENV: 'development',
      KAFKA_BROKERS: '127.0.0.1:1',
      MONGODB_URI: 'mongodb://reporter:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=1000',
      GRPC_PORT: '0',
    });
    expect(r.code).toBe(69);
    expect(r.stderr).toContain(
      'reporting: not started: cannot reach MongoDB at mongodb://reporter:***@127.0.0.1:1/',
    );
    expect(r.stderr).toContain('(MONGODB_URI)');
    expect(r.stderr).not.toContain('s3cret');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
