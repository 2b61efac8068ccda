import { describe, expect, it } from 'vitest';
import { EQUAL_TO_TRUTH, runChaosTrial } from '../support/chaos-trial.js';

/**
 * The fault suite's intake trials through the Kafka ingress, once each, as
 * `npm test` runs them (the full suite: `npm run chaos -- --via ingress`).
 * On a private stack, a generated year is published to intake's
 * submissions topic as agencies' producers would (keyed by case) and read
 * by two intakes under one consumer group, with the rules on the event
 * clock; then the trial checks, against the year's truth: every submission
 * answered accepted, nothing lost or doubled in the store, every stored
 * version on the topic, every history verifying, every case's rule actions
 * exactly its plan, the annual figures and every agency's score.
 */
describe('intake killed while it reads the Kafka ingress', () => {
  // Between storing a batch and committing it, and between committing and
  // marking its feeds: the next instance reads the batch again (duplicates)
  // or takes its feeds from the ledger.
  it('in the middle of its batches, then started again: nothing is lost or doubled; orders, figures and scores stay right', async () => {
    const trial = await runChaosTrial('intake', [
      ...['--via', 'ingress', '--intakes', '2', '--cases', '50', '--trial-minutes', '10'],
      ...['--port-offset', '500'],
    ]);
    expect(trial.outcome, trial.said).toMatchObject(EQUAL_TO_TRUTH);
    expect(trial.code).toBe(0);
    expect(trial.table).toMatch(/published to intake's Kafka ingress/);
    expect(trial.table).toMatch(
      /\| kill -9 of case-intake in the middle of its batches \(FerretDB frozen for 1\.5 s around it; restarted\) \| 1 \| 1 \|/,
    );
  }, 900_000);

  // The survivor takes the dead one's partitions: the feeds it stored there
  // and never marked are marked from the ledger, or, under the event clock,
  // those agencies' last actions would never be taken.
  it('for good, one of two: the survivor takes its partitions and its feeds; nothing is lost and every agency is judged to its end', async () => {
    const trial = await runChaosTrial('failover', [
      ...['--via', 'ingress', '--intakes', '2', '--cases', '50', '--trial-minutes', '10'],
      ...['--port-offset', '500'],
    ]);
    expect(trial.outcome, trial.said).toMatchObject(EQUAL_TO_TRUTH);
    expect(trial.code).toBe(0);
    expect(trial.table).toMatch(/published to intake's Kafka ingress/);
  }, 900_000);
});
