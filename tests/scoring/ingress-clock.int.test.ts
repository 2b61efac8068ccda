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
  // The last receipt of each submission (one read again after an instance
  // stopped is answered again, as a duplicate).
  const receipts = new Map<number, intake.SubmitEventsResponse>();
  const ours = new Set(commands.map(caseOf));
  const consumer = kafka.consumer({ groupId: uniqueName('receipts') });
  await consumer.connect();
  await consumer.subscribe({ topic: s.topics.intakeReceipts, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value)));
      // This year's only: the topic holds the system's earlier loads too.
      if (ours.has(r.caseId)) receipts.set(r.sequence, r);
    },
  });
  const answered = (n: number) =>
    eventually(() => (receipts.size >= n ? true : undefined), {
      timeoutMs: 300_000,
      what: `${n} submissions answered`,
    });
  const producer = kafka.producer();
  await producer.connect();
  const publish = async (from: number, to: number) => {
    for (let i = from; i < to; i += 200)
      await producer.send({
        topic: s.topics.intakeSubmissions,
        messages: commands.slice(i, Math.min(i + 200, to)).map((command, j) => ({
          key: keyOf(command),
          value: JSON.stringify(
            intake.SubmitEventsRequest.toJSON({ sequence: i + j + 1, command }),
          ),
          headers: { authorization: bearer },
        })),
      });
  };
  const half = Math.floor(commands.length / 2);
  if (halfway) {
    await publish(0, half);
    await answered(Math.floor(half / 2));
    await halfway();
    await publish(half, commands.length);
  } else await publish(0, commands.length);
  await producer.disconnect();
  await answered(commands.length);
  await consumer.disconnect();
  expect(
    [...receipts.values()].filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`),
  ).toEqual([]);

  // Before the ingress gave floors and marks, it stored one partition's
  // May before another's April and said each was stored up to its time:
  // cases concluded in time had OVERDUE orders.
  await expectEndOfLoad(s, md, commands);
}
