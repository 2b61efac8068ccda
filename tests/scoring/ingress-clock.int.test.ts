import { afterAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { eventually, stack, tokenFor, uniqueName } from '@enforcement/testing';
import { caseOf, expectEndOfLoad } from '../support/end-of-load.js';
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

  it('judges every agency up to its latest event and takes every action the plan dates before it, no other, from submissions keyed by case that two intakes read', async () => {
    sys = await startWholeSystem({
      rulesTickMs: 500,
      intakeEnv: { INGRESS_ENABLED: 'true' },
      scoringEnv: { RULES_CLOCK: 'events' },
    });
    const s = sys;
    // A second instance in the ingress's group: the partitions are shared.
    const beside = await s.startIntakeBeside();
    try {
      await loadAndCheck(s);
    } finally {
      await beside.stop();
    }
  });
});

/** Publishes a generated year to the submissions topic, waits for every receipt, and checks the rules' clock and actions. */
async function loadAndCheck(s: WholeSystem): Promise<void> {
  const md = await tokenFor(['agency', 'supervisor'], ['*']);
  const bearer = String(md.get('authorization')[0]);
  const commands = [
    ...generateYear({
      seed: 'ingress-clock',
      year: 2021,
      cases: 150,
      reconsideration: reconsiderationsOf(40),
      prefix: uniqueName('IC'),
    }).stream(),
  ];
  const kafka = new Kafka({
    clientId: 'agency-feed',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  // A review's commands go under the case it challenges: what depends on
  // each other shares a key, so the ingress takes it in order.
  const challenged = new Map<string, string>();
  for (const c of commands)
    if (c.kind?.$case === 'fileReconsideration')
      challenged.set(caseOf(c), c.kind.value.enforcementCaseId);
  const keyOf = (c: intake.Command) => challenged.get(caseOf(c)) ?? caseOf(c);
  const producer = kafka.producer();
  await producer.connect();
  for (let i = 0; i < commands.length; i += 200)
    await producer.send({
      topic: s.topics.intakeSubmissions,
      messages: commands.slice(i, i + 200).map((command, j) => ({
        key: keyOf(command),
        value: JSON.stringify(intake.SubmitEventsRequest.toJSON({ sequence: i + j + 1, command })),
        headers: { authorization: bearer },
      })),
    });
  await producer.disconnect();
  const receipts: intake.SubmitEventsResponse[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('receipts') });
  await consumer.connect();
  await consumer.subscribe({ topic: s.topics.intakeReceipts, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      receipts.push(intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value))));
    },
  });
  await eventually(() => (receipts.length >= commands.length ? true : undefined), {
    timeoutMs: 300_000,
    what: `${commands.length} receipts`,
  });
  await consumer.disconnect();
  expect(receipts.filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`)).toEqual([]);

  // Before the ingress gave floors and marks, it stored one partition's
  // May before another's April and said each was stored up to its time:
  // cases concluded in time had OVERDUE orders.
  await expectEndOfLoad(s, md, commands);
}
