import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import type { intake, scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { startSystem, tokenFor, unary, type System } from '../support/services.js';

const registered = new Date('2021-01-04T02:00:00Z');
/** How long case-intake stays away in the outage test. */
const OUTAGE_MS = 30_000;
const june = new Date('2021-06-01T02:00:00Z');

/**
 * A case registered in January 2021 and dispatched in June, past its 90-day
 * deadline, once scoring has applied both: the rules owe it orders.
 */
async function overdueCase(sys: System, agency: Metadata): Promise<string> {
  const caseId = uniqueName('late');
  const l = loop(caseId, registered);
  await unary((cb) => sys.intakeClient.registerCase(l.register, agency, cb));
  await unary((cb) =>
    sys.intakeClient.dispatchCase(
      {
        ...l.dispatch,
        meta: { ...l.dispatch.meta, occurredAt: june },
      } as intake.DispatchCaseRequest,
      agency,
      cb,
    ),
  );
  await eventually(
    async () =>
      (await sys.scoring.runtime.models.getCase(caseId))?.view.version === 2 ? true : undefined,
    { what: `${caseId} projected` },
  );
  return caseId;
}

const rulesStatus = (sys: System, md: Metadata) =>
  unary<scoring.GetRulesStatusResponse>((cb) => sys.scoringClient.getRulesStatus({}, md, cb));

/** What intake's history of the case holds, event by event. */
const historyOf = async (sys: System, caseId: string, md: Metadata) =>
  (
    await unary<intake.GetCaseResponse>((cb) => sys.intakeClient.getCase({ caseId }, md, cb))
  ).history.map((e) => e.payload?.$case);

describe('the rules status says when the rules cannot get their actions to case-intake', () => {
  let sys: System;
  let stoppedAt = 0;
  let second = '';
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  const status = () => rulesStatus(sys, supervisor);

  it('names the trouble and its time, later than the last action accepted, while the orders stay due', async () => {
    // Intake up: the rules' orders go through, and the status has no trouble.
    const first = await overdueCase(sys, agency);
    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        return (await historyOf(sys, first, supervisor)).includes('supervisionOrderOpened')
          ? true
          : undefined;
      },
      { what: 'the first case’s orders' },
    );
    const fine = await status();
    expect(fine.lastAcceptedAt).toBeInstanceOf(Date);
    expect(fine.lastTroubleAt).toBeUndefined();
    expect(fine.lastTrouble).toBe('');

    // Another late case is projected, then intake goes away before the rules act on it.
    second = await overdueCase(sys, agency);
    await sys.intake.stop();
    stoppedAt = Date.now();
    await sys.scoring.runtime.tick();

    const troubled = await status();
    expect(troubled.lastTroubleAt).toBeInstanceOf(Date);
    expect(troubled.lastTroubleAt?.getTime()).toBeGreaterThan(
      troubled.lastAcceptedAt?.getTime() ?? 0,
    );
    expect(troubled.lastTrouble).toMatch(
      /^case-intake did not take \d+ action\(s\): .*UNAVAILABLE/,
    );
    // Nothing is lost: the second case's orders are still owed, and counted as failed, not refused.
    expect(Number(troubled.casesDue)).toBeGreaterThanOrEqual(1);
    expect(Number(troubled.actionsFailed)).toBeGreaterThan(Number(fine.actionsFailed));
    expect(Number(troubled.actionsRefused)).toBe(Number(fine.actionsRefused));
    expect((await sys.scoring.runtime.models.getCase(second))?.view.orders).toEqual([]);
  });

  it('sends them within seconds of case-intake coming back at its address after a 30 s outage', async () => {
    // Away for 30 s, with a pass every second as the ticker would run them:
    // long enough for grpc's own reconnect backoff to have grown past 10 s.
    while (Date.now() < stoppedAt + OUTAGE_MS) {
      await sys.scoring.runtime.tick();
      await new Promise((r) => setTimeout(r, 1_000));
    }
    const away = await status();
    expect(away.lastTroubleAt?.getTime()).toBeGreaterThan(away.lastAcceptedAt?.getTime() ?? 0);

    await sys.startIntakeAgain();
    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const history: (string | undefined)[] = await historyOf(sys, second, supervisor).catch(
          () => [],
        );
        return history.includes('supervisionOrderOpened') ? true : undefined;
      },
      // The channel's longest backoff, a pass, and a call: not grpc's two minutes.
      { timeoutMs: 8_000, intervalMs: 500, what: 'the second case’s orders after the outage' },
    );
    // The trouble gave way: something was accepted after it.
    const back = await status();
    expect(back.lastAcceptedAt?.getTime()).toBeGreaterThan(back.lastTroubleAt?.getTime() ?? 0);
  }, 90_000);
});

describe('the rules status says when case-intake refuses the rules for who sends them', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  let dir: string;
  const bearer = (md: Metadata) => String(md.get('authorization')[0]).replace(/^Bearer /, '');
  beforeAll(async () => {
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
    // Scoring's token file holds an agency's token in place of a supervisor's: a deployment's mistake.
    dir = await mkdtemp(join(tmpdir(), 'scoring-token-'));
    await writeFile(join(dir, 'token'), bearer(agency));
    sys = await startSystem({
      scoringEnv: { RULES_CLOCK: 'events', SCORING_INTAKE_TOKEN_FILE: join(dir, 'token') },
    });
  });
  afterAll(async () => {
    await sys?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const status = () => rulesStatus(sys, supervisor);
  const history = (caseId: string) => historyOf(sys, caseId, supervisor);

  it('names the refusal, keeps the actions due, and sends them once the token is put right, without a restart', async () => {
    const caseId = await overdueCase(sys, agency);
    await sys.scoring.runtime.tick();
    const refused = await status();
    expect(refused.lastAcceptedAt).toBeUndefined();
    expect(refused.lastTroubleAt).toBeInstanceOf(Date);
    expect(refused.lastTrouble).toMatch(
      /^case-intake did not take \d+ action\(s\): AUTH\.FORBIDDEN: /,
    );
    // Not set aside as a refusal of the action would be: still due, for the next pass.
    expect(Number(refused.actionsRefused)).toBe(0);
    expect(Number(refused.casesDue)).toBeGreaterThanOrEqual(1);
    expect(await history(caseId)).toEqual(['caseRegistered', 'caseDispatched']);

    // The identity provider puts the right token in the file; scoring reads it again within 30 s.
    await writeFile(join(dir, 'token'), bearer(supervisor));
    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        return (await history(caseId)).includes('supervisionOrderOpened') ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'the orders, once the token is right' },
    );
    // The status says they get through now: nothing troubled since the last accepted action.
    const through = await status();
    expect(through.lastAcceptedAt?.getTime()).toBeGreaterThanOrEqual(
      through.lastTroubleAt?.getTime() ?? Infinity,
    );
    expect(Number(through.actionsRefused)).toBe(0);
  });
});
