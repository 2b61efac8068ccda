import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { stack, uniqueName } from '@enforcement/testing';
import { fullLoop } from '../test-support/commands.js';
import {
  consumeTopic,
  startIntake,
  tokenFor,
  unary,
  type TestIntake,
} from '../test-support/harness.js';

interface CheckpointRecord {
  caseId: string;
  version: number;
  headHash: string;
}

/**
 * The checkpoints topic is compacted to each case's last record, so that
 * record must be the case's highest head. An instance that publishes an older
 * head after a newer one (it swept a crashed instance's commit before it had
 * read its successors' heads) would leave a restarted instance checking the
 * case against less: every instance that reads such a record publishes the
 * highest again, and one that starts does so for what the topic's end left
 * lowered before it serves.
 */
describe('the checkpoints topic ends each case at its highest head', () => {
  const running: TestIntake[] = [];
  let agency: Metadata;
  const kafka = new Kafka({
    clientId: 'test-stale-head',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer();
  beforeAll(async () => {
    agency = await tokenFor(['agency'], ['lz-eeb']);
    await producer.connect();
  });
  afterAll(async () => {
    for (const svc of running) await svc.stop().catch(() => undefined);
    await producer.disconnect();
  });

  const recordsOf = (topic: string, caseId: string, until: (versions: number[]) => boolean) =>
    consumeTopic(
      topic,
      (m) => JSON.parse(String(m.value)) as CheckpointRecord,
      (seen) => until(seen.filter((r) => r.caseId === caseId).map((r) => r.version)),
    ).then((seen) => seen.filter((r) => r.caseId === caseId));

  it('an older head published late is answered with the highest, by every running instance and by one that starts', async () => {
    const a = await startIntake();
    running.push(a);
    const b = await startIntake({ db: a.db, topics: a.topics });
    running.push(b);
    const topic = a.topics.caseCheckpoints;
    const loop = fullLoop(uniqueName('stale'));
    const caseId = loop.register.meta.caseId;
    await unary((cb) => a.client.registerCase(loop.register, agency, cb));
    await unary((cb) => b.client.dispatchCase(loop.dispatch, agency, cb));
    await unary((cb) => a.client.recordProgress(loop.evidence, agency, cb));
    await a.service.relay.drain();
    await b.service.relay.drain();
    const head = (await a.service.store.load(caseId)).events.at(-1);
    const first = (await a.service.store.load(caseId)).events[0];
    expect(head?.version).toBe(3);
    // Each commit's head once, in order: nothing republished while nothing was lowered.
    const published = await recordsOf(topic, caseId, (v) => v.includes(3));
    expect(published.map((r) => r.version)).toEqual([1, 2, 3]);

    // Version 1's head, valid under the chain key, as a late sweep would publish it.
    const stale: Message = a.service.checkpoints.message({
      caseId,
      version: 1,
      headHash: first?.hash ?? '',
    });
    await producer.send({ topic, acks: -1, messages: [stale] });
    // Both instances answer it with version 3 (its hash), and then nothing more is lowered.
    const answered = await recordsOf(topic, caseId, (v) => v.length >= 6);
    expect(answered.map((r) => r.version)).toEqual([1, 2, 3, 1, 3, 3]);
    expect(answered.at(-1)?.headHash).toBe(head?.hash);

    // Lowered again while no instance runs: the next one mends it before it serves.
    await a.stop();
    await b.stop();
    await producer.send({ topic, acks: -1, messages: [stale] });
    const c = await startIntake({ db: a.db, topics: a.topics });
    running.push(c);
    const mended = await recordsOf(topic, caseId, (v) => v.length >= 8);
    expect(mended.map((r) => r.version)).toEqual([1, 2, 3, 1, 3, 3, 1, 3]);
    expect(mended.at(-1)?.headHash).toBe(head?.hash);
    expect(c.service.checkpoints.get(caseId)?.version).toBe(3);
  });
});
