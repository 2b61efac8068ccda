import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { checkHealth, LIVENESS } from '@enforcement/grpc-kit';
import type { Delivery } from '@enforcement/messaging';
import { eventually, tokenFor } from '@enforcement/testing';
import { submitAll } from '../support/submit.js';
import { caughtUp, startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/** How long a projection may apply nothing while messages wait, in this test (the default is 60 s). */
const STALL_MS = 3_000;

type HandleBatch = (partition: number, chunk: Delivery[]) => Promise<readonly string[]>;

/** The kafkajs consumer inside a service's projection (private there: a test reaches in). */
const kafkajsOf = (projection: unknown): Consumer =>
  (projection as { consumer: Consumer }).consumer;

/**
 * A projection's consumer that stops fetching without failing or crashing
 * (here kafkajs told to pause its partitions, as a fetch loop that stopped
 * would leave it) used to leave its service SERVING while the events piled
 * up behind it: nothing failed, so nothing said so. Now a projection that
 * applies nothing for PROJECTION_STALL_MS while messages wait on its own
 * partitions makes its service NOT_SERVING, naming how many wait; once it
 * moves again, SERVING, and what waited is applied.
 */
describe('a projection that applies nothing while events wait', () => {
  let sys: WholeSystem | undefined;

  beforeAll(async () => {
    const env = { PROJECTION_STALL_MS: String(STALL_MS), HEALTH_CHECK_MS: '500' };
    sys = await startWholeSystem({ scoringEnv: env, reportingEnv: env });
  }, 180_000);

  afterAll(async () => {
    await sys?.stop();
  });

  /** A small year of its own for a test: its commands, where half of them ends, and the callers' tokens. */
  const aYear = async (seed: string, year: number) => {
    const s = sys;
    if (!s) throw new Error('the system did not start');
    const commands = [
      ...generateYear({
        seed,
        year,
        cases: 30,
        evaluate: true,
        reconsideration: reconsiderationsOf(3),
      }).stream(),
    ];
    return {
      s,
      commands,
      half: Math.floor(commands.length / 2),
      md: await tokenFor(['agency', 'supervisor'], ['*']),
      reader: await tokenFor(['supervisor', 'reporting']),
    };
  };

  it('makes its service NOT_SERVING, naming what waits, and SERVING again once it moves', async () => {
    const { s, commands, half, md, reader } = await aYear('stalled', 2021);
    const health = () =>
      Promise.all([checkHealth(s.scoring.address), checkHealth(s.reporting.address)]);

    await submitAll(s.intakeClient, md, commands.slice(0, half));
    await caughtUp(s, reader, 2021, new Date());
    // Idle with nothing waiting, longer than the stall: still serving.
    await new Promise((r) => setTimeout(r, 2 * STALL_MS));
    expect(await health()).toEqual(['SERVING', 'SERVING']);

    const topic = s.topics.caseEvents;
    const scoringConsumer = kafkajsOf(s.scoring.runtime.consumer);
    const reportingConsumer = kafkajsOf(s.reporting.consumer);
    scoringConsumer.pause([{ topic }]);
    reportingConsumer.pause([{ topic }]);
    try {
      await submitAll(s.intakeClient, md, commands.slice(half));
      await eventually(
        async () => ((await health()).every((h) => h === 'NOT_SERVING') ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 250, what: 'scoring and reporting NOT_SERVING' },
      );
      for (const failing of [s.scoring.readiness.failing, s.reporting.readiness.failing])
        expect(failing.get('consumer')).toMatch(
          /^\d+ messages wait on this instance's partitions and none was applied for \d+ s$/,
        );
      // The broker answers and nothing is under way: a restart (a new consumer) mends it.
      expect(
        await Promise.all(
          [s.scoring.address, s.reporting.address].map((a) => checkHealth(a, LIVENESS)),
        ),
      ).toEqual(['NOT_SERVING', 'NOT_SERVING']);
    } finally {
      scoringConsumer.resume([{ topic }]);
      reportingConsumer.resume([{ topic }]);
    }
    await eventually(
      async () => ((await health()).every((h) => h === 'SERVING') ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 250, what: 'scoring and reporting SERVING again' },
    );
    expect(await checkHealth(s.scoring.address, LIVENESS)).toBe('SERVING');
    // What waited is applied.
    await caughtUp(s, reader, 2021, new Date());
  }, 180_000);

  it("makes scoring NOT_SERVING while one partition's chunk never ends, naming the partition, and SERVING once it does", async () => {
    const { s, commands, half, md, reader } = await aYear('hung-chunk', 2022);
    await submitAll(s.intakeClient, md, commands.slice(0, half));
    await caughtUp(s, reader, 2022, new Date());

    // One partition's next chunk waits on something that does not answer
    // (in the projector, where a hung await would be: the store's calls
    // have their own check), while the partition stays this instance's.
    const consumer = s.scoring.runtime.consumer;
    const projector = (consumer as unknown as { projector: { handleBatch: HandleBatch } })
      .projector;
    const apply = projector.handleBatch.bind(projector);
    const caseId = commands[half]?.kind?.value.meta?.caseId ?? '';
    const hung = consumer.partitionOf(caseId);
    let release = () => undefined as void;
    const answered = new Promise<void>((r) => (release = r));
    projector.handleBatch = async (partition, chunk) => {
      if (partition === hung && chunk.length > 0) await answered;
      return apply(partition, chunk);
    };
    try {
      await submitAll(s.intakeClient, md, commands.slice(half));
      await eventually(
        async () => ((await checkHealth(s.scoring.address)) === 'NOT_SERVING' ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 250, what: 'scoring NOT_SERVING' },
      );
      expect(s.scoring.readiness.failing.get('consumer')).toMatch(
        new RegExp(
          `^a chunk of ${s.topics.caseEvents} partition ${hung} has been applying for \\d+ s$`,
        ),
      );
      // It waits on what it awaits, as a restarted process would: no restart is asked for.
      expect(await checkHealth(s.scoring.address, LIVENESS)).toBe('SERVING');
    } finally {
      release();
      projector.handleBatch = apply;
    }
    await eventually(
      async () => ((await checkHealth(s.scoring.address)) === 'SERVING' ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 250, what: 'scoring SERVING again' },
    );
    await caughtUp(s, reader, 2022, new Date());
  }, 180_000);

  it('with two scorers sharing the partitions, makes NOT_SERVING only the one whose consumer stopped', async () => {
    const { s, commands, half, md, reader } = await aYear('two-scorers', 2023);
    const other = await s.startScoringBeside();
    try {
      const first = s.scoring.runtime.consumer;
      const second = other.runtime.consumer;
      // Each holds some of the partitions.
      await eventually(
        () =>
          first.ownedPartitions.length > 0 &&
          second.ownedPartitions.length > 0 &&
          first.ownedPartitions.length + second.ownedPartitions.length === first.partitions
            ? true
            : undefined,
        { timeoutMs: 60_000, what: 'the two scorers to share the partitions' },
      );
      await submitAll(s.intakeClient, md, commands.slice(0, half));
      await caughtUp(s, reader, 2023, new Date());

      const topic = s.topics.caseEvents;
      const stopped = kafkajsOf(second);
      stopped.pause([{ topic }]);
      try {
        await submitAll(s.intakeClient, md, commands.slice(half));
        await eventually(
          async () => ((await checkHealth(other.address)) === 'NOT_SERVING' ? true : undefined),
          { timeoutMs: 30_000, intervalMs: 250, what: 'the stopped scorer NOT_SERVING' },
        );
        expect(other.readiness.failing.get('consumer')).toMatch(
          /^\d+ messages wait on this instance's partitions and none was applied for \d+ s$/,
        );
        // The other, idle with its own partitions applied longer than the
        // stall, stays SERVING, whatever waits on the stopped one's.
        await new Promise((r) => setTimeout(r, 2 * STALL_MS));
        expect(await checkHealth(s.scoring.address)).toBe('SERVING');
        expect(s.scoring.readiness.failing.get('consumer')).toBeUndefined();
      } finally {
        stopped.resume([{ topic }]);
      }
      await eventually(
        async () => ((await checkHealth(other.address)) === 'SERVING' ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 250, what: 'the stopped scorer SERVING again' },
      );
    } finally {
      await other.stop();
    }
    await caughtUp(s, reader, 2023, new Date());
  }, 180_000);
});
