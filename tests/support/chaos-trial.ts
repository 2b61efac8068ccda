import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@enforcement/testing';

export interface ChaosTrial {
  /** The fault suite's exit code: 0 when every trial was equal to the truth. */
  readonly code: number;
  /** The trial's outcome, as the suite printed it; undefined when it printed none. */
  readonly outcome: Record<string, unknown> | undefined;
  /** Every line the suite said (the fault's moment, refusals, differences), for a failure's message. */
  readonly said: string;
  /** The results table it wrote. */
  readonly table: string;
}

/** What a trial equal to the truth reports (tests/chaos/run.ts). */
export const EQUAL_TO_TRUTH = {
  acked: true,
  lost: 0,
  doubled: 0,
  offTopic: 0,
  broken: 0,
  rulesOff: 0,
  figuresOff: 0,
  scoresOff: 0,
  timedOut: false,
} as const;

/**
 * Runs the fault suite (tests/chaos/run.ts) with `args`, one trial of
 * `fault` on a private stack of its own, and returns what it reported.
 */
export async function runChaosTrial(fault: string, args: readonly string[]): Promise<ChaosTrial> {
  const dir = await mkdtemp(join(tmpdir(), `enforcement-${fault}-`));
  try {
    const out = join(dir, 'result.md');
    const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
      const child = execFile(
        'npx',
        ['tsx', 'tests/chaos/run.ts', '--faults', fault, '--trials', '1', ...args, '--out', out],
        { cwd: repoRoot(), maxBuffer: 64 << 20 },
        (e, _o, err) =>
          resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, stderr: err }),
      );
      child.stdout?.resume();
    });
    const outcome = new RegExp(`\\[chaos\\] (\\{"fault":"${fault}".*\\})`).exec(stderr)?.[1];
    return {
      code,
      outcome: outcome === undefined ? undefined : (JSON.parse(outcome) as Record<string, unknown>),
      said: stderr
        .split('\n')
        .filter((l) => l.startsWith('[chaos]'))
        .join('\n'),
      table: await readFile(out, 'utf8').catch(() => ''),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
