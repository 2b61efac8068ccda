import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@enforcement/testing';

/**
 * The fault suite's `freeze` trial, once, as `npm test` runs it (the full
 * suite runs it with the others: `npm run chaos`). On a private stack, a
 * generated year streams through intake into two scoring and two reporting
 * instances; mid-stream FerretDB is stopped with SIGSTOP for 40 s, its
 * connections left open, so every call on it waits and nothing is refused:
 * longer than Kafka's session timeout and the driver's monitoring timeout.
 * From 10 s into it until it ends, every service must answer every health
 * check with something other than SERVING (none may say SERVING while
 * nothing can move: its readiness round has a 3 s deadline, where the
 * driver's own monitor gives up only after 30 s), and SERVING again once the
 * database goes on; then the trial checks, against the year's truth: every command
 * acknowledged, nothing lost or doubled in the store, every stored version
 * on the topic, every history verifying, every case's rule actions exactly
 * its plan, the annual figures and every agency's score.
 */
describe('the database stops answering, its connections open', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every service says NOT_SERVING through it and SERVING after; nothing is lost or doubled; figures, scores and orders stay right', async () => {
    dir = await mkdtemp(join(tmpdir(), 'enforcement-freeze-'));
    const out = join(dir, 'result.md');
    const args = [
      'tsx',
      'tests/chaos/run.ts',
      ...['--faults', 'freeze', '--freeze-seconds', '40', '--trials', '1', '--cases', '50'],
      ...['--trial-minutes', '10', '--port-offset', '200', '--out', out],
    ];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile('npx', args, { cwd: repoRoot(), maxBuffer: 64 << 20 }, (e, _o, err) =>
        resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stderr: err }),
      );
      child.stdout?.resume();
    });
    const outcome = /\[chaos\] (\{"fault":"freeze".*\})/.exec(stderr)?.[1];
    // What the trial said (when each service stopped serving, refusals), shown with any failure below.
    const said = stderr
      .split('\n')
      .filter((l) => l.startsWith('[chaos]'))
      .join('\n');
    expect(outcome, said).toBeDefined();
    expect(JSON.parse(outcome ?? '{}'), said).toMatchObject({
      acked: true,
      lost: 0,
      doubled: 0,
      offTopic: 0,
      broken: 0,
      rulesOff: 0,
      figuresOff: 0,
      scoresOff: 0,
      servedFrozen: 0,
      timedOut: false,
    });
    expect(code).toBe(0);
    expect(await readFile(out, 'utf8')).toMatch(
      /\| FerretDB frozen \(SIGSTOP\) for 40 s, its connections left open \| 1 \| 1 \|/,
    );
  }, 900_000);
});
