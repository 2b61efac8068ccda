import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intake } from '@enforcement/contracts';
import { createCaseIntake, loadIntakeConfig, type CaseIntake } from '@enforcement/case-intake';
import { generateYear } from '@enforcement/generator';
import type { Role } from '@enforcement/auth';
import {
  eventually,
  lapsingToken,
  repoRoot,
  serviceEnv,
  tokenFor,
  uniqueName,
} from '@enforcement/testing';

const CLI = join(repoRoot(), 'apps/cli/dist/main.js');

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });

const submit = (
  file: string,
  address: string,
  retryFor: number,
  token?: string,
  env?: Record<string, string>,
) =>
  promisify(execFile)(
    process.execPath,
    [
      CLI,
      'submit',
      file,
      '--json',
      '--quiet',
      '--intake',
      address,
      '--retry-for',
      String(retryFor),
      ...(token === undefined ? [] : ['--token', token]),
    ],
    { maxBuffer: 16 << 20, ...(env ? { env: { ...process.env, ...env } } : {}) },
  ).then(
    (r) => ({ code: 0, stdout: r.stdout }),
    (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
  );

/**
 * `enforce submit` against an intake that goes away: killed mid-stream and
 * started again, it carries on and every command is answered; never there,
 * it gives up after --retry-for with a summary, not a stack trace.
 */
describe('enforce submit through an intake outage', () => {
  let dir: string;
  let file: string;
  let lines = 0;
  const run = uniqueName('cli-outage');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-outage-'));
    file = join(dir, 'year.ndjson');
    const year = generateYear({
      seed: run,
      cases: 150,
      reconsideration: { accepted: 6, concluded: 4, corrected: 1, notAccepted: 1 },
    });
    const out: string[] = [];
    for (const c of year.stream()) out.push(JSON.stringify(intake.Command.toJSON(c)));
    lines = out.length;
    await writeFile(file, `${out.join('\n')}\n`);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('carries on when intake is killed mid-stream and started again on its address', async () => {
    const port = await freePort();
    const config = loadIntakeConfig({
      ...serviceEnv(run),
      GRPC_PORT: String(port),
      MONGODB_DB: run.replace(/-/g, '_'),
      TOPIC_NAMESPACE: run,
      EVENT_STORE_BUCKETS: '8',
      INGRESS_ENABLED: 'false',
    });
    let svc: CaseIntake = await createCaseIntake(config, { log: () => undefined });
    const cli = submit(file, `127.0.0.1:${port}`, 60);
    await eventually(
      async () => {
        const counts = await Promise.all(svc.store.commits.all().map((c) => c.countDocuments({})));
        return counts.reduce((a, b) => a + b, 0) >= 200 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: '200 stored commits' },
    );
    await svc.kill();
    await new Promise((r) => setTimeout(r, 1_000));
    svc = await createCaseIntake(config, { log: () => undefined });
    try {
      const out = await cli;
      const summary = JSON.parse(out.stdout) as Record<string, number>;
      expect(out.code).toBe(0);
      expect(summary).toMatchObject({ sent: lines, acked: lines, rejected: 0, unanswered: 0 });
      expect(summary.reconnects).toBeGreaterThan(0);
      let stored = 0;
      for await (const s of svc.store.cases()) stored += s.version;
      expect(stored).toBe(lines);
    } finally {
      await svc.stop();
    }
  });

  /** A file that takes longer to submit than a token of a few seconds lives, and an intake of its own. */
  const lapseRun = async (name: string) => {
    const big = join(dir, `${name}.ndjson`);
    const year = generateYear({
      seed: `${run}-${name}`,
      cases: 2_000,
      reconsideration: { accepted: 6, concluded: 4, corrected: 1, notAccepted: 1 },
    });
    const lines: string[] = [];
    for (const c of year.stream()) lines.push(JSON.stringify(intake.Command.toJSON(c)));
    await writeFile(big, `${lines.join('\n')}\n`);
    const port = await freePort();
    const svc = await createCaseIntake(
      loadIntakeConfig({
        ...serviceEnv(`${run}-${name}`),
        GRPC_PORT: String(port),
        MONGODB_DB: `${run}-${name}`.replace(/-/g, '_'),
        TOPIC_NAMESPACE: `${run}-${name}`,
        EVENT_STORE_BUCKETS: '8',
        INGRESS_ENABLED: 'false',
      }),
      { log: () => undefined },
    );
    const stored = async () => {
      let n = 0;
      for await (const c of svc.store.cases()) n += c.version;
      return n;
    };
    return { big, lines: lines.length, address: `127.0.0.1:${port}`, svc, stored };
  };
  const bare = async (roles: Role[], seconds?: number) => {
    const md = seconds
      ? (await lapsingToken(roles, ['*'], seconds)).md
      : await tokenFor(roles, ['*']);
    return String(md.get('authorization')[0]).replace(/^Bearer /, '');
  };

  it('stops when its token expires mid-file, saying so, with what was stored and nothing refused', async () => {
    const r = await lapseRun('lapse');
    try {
      const cli = await submit(r.big, r.address, 30, await bare(['agency', 'supervisor'], 6));
      const summary = JSON.parse(cli.stdout) as Record<string, number | string>;
      expect(cli.code).toBe(1);
      expect(summary.failure).toBe(
        'UNAUTHENTICATED: token expired while the stream was open: open it again with a new token',
      );
      // Stopped at the expiry: what was answered was stored, the rest left for a run with a new token.
      expect(summary).toMatchObject({ rejected: 0, duplicates: 0 });
      expect(summary.accepted).toBeGreaterThan(0);
      expect(summary.unanswered).toBeGreaterThan(0);
      const stored = await r.stored();
      expect(stored).toBeGreaterThanOrEqual(Number(summary.accepted));
      expect(stored).toBeLessThan(r.lines);
    } finally {
      await r.svc.stop();
    }
  });

  it('carries a long run on with the token file an identity provider rotated meanwhile', async () => {
    const r = await lapseRun('rotated');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, `${await bare(['agency', 'supervisor'], 6)}\n`);
    try {
      const cli = submit(r.big, r.address, 30, undefined, { ENFORCE_TOKEN_FILE: tokenFile });
      // Rotated well before the first token expires, as a provider does.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      await writeFile(tokenFile, `${await bare(['agency', 'supervisor'])}\n`);
      const out = await cli;
      const summary = JSON.parse(out.stdout) as Record<string, number>;
      expect(out.code).toBe(0);
      expect(summary).toMatchObject({ rejected: 0, unanswered: 0, acked: r.lines });
      // The stream opened with the first token was refused once it expired, and a new one opened.
      expect(summary.reconnects).toBeGreaterThan(0);
      expect(await r.stored()).toBe(r.lines);
    } finally {
      await r.svc.stop();
    }
  });

  it('gives up on an intake that never answers, with a summary and exit 1', async () => {
    const port = await freePort();
    const out = await submit(file, `127.0.0.1:${port}`, 2);
    expect(out.code).toBe(1);
    const summary = JSON.parse(out.stdout) as {
      acked: number;
      unanswered: number;
      failure: string;
    };
    expect(summary.acked).toBe(0);
    expect(summary.unanswered).toBeGreaterThan(0);
    // Says which service, where it was looked for and why it did not answer.
    expect(summary.failure).toContain(
      `case-intake at 127.0.0.1:${port} (--intake) did not answer for 2 s (UNAVAILABLE:`,
    );
  });
});
