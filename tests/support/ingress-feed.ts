import { Kafka, logLevel } from 'kafkajs';
import { intake } from '@enforcement/contracts';
import type { TopicNames } from '@enforcement/messaging';

const caseOf = (c: intake.Command): string => c.kind?.value.meta?.caseId ?? '';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Agencies' submissions to intake's Kafka ingress, and the receipts that answer them. */
export interface IngressFeed {
  /** Publishes `commands[from, to)`, each with its place in the list (from 1) as its sequence. */
  publish(from?: number, to?: number): Promise<void>;
  /** Waits until `n` submissions have a receipt (or `timeoutMs` passes, and throws). */
  answered(n: number, timeoutMs: number): Promise<void>;
  /** The last receipt of each submission, by sequence (one read again after an instance stopped is answered again, as a duplicate). */
  readonly receipts: ReadonlyMap<number, intake.SubmitEventsResponse>;
  close(): Promise<void>;
}

/**
 * Publishes commands to the submissions topic as an agency's producer would:
 * keyed by case, a review under the case it challenges (what depends on each
 * other shares a key, since Kafka keeps order only within a partition), with
 * `bearer` in the `authorization` header; and reads the receipts topic from
 * its start, keeping those of these commands' cases (the topic may hold
 * earlier loads too).
 */
export async function ingressFeed(o: {
  brokers: string[];
  topics: Pick<TopicNames, 'intakeSubmissions' | 'intakeReceipts'>;
  commands: readonly intake.Command[];
  bearer: string;
  /** A consumer group of its own for the receipts. */
  group: string;
}): Promise<IngressFeed> {
  const { commands } = o;
  const kafka = new Kafka({
    clientId: 'agency-feed',
    brokers: o.brokers,
    logLevel: logLevel.NOTHING,
  });
  const challenged = new Map<string, string>();
  for (const c of commands)
    if (c.kind?.$case === 'fileReconsideration')
      challenged.set(caseOf(c), c.kind.value.enforcementCaseId);
  const keyOf = (c: intake.Command) => challenged.get(caseOf(c)) ?? caseOf(c);
  const receipts = new Map<number, intake.SubmitEventsResponse>();
  const ours = new Set(commands.map(caseOf));
  const consumer = kafka.consumer({ groupId: o.group });
  const producer = kafka.producer();
  await consumer.connect();
  await consumer.subscribe({ topic: o.topics.intakeReceipts, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const r = intake.SubmitEventsResponse.fromJSON(JSON.parse(String(message.value)));
      if (ours.has(r.caseId)) receipts.set(r.sequence, r);
    },
  });
  await producer.connect();
  return {
    receipts,
    publish: async (from = 0, to = commands.length) => {
      for (let i = from; i < to; i += 200)
        await producer.send({
          topic: o.topics.intakeSubmissions,
          messages: commands.slice(i, Math.min(i + 200, to)).map((command, j) => ({
            key: keyOf(command),
            value: JSON.stringify(
              intake.SubmitEventsRequest.toJSON({ sequence: i + j + 1, command }),
            ),
            headers: { authorization: o.bearer },
          })),
        });
    },
    answered: async (n, timeoutMs) => {
      const until = Date.now() + timeoutMs;
      while (receipts.size < n) {
        if (Date.now() > until)
          throw new Error(`${receipts.size} of ${n} submissions answered in ${timeoutMs} ms`);
        await sleep(200);
      }
    },
    close: async () => {
      await producer.disconnect();
      await consumer.disconnect();
    },
  };
}
