import { afterAll, describe, expect, it } from 'vitest';
import type { ClientDuplexStream, Metadata } from '@grpc/grpc-js';
import { events, type intake } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { eventually, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { RULE_COMMAND, ruleDifferences } from '../support/rules-oracle.js';
import { startSystem, type System } from '../support/services.js';
import { submitAll } from '../support/submit.js';

const caseOf = (c: intake.Command) => c.kind?.value.meta?.caseId ?? '';
const stamp = (t: number) => new Date(t).toISOString();

/**
 * The main job's shape: a year of every agency streamed in time order over
 * one SubmitEvents stream. Intake stores items of different cases
 * concurrently, so the floors its events carry are lowered by whatever was
 * still under way; an agency's last event, with nothing of its feed after it,
 * used to leave the agency judged up to a time that depended on that timing
 * (two runs of the demo's year ended with one agency judged to 9 and to 28
 * January 2022, and took 1,522 and 1,611 actions). Intake's feed marks say
 * how far each feed is stored once the stream's items settle.
 */
describe('the end of a load over one stream of many agencies (RULES_CLOCK=events)', () => {
  let sys: System | undefined;
  afterAll(() => sys?.stop());

  /**
   * Loads a generated year, as `send` streams it, and checks the end of the
   * load: every agency judged up to its latest enforcement event, and every
   * action the plan dates before it taken, no other.
   */
  async function loadAndCheck(
    year: number,
    send: (
      s: System,
      md: Metadata,
      commands: intake.Command[],
    ) => Promise<intake.SubmitEventsResponse[]>,
  ): Promise<void> {
    sys ??= await startSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' } });
    const s = sys;
    const md = await tokenFor(['agency', 'supervisor'], ['*']);
    const commands = [
      ...generateYear({
        seed: 'end-of-load',
        year,
        cases: 150,
        // Reviews are feeds of their own: their agencies' last steps come late in the stream.
        reconsideration: reconsiderationsOf(40),
        prefix: uniqueName('EL'),
      }).stream(),
    ];
    const acks = await send(s, md, commands);
    expect(acks.filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`)).toEqual([]);

    const caseIds = [...new Set(commands.map(caseOf))];
    const histories = async () => {
      const out = new Map<string, events.CaseEvent[]>();
      for (const caseId of caseIds) {
        const r = await unary<intake.GetCaseResponse>((cb) =>
          s.intakeClient.getCase({ caseId }, md, cb),
        );
        out.set(caseId, r.history);
      }
      return out;
    };
    // Each agency's latest enforcement event: what the stream says it is
    // complete before, once everything is stored.
    const latest = new Map<string, number>();
    for (const h of (await histories()).values())
      for (const e of h)
        if (e.caseType === events.CaseType.CASE_TYPE_ENFORCEMENT && !RULE_COMMAND.test(e.commandId))
          latest.set(
            e.agencyId,
            Math.max(latest.get(e.agencyId) ?? 0, e.occurredAt?.getTime() ?? 0),
          );
    expect(latest.size).toBeGreaterThan(5);
    const want = [...latest]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([agency, t]) => `${agency} ${stamp(t)}`);

    const judged = async () =>
      (await s.scoring.runtime.rulesStatus()).agencies.map(
        (a) => `${a.agencyId} ${stamp(a.judgedUpTo)}`,
      );
    const clock = await eventually(
      async () => (JSON.stringify(await judged()) === JSON.stringify(want) ? true : undefined),
      { what: 'every agency judged up to its latest event', timeoutMs: 60_000 },
    ).catch(async () => `judged:\n${(await judged()).join('\n')}\nlatest:\n${want.join('\n')}`);
    expect(clock).toBe(true);

    const differences = await eventually(
      async () => (ruleDifferences(await histories()).length === 0 ? true : undefined),
      { what: 'the rules to reach the plan', timeoutMs: 60_000, intervalMs: 1_000 },
    ).catch(async () => ruleDifferences(await histories()).join('\n'));
    expect(differences).toBe(true);
  }

  it('judges every agency up to its own latest event, and takes every action the plan dates before it', async () => {
    await loadAndCheck(2021, (s, md, commands) => submitAll(s.intakeClient, md, commands));
  });

  it('does so too while the stream stays open: a stream quiet for a moment marks its feeds', async () => {
    // A later year on the same system: each agency's latest event is this year's.
    let call:
      ClientDuplexStream<intake.SubmitEventsRequest, intake.SubmitEventsResponse> | undefined;
    try {
      await loadAndCheck(
        2022,
        (s, md, commands) =>
          new Promise((resolve, reject) => {
            const acks: intake.SubmitEventsResponse[] = [];
            const c = s.intakeClient.submitEvents(md);
            call = c;
            c.on('data', (a: intake.SubmitEventsResponse) => {
              acks.push(a);
              if (acks.length === commands.length) resolve(acks);
            });
            c.on('error', reject);
            let sequence = 0;
            const pump = () => {
              for (;;) {
                const command = commands[sequence];
                if (!command) return; // not ended: an agency's feed that stays open
                if (!c.write({ sequence: ++sequence, command })) return c.once('drain', pump);
              }
            };
            pump();
          }),
      );
    } finally {
      call?.end();
    }
  });
});
