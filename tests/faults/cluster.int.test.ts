import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@enforcement/testing';

/**
 * The fault suite's cluster trial, once, as `npm test` runs it (the full
 * suite: `npm run chaos -- --brokers 3 --intakes 2 --scorers 3 --reporters 2
 * --faults broker --trials N`). On a private stack with a 3-broker KRaft
 * cluster (replication factor 3, min.insync.replicas 2), a generated year
 * streams through two intake instances, each agency through one, into three
 * scoring and two reporting instances; mid-stream one broker, one scoring
 * and one reporting instance are killed with SIGKILL and stay down. The
 * trial then checks, against the year's truth and the models: every command
 * acknowledged, nothing lost or doubled in the store, every stored version
 * on the topic, every history verifying, every case's rule actions exactly
 * its plan (so once, however many instances run the rules), the annual
 * figures and every agency's score. tests/chaos/run.ts has the checks.
 */
describe('several instances of every service, a Kafka cluster losing a broker', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loses and doubles nothing; the survivors take over; figures, scores and orders stay right', async () => {
    dir = await mkdtemp(join(tmpdir(), 'enforcement-cluster-'));
    const out = join(dir, 'result.md');
    const args = [
      'tsx',
      'tests/chaos/run.ts',
      ...['--brokers', '3', '--intakes', '2', '--scorers', '3', '--reporters', '2'],
      ...['--faults', 'broker', '--trials', '1', '--cases', '50', '--trial-minutes', '10'],
      ...['--port-offset', '300', '--out', out],
    ];
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile('npx', args, { cwd: repoRoot(), maxBuffer: 64 << 20 }, (e, _o, err) =>
        resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stderr: err }),
      );
      child.stdout?.resume();
    });
    const outcome = /\[chaos\] (\{"fault":"broker".*\})/.exec(stderr)?.[1];
    // What the trial said (refusals, the fault's moment), shown with any failure below.
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
      timedOut: false,
    });
    expect(code).toBe(0);
    // The table names the configuration it ran.
    expect(await readFile(out, 'utf8')).toMatch(
      /\| kill -9 of one of 3 Kafka brokers, one of 3 scoring and one of 2 reporting instances \(none restarted\) \| 1 \| 1 \|/,
    );
  }, 900_000);
});
