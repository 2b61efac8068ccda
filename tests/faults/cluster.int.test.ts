import { describe, expect, it } from 'vitest';
import { EQUAL_TO_TRUTH, runChaosTrial } from '../support/chaos-trial.js';

/**
 * The fault suite's cluster trial, once, as `npm test` runs it (the full
 * suite: `npm run chaos -- --brokers 3 --intakes 2 --scorers 3 --reporters 2
 * --faults broker --trials N`). On a private stack with a 3-broker KRaft
 * cluster (replication factor 3, min.insync.replicas 2), a generated year
 * streams through two intake instances, each agency through one, into three
 * scoring and two reporting instances; mid-stream one broker, one scoring
 * and one reporting instance are killed with SIGKILL and stay down. The
 * trial then checks, against the year's truth and the models: every command
 * acknowledged, nothing lost or doubled in the store, every stored version
 * on the topic, every history verifying, every case's rule actions exactly
 * its plan (so once, however many instances run the rules), the annual
 * figures and every agency's score. tests/chaos/run.ts has the checks.
 */
describe('several instances of every service, a Kafka cluster losing a broker', () => {
  it('loses and doubles nothing; the survivors take over; figures, scores and orders stay right', async () => {
    const trial = await runChaosTrial('broker', [
      ...['--brokers', '3', '--intakes', '2', '--scorers', '3', '--reporters', '2'],
      ...['--cases', '50', '--trial-minutes', '10', '--port-offset', '300'],
    ]);
    // What the trial said (refusals, the fault's moment) is shown with any failure below.
    expect(trial.outcome, trial.said).toMatchObject(EQUAL_TO_TRUTH);
    expect(trial.code).toBe(0);
    // The table names the configuration it ran.
    expect(trial.table).toMatch(
      /\| kill -9 of one of 3 Kafka brokers, one of 3 scoring and one of 2 reporting instances \(none restarted\) \| 1 \| 1 \|/,
    );
  }, 900_000);
});
