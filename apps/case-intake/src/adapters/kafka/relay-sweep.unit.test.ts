import { describe, expect, it } from 'vitest';
import type { Kafka, Message, RecordMetadata } from 'kafkajs';
import type { Commit } from '../../application/ports.js';
import { commitOf } from '../mongo/commits.test-support.js';
import type { MongoEventStore, PendingCommit } from '../mongo/event-store.js';
import { KafkaRelay } from './relay.js';
import { relayOptions } from './relay.test-support.js';

const commit = (caseId: string): Commit => commitOf(caseId, 1, 1);

const tick = () => new Promise((r) => setTimeout(r, 5));

/**
 * A relay over a scripted outbox whose reads and deletes wait until the test
 * lets them go, sweeping as often as it can: what goes to the broker is
 * logged, a case's key for each of its records.
 */
function scripted() {
  const sent: string[] = [];
  const outbox = new Map<string, Commit>();
  const reads: { go: () => void }[] = [];
  const deletes: { go: () => void }[] = [];
  const sends: { go: () => void }[] = [];
  const state = { holdReads: false, holdDeletes: false, holdSends: false, failDeletes: 0 };
  const wait = (held: { go: () => void }[], hold: boolean) =>
    hold ? new Promise<void>((go) => held.push({ go })) : Promise.resolve();
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async (b: { topicMessages: { topic: string; messages: Message[] }[] }) => {
      await wait(sends, state.holdSends);
      const answers: RecordMetadata[] = [];
      for (const t of b.topicMessages) {
        if (t.topic === 'case-events') sent.push(...t.messages.map((m) => String(m.key)));
        answers.push({ topicName: t.topic, partition: 0, errorCode: 0 });
      }
      return answers;
    },
    send: async (r: { topic: string }) => [{ topicName: r.topic, partition: 0, errorCode: 0 }],
  };
  const store = {
    parkedCases: async () => [],
    parkedCommits: async () => [],
    // What the outbox holds when the read begins, answered when let go.
    pending: async (): Promise<PendingCommit[]> => {
      const now = [...outbox.values()].map((c) => ({ commit: c }) as PendingCommit);
      await wait(reads, state.holdReads);
      return now;
    },
    published: async (commits: readonly Commit[]) => {
      await wait(deletes, state.holdDeletes);
      if (state.failDeletes > 0 && state.failDeletes--) throw new Error('store away');
      for (const c of commits) outbox.delete(c.caseId);
    },
    park: async () => undefined,
  };
  const kafka = {
    producer: (o: { createPartitioner: () => unknown }) => {
      o.createPartitioner();
      return producer;
    },
  };
  const relay = new KafkaRelay(
    kafka as unknown as Kafka,
    store as unknown as MongoEventStore,
    relayOptions({ sweepAfterMs: 0, sweepEveryMs: 1 }),
  );
  /** A command stored: in the outbox, and handed to the relay. */
  const store1 = (caseId: string) => {
    const c = commit(caseId);
    outbox.set(caseId, c);
    relay.enqueue(c);
  };
  const release = (held: { go: () => void }[]) => {
    for (const h of held.splice(0)) h.go();
  };
  return { relay, sent, state, store1, reads, deletes, sends, release };
}

describe("the relay's sweep", () => {
  it('sends nothing again whose outbox entry is being removed while it reads', async () => {
    const s = scripted();
    await s.relay.start();
    s.state.holdDeletes = true;
    s.store1('c1');
    s.store1('c2');
    // Sweeps read the outbox again and again while the deletes wait.
    for (let i = 0; i < 20; i++) await tick();
    expect(s.deletes.length).toBeGreaterThan(0);
    s.state.holdDeletes = false;
    s.release(s.deletes);
    for (let i = 0; i < 10; i++) await tick();
    await s.relay.stop();
    expect(s.sent).toEqual(['c1', 'c2']);
  });

  it('sends nothing again that was published and removed after it began to read', async () => {
    const s = scripted();
    await s.relay.start();
    // Sweeps begin to read while the commit is still in the outbox, on its way…
    s.state.holdSends = true;
    s.state.holdReads = true;
    s.store1('c1');
    await tick();
    expect(s.reads.length).toBeGreaterThan(0);
    // …it is published and its entry removed meanwhile…
    s.state.holdSends = false;
    s.release(s.sends);
    await s.relay.drain();
    expect(s.sent).toEqual(['c1']);
    // …and the reads answer with what they found.
    s.state.holdReads = false;
    s.release(s.reads);
    for (let i = 0; i < 10; i++) await tick();
    await s.relay.stop();
    expect(s.sent).toEqual(['c1']);
  });

  it('sends again what a delete failed to remove, once', async () => {
    const s = scripted();
    await s.relay.start();
    // The delete is lost (the store went away): the entry stays, and a sweep publishes it again.
    s.state.failDeletes = 1;
    s.store1('c1');
    for (let i = 0; i < 20; i++) await tick();
    await s.relay.stop();
    expect(s.sent).toEqual(['c1', 'c1']);
  });
});
