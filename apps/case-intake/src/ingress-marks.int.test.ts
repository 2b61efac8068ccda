import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import { decodeFeedMark, type FeedMark } from '@enforcement/messaging';
import { stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import { consumeTopic, startIntake, tokenFor } from './test-support/harness.js';

const kafka = () =>
  new Kafka({ clientId: 'agency-feed', brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });

const DAY = 86_400_000;

/** Registrations of `n` cases of one agency, a day apart, keyed by case (spread over the partitions). */
function registrations(n: number, bearer: string, start: Date) {
  return Array.from({ length: n }, (_, i) => {
    const caseId = uniqueName(`feed-${i}`);
    const at = new Date(start.getTime() + i * DAY);
    const register = fullLoop(caseId, 'lz-eeb', at).register;
    return {
      at: at.getTime(),
      message: {
        key: caseId,
        value: JSON.stringify(
          intake.SubmitEventsRequest.toJSON({
            sequence: i + 1,
            command: { kind: { $case: 'registerCase', value: register } },
          }),
        ),
        headers: { authorization: bearer },
      },
    };
  });
}

async function marksOn(topic: string): Promise<number> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * An intake that stores an agency's last submissions from the Kafka ingress
 * and stops before it marks the feed (here: it would mark only after an
 * hour) leaves the feed to whichever instance reads those partitions next.
 * That one has nothing left to read there; the ledger tells it what was
 * stored, and it marks the feed. Before, nothing did: under the event clock
 * the agency's last actions were never taken (docs/intake.md).
 */
describe("the Kafka ingress's marks", () => {
  it('are given by the instance that reads the partitions next when the one that stored the feed stops before marking it', async () => {
    const group = uniqueName('ingress-marks');
    const first = await startIntake({
      env: { KAFKA_CLIENT_ID: group, INGRESS_MARK_EVERY_MS: String(3_600_000) },
    });
    const { db, topics } = first;
    const bearer = (await tokenFor(['agency'], ['lz-eeb'])).get('authorization')[0] as string;
    const year = registrations(12, bearer, new Date(Date.now() - 60 * DAY));
    const latest = Math.max(...year.map((r) => r.at));
    let next: Awaited<ReturnType<typeof startIntake>> | undefined;
    try {
      const producer = kafka().producer();
      await producer.connect();
      await producer.send({
        topic: topics.intakeSubmissions,
        messages: year.map((r) => r.message),
      });
      await producer.disconnect();
      const receipts = await consumeTopic(
        topics.intakeReceipts,
        (m) => intake.SubmitEventsResponse.fromJSON(JSON.parse(String(m.value))),
        (seen) => seen.length >= year.length,
      );
      expect(receipts.filter((r) => r.accepted)).toHaveLength(year.length);
      expect(await marksOn(topics.feedMarks)).toBe(0);
      await first.stop();

      next = await startIntake({ db, topics, env: { KAFKA_CLIENT_ID: group } });
      const marks = await consumeTopic(
        topics.feedMarks,
        (m) => decodeFeedMark(m.value),
        (seen) => seen.some((m) => typeof m !== 'string' && m.before >= latest),
      );
      const feed = marks.filter((m): m is FeedMark => typeof m !== 'string');
      expect(feed.map((m) => m.feed)).toEqual(feed.map(() => expect.stringMatching(/^lz-eeb\|/)));
      expect(Math.max(...feed.map((m) => m.before))).toBe(latest);
    } finally {
      await first.stop().catch(() => undefined);
      await next?.stop();
    }
  });
});
