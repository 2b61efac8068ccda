import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake } from '@enforcement/contracts';
import { ensureTopics, namespaced } from '@enforcement/messaging';
import { eventually, lapsingToken, stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from './test-support/commands.js';
import { startIntake, tokenFor, unary } from './test-support/harness.js';

const kafka = () =>
  new Kafka({ clientId: 'agency-feed', brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });

const json = (command: intake.Command, sequence: number) =>
  JSON.stringify(intake.SubmitEventsRequest.toJSON({ sequence, command }));

/** A registration of `caseId` as an agency's feed queues it, with its token and, maybe, a time it claims. */
const registration = (caseId: string, sequence: number, bearer: string, timestamp?: number) => ({
  key: caseId,
  value: json({ kind: { $case: 'registerCase', value: fullLoop(caseId).register } }, sequence),
  headers: { authorization: bearer },
  ...(timestamp === undefined ? {} : { timestamp: String(timestamp) }),
});

async function queue(topic: string, messages: ReturnType<typeof registration>[]): Promise<void> {
  const producer = kafka().producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
}

/** A token that expired five minutes ago, issued a quarter of an hour ago. */
async function expiredToken(): Promise<{ bearer: string; validAtMs: number }> {
  const exp = Math.floor(Date.now() / 1000) - 300;
  const token = await mintDevToken(DEV_AUTH, {
    subject: 'old-feed',
    roles: ['agency'],
    agencies: ['lz-eeb'],
    expiresIn: exp,
  });
  return { bearer: `Bearer ${token}`, validAtMs: (exp - 60) * 1000 };
}

async function receipts(topic: string, n: number): Promise<intake.SubmitEventsResponse[]> {
  const consumer = kafka().consumer({ groupId: uniqueName('receipts') });
  const got: intake.SubmitEventsResponse[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value))));
    },
  });
  await eventually(() => (got.length >= n ? true : undefined), {
    timeoutMs: 30_000,
    what: `${n} receipts on ${topic}`,
  });
  await consumer.disconnect();
  return [...got].sort((a, b) => a.sequence - b.sequence);
}

/**
 * Agencies keep queueing on the submissions topic while intake is down.
 * Each submission's token is judged as of when the broker took it, a time
 * the producer cannot write; on a topic that keeps producers' times, as of
 * when intake reads it.
 */
describe('the Kafka ingress after an outage', () => {
  it('takes what was queued while its token was valid, however long intake was down, and refuses a token expired when queued, whatever time its producer wrote', async () => {
    const first = await startIntake();
    const { db, topics } = first;
    await first.stop();

    // Intake is down. Valid for 3 s more when queued (its exp is already
    // within the 30 s of skew tolerated), and read long after.
    const lapsing = await lapsingToken(['agency'], ['lz-eeb'], 3);
    const expired = await expiredToken();
    const queued = uniqueName('queued');
    const late = uniqueName('late');
    const forged = uniqueName('forged');
    await queue(topics.intakeSubmissions, [
      registration(queued, 1, lapsing.md.get('authorization')[0] as string),
      registration(late, 2, expired.bearer),
      // A producer claiming a time when the token was still valid.
      registration(forged, 3, expired.bearer, expired.validAtMs),
    ]);
    await new Promise((r) => setTimeout(r, lapsing.validUntil + 1_000 - Date.now()));

    const again = await startIntake({ db, topics });
    try {
      const [one, two, three] = await receipts(topics.intakeReceipts, 3);
      expect(one).toMatchObject({ sequence: 1, accepted: true, caseId: queued, version: 1 });
      for (const refused of [two, three])
        expect(refused).toMatchObject({
          accepted: false,
          errorCode: 'AUTH.UNAUTHENTICATED',
          reason: expect.stringContaining('token had expired when the submission was queued'),
        });
      const md = await tokenFor(['supervisor'], []);
      const got = await unary<intake.GetCaseResponse>((cb) =>
        again.client.getCase({ caseId: queued }, md, cb),
      );
      expect(got.case?.version).toBe(1);
      for (const caseId of [late, forged])
        await expect(unary((cb) => again.client.getCase({ caseId }, md, cb))).rejects.toMatchObject(
          { details: expect.stringContaining('CASE.NOT_FOUND') },
        );
    } finally {
      await again.stop();
    }
  });

  it('on a topic that keeps producers’ times, judges each token when it reads it: a time the producer wrote counts for nothing', async () => {
    const topics = namespaced(uniqueName('ingress-create-time'));
    // Made before intake, as an older version of it did: producers' times.
    await ensureTopics(kafka(), [{ topic: topics.intakeSubmissions, numPartitions: 1 }]);
    const svc = await startIntake({ topics });
    try {
      const expired = await expiredToken();
      const valid = (await tokenFor(['agency'], ['lz-eeb'])).get('authorization')[0] as string;
      const forged = uniqueName('forged');
      const fresh = uniqueName('fresh');
      await queue(topics.intakeSubmissions, [
        registration(forged, 1, expired.bearer, expired.validAtMs),
        registration(fresh, 2, valid),
      ]);
      const [one, two] = await receipts(topics.intakeReceipts, 2);
      expect(one).toMatchObject({
        sequence: 1,
        accepted: false,
        errorCode: 'AUTH.UNAUTHENTICATED',
        reason: 'token expired: get a new one',
      });
      expect(two).toMatchObject({ sequence: 2, accepted: true, caseId: fresh });
    } finally {
      await svc.stop();
    }
  });
});
