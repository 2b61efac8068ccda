import { describe, expect, it, vi } from 'vitest';
import type { Kafka, Message } from 'kafkajs';
import { events } from '@enforcement/contracts';
import type { Commit } from '../../application/ports.js';
import type { MongoEventStore } from '../mongo/event-store.js';
import { KafkaRelay } from './relay.js';

/**
 * The part of kafkajs the relay uses, scripted: the case-events request
 * waits until the test lets it through; what reaches the broker is logged
 * in order.
 */
function scripted() {
  const log: string[] = [];
  const held: (() => void)[] = [];
  const state = { hold: true, refuse: 0 };
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async (b: { topicMessages: { topic: string; messages: Message[] }[] }) => {
      if (state.hold) await new Promise<void>((r) => held.push(r));
      log.push(`events ${b.topicMessages[0]?.messages.map((m) => String(m.key)).join(',')}`);
    },
    send: async (r: { topic: string; messages: Message[] }) => {
      if (state.refuse > 0) {
        state.refuse--;
        log.push('refused');
        throw new Error('There is no leader for this topic-partition');
      }
      log.push(`${r.topic} ${r.messages.map((m) => String(m.key)).join(',')}`);
    },
  };
  const store = { published: async () => undefined, park: async () => undefined };
  const relay = new KafkaRelay(
    { producer: () => producer } as unknown as Kafka,
    store as unknown as MongoEventStore,
    {
      topic: 'case-events',
      marksTopic: 'marks',
      checkpoints: {
        topic: 'heads',
        message: () => ({ value: '' }),
        note: () => undefined,
        get: () => undefined,
      },
      batchSize: 10,
      sweepAfterMs: 60_000,
      sweepEveryMs: 60_000,
    },
  );
  const letThrough = () => {
    state.hold = false;
    for (const r of held.splice(0)) r();
  };
  return { relay, log, letThrough, state };
}

const commit = (caseId: string): Commit => ({
  caseId,
  commandId: `${caseId}:1`,
  fingerprint: '',
  fromVersion: 1,
  toVersion: 1,
  events: [events.CaseEvent.fromPartial({ caseId, version: 1, eventId: `${caseId}:1` })],
});
const settle = () => new Promise((r) => setTimeout(r, 20));

describe("the relay's feed marks", () => {
  it('go only once the commits queued before them are on the case-events topic', async () => {
    const { relay, log, letThrough } = scripted();
    relay.enqueue(commit('c1'));
    relay.mark([{ feed: 'lz-eeb|1', before: 100 }]);
    await settle();
    expect(log).toEqual([]);
    letThrough();
    await relay.drain();
    await settle();
    expect(log).toEqual(['events c1', 'marks lz-eeb|1']);
  });

  it('are sent again while Kafka refuses them (a broker lost)', async () => {
    const { relay, log, state } = scripted();
    state.refuse = 2;
    relay.mark([{ feed: 'lz-eeb|1', before: 100 }]);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(log).toEqual(['refused', 'refused', 'marks lz-eeb|1']);
  });

  it('go at once when nothing is queued, and not at all once the relay is aborted', async () => {
    const { relay, log } = scripted();
    relay.mark([{ feed: 'lz-eeb|1', before: 100 }]);
    await settle();
    expect(log).toEqual(['marks lz-eeb|1']);
    relay.enqueue(commit('c2'));
    relay.mark([{ feed: 'lz-psb|1', before: 200 }]);
    await relay.abort();
    await settle();
    expect(log).toEqual(['marks lz-eeb|1']);
  });
});

describe("the relay's readiness", () => {
  it('fails once a send has had no answer for 10 s (a broker that stopped answering), and passes once it has one', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const { relay, letThrough } = scripted();
      relay.enqueue(commit('c1'));
      await settle();
      expect(relay.health()).toBe(true);
      vi.setSystemTime(Date.now() + 9_999);
      expect(relay.health()).toBe(true);
      vi.setSystemTime(Date.now() + 1);
      expect(relay.health()).toBe('publication to Kafka unanswered for 10 s, 1 commits waiting');
      letThrough();
      await relay.drain();
      expect(relay.health()).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});
