import { describe, expect, it } from 'vitest';
import { EQUAL_TO_TRUTH, runChaosTrial } from '../support/chaos-trial.js';

/**
 * The fault suite's `coordinator-freeze` trial, once, as `npm test` runs it
 * (the full suite: `npm run chaos -- --brokers 3 --faults
 * broker-freeze,coordinator-freeze --trials N`). On a private stack with a
 * 3-broker KRaft cluster (replication factor 3, min.insync.replicas 2), a
 * generated year streams through intake into two scoring and two reporting
 * instances; mid-stream the broker that coordinates scoring's projection
 * group (and leads some of every topic's partitions) is stopped with SIGSTOP
 * for 40 s, its connections left open: the others fence it, lead its
 * partitions and take its groups over, while what was sent to it waits for
 * kafkajs's 30 s request timeout, and scoring's instances must find the
 * group's new coordinator and join again. Every service must say SERVING again after it; then the
 * trial checks, against the year's truth: every command acknowledged,
 * nothing lost or doubled in the store, every stored version on the topic
 * (kafkajs 2.2.4 resolved a batch whose frozen partitions it never sent
 * again: 17 and 2 versions lost in two trials before intake checked every
 * answer), every history verifying, every case's rule actions exactly its
 * plan, the annual figures and every agency's score.
 */
describe("the broker coordinating scoring's group stops answering, its connections open", () => {
  it('loses nothing on the way to the topic; every service serves after; figures, scores and orders stay right', async () => {
    const trial = await runChaosTrial('coordinator-freeze', [
      ...['--brokers', '3', '--freeze-seconds', '40', '--cases', '80', '--trial-minutes', '10'],
      ...['--port-offset', '400'],
    ]);
    // The broker frozen, and any refusal, are shown with a failure below.
    expect(trial.outcome, trial.said).toMatchObject(EQUAL_TO_TRUTH);
    expect(trial.code).toBe(0);
    expect(trial.table).toMatch(
      /\| the Kafka broker \(of 3\) coordinating scoring's projection group frozen \(SIGSTOP\) for 40 s, its connections left open \| 1 \| 1 \|/,
    );
  }, 900_000);
});
