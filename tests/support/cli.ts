import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '@enforcement/testing';
import type { WholeSystem } from './whole-system.js';

const run = promisify(execFile);

/** The built `enforce` CLI. */
export const CLI = join(repoRoot(), 'apps/cli/dist/main.js');

/** Runs the CLI against this test's services; resolves to its exit code and output. */
export const enforce = (sys: WholeSystem, ...args: string[]) => enforceWith(sys, {}, ...args);

/** The same, with some of the environment changed. */
export async function enforceWith(
  sys: WholeSystem,
  change: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    ENFORCE_INTAKE: sys.intake.address,
    ENFORCE_SCORING: sys.scoring.address,
    ENFORCE_REPORTING: sys.reporting.address,
    ...change,
  };
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], {
      env,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}
