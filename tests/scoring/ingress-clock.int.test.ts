import { afterAll, describe, expect, it } from 'vitest';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { stack, tokenFor, uniqueName } from '@enforcement/testing';
import { expectEndOfLoad } from '../support/end-of-load.js';
import { ingressFeed } from '../support/ingress-feed.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

/**
 * Agencies that publish to the submissions topic instead of calling
 * SubmitEvents, keyed as a producer would key them (by case; a review under
 * the case it challenges), so one agency's feed is spread over every
 * partition, and intake reads the partitions apart.
 */
describe('a year loaded through the Kafka ingress (RULES_CLOCK=events)', () => {
  let sys: WholeSystem | undefined;
  afterAll(() => sys?.stop());

  const system = async () =>
    (sys ??= await startWholeSystem({
      rulesTickMs: 500,
      intakeEnv: { INGRESS_ENABLED: 'true' },
      scoringEnv: { RULES_CLOCK: 'events' },
    }));

  it('judges every agency up to its latest event and takes every action the plan dates before it, no other, from submissions keyed by case that two intakes read', async () => {
    const s = await system();
    // A second instance in the ingress's group: the partitions are shared.
    const beside = await s.startIntakeBeside();
    try {
      await loadAndCheck(s, 2021);
    } finally {
      await beside.stop();
    }
  });

  it('does so too when one of the two stops halfway and the other takes its partitions', async () => {
    // A later year on the same system: each agency's latest event is this year's.
    const s = await system();
    const beside = await s.startIntakeBeside();
    try {
      await loadAndCheck(s, 2022, () => beside.stop());
    } finally {
      await beside.stop();
    }
  });
});

/**
 * Publishes a generated year to the submissions topic, waits for a receipt
 * of every submission, and checks the rules' clock and actions. `halfway`
 * runs once half the year is answered, before the rest is published.
 */
async function loadAndCheck(
  s: WholeSystem,
  year: number,
  halfway?: () => Promise<void>,
): Promise<void> {
  const md = await tokenFor(['agency', 'supervisor'], ['*']);
  const bearer = String(md.get('authorization')[0]);
  const commands = [
    ...generateYear({
      seed: 'ingress-clock',
      year,
      cases: 150,
      reconsideration: reconsiderationsOf(40),
      prefix: uniqueName('IC'),
    }).stream(),
  ];
  const feed = await ingressFeed({
    brokers: stack().kafkaBrokers,
    topics: s.topics,
    commands,
    bearer,
    group: uniqueName('receipts'),
  });
  const half = Math.floor(commands.length / 2);
  try {
    if (halfway) {
      await feed.publish(0, half);
      await feed.answered(Math.floor(half / 2), 300_000);
      await halfway();
      await feed.publish(half, commands.length);
    } else await feed.publish();
    await feed.answered(commands.length, 300_000);
  } finally {
    await feed.close();
  }
  expect(
    [...feed.receipts.values()].filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`),
  ).toEqual([]);

  // Before the ingress gave floors and marks, it stored one partition's
  // May before another's April and said each was stored up to its time:
  // cases concluded in time had OVERDUE orders.
  await expectEndOfLoad(s, md, commands);
}
