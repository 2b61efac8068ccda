import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { namespaced } from '@enforcement/messaging';
import { eventually, serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { startService, type ServiceProcess } from '../bench/processes.js';
import { loop } from '../support/loop.js';
import { submitAll } from '../support/submit.js';

const FLOOD = 200;

/**
 * One agency's client sends 200 registrations of 3.9 MB each at once (each
 * within the 4 MiB a request may be). Intake decoded every one it received,
 * and at its image's heap limit (384 MiB) the process died of it, taking
 * every other caller's calls with it. Now it holds at most
 * REQUEST_BYTES_IN_FLIGHT (64 MiB) of requests and answers the rest
 * UNAVAILABLE undecoded.
 */
describe('a client that sends more large requests at once than intake can hold', () => {
  let svc: ServiceProcess | undefined;
  let client: intake.CaseIntakeServiceClient;
  const run = uniqueName('flood');

  beforeAll(async () => {
    svc = await startService('case-intake', {
      ...serviceEnv(run),
      TOPIC_NAMESPACE: run,
      MONGODB_DB: `${run.replace(/-/g, '_')}_intake`,
    });
    client = new intake.CaseIntakeServiceClient(svc.address, credentials.createInsecure(), {
      'grpc.max_send_message_length': 8 * 1024 * 1024,
    });
  }, 60_000);
  afterAll(async () => {
    client?.close();
    await svc?.stop();
  });

  /** The loop's registration with this title, under one command id per case (sent again as it was). */
  const registration = (caseId: string, title: string): intake.RegisterCaseRequest => {
    const { register } = loop(caseId, new Date());
    return { ...register, meta: { commandId: `register-${caseId}`, caseId }, title };
  };

  const outcome = (call: Promise<unknown>) =>
    call.then(
      () => 'stored',
      (e: { code: number; details: string }) => `${e.code} ${e.details.split(':')[0]}`,
    );

  it('stays up at its heap limit, answering each request: refused for its size, or UNAVAILABLE to send again', async () => {
    const md = await tokenFor(['agency'], ['lz-eeb']);
    const huge = '超'.repeat(1_300_000);
    const answers = await Promise.all(
      Array.from({ length: FLOOD }, (_, i) =>
        outcome(unary((cb) => client.registerCase(registration(`${run}-huge-${i}`, huge), md, cb))),
      ),
    );
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
    // Each is larger than an event may be (MAX_EVENT_BYTES), or was not taken.
    expect([...counts.keys()]).toContain(`${status.INVALID_ARGUMENT} FIELD.TOO_LARGE`);
    for (const key of counts.keys())
      expect([
        `${status.INVALID_ARGUMENT} FIELD.TOO_LARGE`,
        `${status.UNAVAILABLE} REQUEST.BUSY`,
      ]).toContain(key);
    // And it still serves: a case of ordinary size is stored.
    await unary((cb) => client.registerCase(registration(`${run}-after`, '超标排放'), md, cb));
    expect(svc?.running()).toBe(true);
  }, 120_000);

  it('stores every large request it turned away once it is sent again, each once, and publishes them all', async () => {
    const md = await tokenFor(['agency'], ['lz-eeb']);
    const large = '超'.repeat(200_000);
    const ids = Array.from({ length: 120 }, (_, i) => `${run}-large-${i}`);
    let turnedAway = 0;
    await Promise.all(
      ids.map(async (id) => {
        for (let attempt = 0; attempt < 200; attempt++) {
          const a = await outcome(
            unary((cb) => client.registerCase(registration(id, large), md, cb)),
          );
          if (a === 'stored') return;
          expect(a).toBe(`${status.UNAVAILABLE} REQUEST.BUSY`);
          turnedAway++;
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        }
        throw new Error(`${id} was turned away 200 times`);
      }),
    );
    expect(svc?.running()).toBe(true);
    for (const caseId of [ids[0], ids.at(-1)]) {
      const got = await unary<intake.GetCaseResponse>((cb) =>
        client.getCase({ caseId: caseId ?? '' }, md, cb),
      );
      expect(got.history).toHaveLength(1);
    }
    console.log(
      `120 registrations of 600 kB: ${turnedAway} answers REQUEST.BUSY before each was stored`,
    );
    // Each event fits the topic, so each is published. A send of many such
    // events was refused for one partition (its record batch over the
    // topic's max.message.bytes), and every send after it was refused out of
    // order: 13 of the 120 reached the topic.
    const admin = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topic = namespaced(run).caseEvents;
      await eventually(
        async () => {
          const offsets = await admin.fetchTopicOffsets(topic);
          const published = offsets.reduce((n, o) => n + Number(o.high), 0);
          return published >= ids.length ? published : undefined;
        },
        { timeoutMs: 60_000, what: `the 120 registrations on ${topic}` },
      );
    } finally {
      await admin.disconnect();
    }
  }, 180_000);

  it('takes a stream of large items in its order, reading it as the requests held leave room: every one stored', async () => {
    const md = await tokenFor(['agency'], ['lz-eeb']);
    const large = '超'.repeat(200_000);
    const ids = Array.from({ length: 150 }, (_, i) => `${run}-streamed-${i}`);
    const acks = await submitAll(
      client,
      md,
      ids.map((id) => ({ kind: { $case: 'registerCase', value: registration(id, large) } })),
    );
    expect(svc?.running()).toBe(true);
    expect(acks.filter((a) => !a.accepted)).toEqual([]);
    expect(acks).toHaveLength(ids.length);
  }, 180_000);
});
