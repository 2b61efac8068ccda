import { describe, expect, it } from 'vitest';
import { EQUAL_TO_TRUTH, runChaosTrial } from '../support/chaos-trial.js';

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
  it('every service says NOT_SERVING through it and SERVING after; nothing is lost or doubled; figures, scores and orders stay right', async () => {
    const trial = await runChaosTrial('freeze', [
      ...['--freeze-seconds', '40', '--cases', '50', '--trial-minutes', '10'],
      ...['--port-offset', '200'],
    ]);
    // When each service stopped serving, and any refusal, are shown with a failure below.
    expect(trial.outcome, trial.said).toMatchObject({ ...EQUAL_TO_TRUTH, servedFrozen: 0 });
    expect(trial.code).toBe(0);
    expect(trial.table).toMatch(
      /\| FerretDB frozen \(SIGSTOP\) for 40 s, its connections left open \| 1 \| 1 \|/,
    );
  }, 900_000);

  // FerretDB goes on taking connections and reading commands while PostgreSQL
  // under it answers nothing: a readiness check FerretDB could answer alone
  // (`hello`, or a `ping` that did not reach the backend) would say SERVING
  // throughout.
  it('PostgreSQL frozen under a running FerretDB: the same', async () => {
    const trial = await runChaosTrial('pg-freeze', [
      ...['--freeze-seconds', '40', '--cases', '50', '--trial-minutes', '10'],
      ...['--port-offset', '200'],
    ]);
    expect(trial.outcome, trial.said).toMatchObject({ ...EQUAL_TO_TRUTH, servedFrozen: 0 });
    expect(trial.code).toBe(0);
    expect(trial.table).toMatch(
      /\| PostgreSQL frozen \(SIGSTOP\) for 40 s under a running FerretDB \| 1 \| 1 \|/,
    );
  }, 900_000);
});
