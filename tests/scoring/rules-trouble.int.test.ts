import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import type { intake, scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { startSystem, tokenFor, unary, type System } from '../support/services.js';

const registered = new Date('2021-01-04T02:00:00Z');
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

describe('the rules status says when the rules cannot get their actions to case-intake', () => {
  let sys: System;
  let intakeStopped = false;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(async () => {
    if (!sys) return;
    if (!intakeStopped) return sys.stop();
    sys.intakeClient.close();
    sys.scoringClient.close();
    sys.reportingClient.close();
    await sys.reporting.stop();
    await sys.scoring.stop();
  });

  const status = () =>
    unary<scoring.GetRulesStatusResponse>((cb) =>
      sys.scoringClient.getRulesStatus({}, supervisor, cb),
    );

  it('names the trouble and its time, later than the last action accepted, while the orders stay due', async () => {
    // Intake up: the rules' orders go through, and the status has no trouble.
    const first = await overdueCase(sys, agency);
    await eventually(
      async () => {
        await sys.scoring.runtime.tick();
        const history = (
          await unary<intake.GetCaseResponse>((cb) =>
            sys.intakeClient.getCase({ caseId: first }, supervisor, cb),
          )
        ).history;
        return history.some((e) => e.payload?.$case === 'supervisionOrderOpened')
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
    const second = await overdueCase(sys, agency);
    await sys.intake.stop();
    intakeStopped = true;
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
});

describe('the rules status says when case-intake refuses the rules for who sends them', () => {
  let sys: System;
  let agency: Metadata;
  let supervisor: Metadata;
  beforeAll(async () => {
    // Scoring given an agency's token in place of a supervisor's: a deployment's mistake.
    const wrong = await tokenFor(['agency'], ['lz-eeb']);
    const bearer = String(wrong.get('authorization')[0]).replace(/^Bearer /, '');
    sys = await startSystem({
      scoringEnv: { RULES_CLOCK: 'events', SCORING_INTAKE_TOKEN: bearer },
    });
    agency = wrong;
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => sys?.stop());

  it('names the refusal, and keeps the actions due for the next pass rather than setting them aside', async () => {
    const caseId = await overdueCase(sys, agency);
    await sys.scoring.runtime.tick();
    const s = await unary<scoring.GetRulesStatusResponse>((cb) =>
      sys.scoringClient.getRulesStatus({}, supervisor, cb),
    );
    expect(s.lastAcceptedAt).toBeUndefined();
    expect(s.lastTroubleAt).toBeInstanceOf(Date);
    expect(s.lastTrouble).toMatch(/^case-intake did not take \d+ action\(s\): AUTH\.FORBIDDEN: /);
    // Sent again on the next pass, not set aside for hours as a refusal of the action would be.
    expect(Number(s.actionsRefused)).toBe(0);
    expect(Number(s.casesDue)).toBeGreaterThanOrEqual(1);
    const history = (
      await unary<intake.GetCaseResponse>((cb) =>
        sys.intakeClient.getCase({ caseId }, supervisor, cb),
      )
    ).history;
    expect(history.map((e) => e.payload?.$case)).toEqual(['caseRegistered', 'caseDispatched']);
  });
});
