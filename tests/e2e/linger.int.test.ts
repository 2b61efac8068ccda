import { afterAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import type { ProjectionStats } from '@enforcement/messaging';
import { eventually, tokenFor } from '@enforcement/testing';
import { submitAll } from '../support/submit.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/** How far apart the case's commands are sent, as an agency's steps come in live. */
const SPACING_MS = 300;

const caseOf = (c: intake.Command) => c.kind?.value.meta?.caseId ?? '';

/** Two cases' commands from a generated year: one to warm up with, and one of at least eight. */
function twoCases(): { warm: intake.Command; live: intake.Command[] } {
  const commands = [
    ...generateYear({
      seed: 'linger',
      year: 2021,
      cases: 40,
      reconsideration: reconsiderationsOf(0),
    }).stream(),
  ];
  const byCase = new Map<string, intake.Command[]>();
  for (const c of commands) byCase.set(caseOf(c), [...(byCase.get(caseOf(c)) ?? []), c]);
  const [warm, ...rest] = [...byCase.values()];
  const live = rest.find((cs) => cs.length >= 8);
  if (!warm?.[0] || !live) throw new Error('the generated year has no case of eight commands');
  return { warm: warm[0], live };
}

/**
 * Sends one command, then a case's commands one by one SPACING_MS apart
 * through intake, and answers how many chunks each projection applied the
 * case in, once each has applied all of it.
 */
async function chunksOfOneCase(
  sys: WholeSystem,
  md: Metadata,
): Promise<{ scoring: number; reporting: number }> {
  const { warm, live } = twoCases();
  const projections = {
    scoring: sys.scoring.runtime.consumer.stats,
    reporting: sys.reporting.consumer.stats,
  };
  const applied = (n: number) => (s: ProjectionStats) => s.applied + s.duplicates >= n;
  // A first command, so both groups have joined and their fetches are live.
  await submitAll(sys.intakeClient, md, [warm]);
  await eventually(() => (Object.values(projections).every(applied(1)) ? true : undefined), {
    timeoutMs: 60_000,
    what: 'the first event applied by both projections',
  });
  const before = { scoring: projections.scoring.chunks, reporting: projections.reporting.chunks };
  for (const command of live) {
    const [ack] = await submitAll(sys.intakeClient, md, [command]);
    expect(ack?.accepted, `${ack?.errorCode} ${ack?.reason}`).toBe(true);
    await new Promise((r) => setTimeout(r, SPACING_MS));
  }
  await eventually(
    () => (Object.values(projections).every(applied(1 + live.length)) ? true : undefined),
    { timeoutMs: 30_000, what: `the ${live.length} events of the live case applied by both` },
  );
  return {
    scoring: projections.scoring.chunks - before.scoring,
    reporting: projections.reporting.chunks - before.reporting,
  };
}

describe('projections lingering over live events (PROJECTION_LINGER_MS)', () => {
  const systems: WholeSystem[] = [];
  afterAll(async () => {
    for (const s of systems) await s.stop();
  });

  it('apply a case whose commands come over two seconds in one or two chunks, where without it each event comes alone', async () => {
    const md = await tokenFor(['agency'], ['*']);
    const linger = (ms: string) => ({ PROJECTION_LINGER_MS: ms });
    const lingering = await startWholeSystem({
      scoringEnv: linger('5000'),
      reportingEnv: linger('5000'),
    });
    systems.push(lingering);
    const eager = await startWholeSystem({ scoringEnv: linger('0'), reportingEnv: linger('0') });
    systems.push(eager);

    // The commands take about 2.5 s: one fetch's wait, or two if one was already waiting.
    const waited = await chunksOfOneCase(lingering, md);
    expect(waited.scoring).toBeLessThanOrEqual(2);
    expect(waited.reporting).toBeLessThanOrEqual(2);
    // Without it a fetch returns with the first event there: a chunk each, unless the machine stalls.
    const eagerly = await chunksOfOneCase(eager, md);
    expect(eagerly.scoring).toBeGreaterThan(4);
    expect(eagerly.reporting).toBeGreaterThan(4);
  });
});
