import { afterAll, describe, expect, it } from 'vitest';
import type { ClientDuplexStream, Metadata } from '@grpc/grpc-js';
import type { intake } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { tokenFor, uniqueName } from '@enforcement/testing';
import { expectEndOfLoad } from '../support/end-of-load.js';
import { startSystem, type System } from '../support/services.js';
import { submitAll } from '../support/submit.js';

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

    await expectEndOfLoad(s, md, commands);
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
