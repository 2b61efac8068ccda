import { afterAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { tokenFor, uniqueName } from '@enforcement/testing';
import { caseOf, expectEndOfLoad } from '../support/end-of-load.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

type Unary = (
  value: unknown,
  md: Metadata,
  cb: (err: Error | null, res?: intake.CommandResult) => void,
) => void;

/**
 * A client that sends a year as unary calls, many at once, in the order
 * things happened, each case's commands one after another (a reconsideration
 * after the case it challenges), as a client written from the contracts
 * alone may.
 */
async function sendUnary(
  s: WholeSystem,
  md: Metadata,
  commands: readonly intake.Command[],
  inFlight: number,
): Promise<string[]> {
  const refused: string[] = [];
  const lastOf = new Map<string, Promise<unknown>>();
  const running = new Set<Promise<unknown>>();
  for (const command of commands) {
    const kind = command.kind;
    if (!kind) continue;
    while (running.size >= inFlight) await Promise.race(running);
    const caseId = caseOf(command);
    const target = kind.$case === 'fileReconsideration' ? kind.value.enforcementCaseId : '';
    const before = Promise.all([lastOf.get(caseId), target && lastOf.get(target)]);
    const client = s.intakeClient as unknown as Record<string, Unary>;
    const call = before.then(
      () =>
        new Promise<void>((resolve) =>
          client[kind.$case]?.call(s.intakeClient, kind.value, md, (err) => {
            if (err) refused.push(`${kind.$case} ${caseId}: ${err.message}`);
            resolve();
          }),
        ),
    );
    lastOf.set(caseId, call);
    running.add(call);
    void call.finally(() => running.delete(call));
  }
  await Promise.all(running);
  await Promise.all(lastOf.values());
  return refused;
}

describe('a year loaded as unary calls, many at once (RULES_CLOCK=events)', () => {
  let sys: WholeSystem | undefined;
  afterAll(() => sys?.stop());

  it('judges every agency up to its latest event and takes every action the plan dates before it, no other', async () => {
    sys = await startWholeSystem({ rulesTickMs: 500, scoringEnv: { RULES_CLOCK: 'events' } });
    const md = await tokenFor(['agency', 'supervisor'], ['*']);
    const commands = [
      ...generateYear({
        seed: 'unary-clock',
        year: 2021,
        cases: 150,
        reconsideration: reconsiderationsOf(40),
        prefix: uniqueName('UC'),
      }).stream(),
    ];
    expect(await sendUnary(sys, md, commands, 32)).toEqual([]);
    await expectEndOfLoad(sys, md, commands);
  });
});
