import { describe, expect, it, vi } from 'vitest';
import type { ICustomPartitioner, Kafka, Message, PartitionerArgs, RecordMetadata } from 'kafkajs';
import { events } from '@enforcement/contracts';
import { partitionMetadata } from '@enforcement/messaging';
import type { Commit } from '../../application/ports.js';
import type { MongoEventStore } from '../mongo/event-store.js';
import { KafkaRelay } from './relay.js';
import { relayOptions } from './relay.test-support.js';

/** Partitions of every topic in the scripted kafkajs. */
const PARTITIONS = partitionMetadata(12, 1);

/**
 * The part of kafkajs the relay uses, scripted: the case-events request
 * waits until the test lets it through; what reaches the broker is logged
 * in order. Each send is answered as kafkajs does, a record per partition
 * written, placed by the producer's own partitioner; `lose` leaves that
 * many case-events sends' first partition out of their answer, as kafkajs
 * 2.2.4 does when a partition's leader moved while a request timed out.
 */
function scripted() {
  const log: string[] = [];
  const held: (() => void)[] = [];
  const state = { hold: true, refuse: 0, lose: 0, desync: 0, producers: 0 };
  let place: (args: PartitionerArgs) => number = () => 0;
  const answer = (topic: string, messages: Message[]): RecordMetadata[] =>
    [
      ...new Set(
        messages.map((message) => place({ topic, partitionMetadata: PARTITIONS, message })),
      ),
    ]
      .sort((a, b) => a - b)
      .map((partition) => ({ topicName: topic, partition, errorCode: 0 }));
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async (b: { topicMessages: { topic: string; messages: Message[] }[] }) => {
      if (state.hold) await new Promise<void>((r) => held.push(r));
      const [events, ...rest] = b.topicMessages;
      if (state.desync > 0) {
        state.desync--;
        log.push('out of order');
        throw Object.assign(new Error('The broker received an out of order sequence number'), {
          type: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
        });
      }
      log.push(`events ${events?.messages.map((m) => String(m.key)).join(',')}`);
      let written = events ? answer(events.topic, events.messages) : [];
      if (state.lose > 0) {
        state.lose--;
        written = written.slice(1);
      }
      return [...written, ...rest.flatMap((t) => answer(t.topic, t.messages))];
    },
    send: async (r: { topic: string; messages: Message[] }) => {
      if (state.refuse > 0) {
        state.refuse--;
        log.push('refused');
        throw new Error('There is no leader for this topic-partition');
      }
      log.push(`${r.topic} ${r.messages.map((m) => String(m.key)).join(',')}`);
      return answer(r.topic, r.messages);
    },
  };
  const store = {
    published: async (commits: readonly Commit[]) => {
      log.push(`published ${commits.map((c) => c.caseId).join(',')}`);
    },
    park: async () => undefined,
  };
  const kafka = {
    producer: (o: { createPartitioner: ICustomPartitioner }) => {
      state.producers++;
      place = o.createPartitioner();
      return producer;
    },
  };
  const relay = new KafkaRelay(
    kafka as unknown as Kafka,
    store as unknown as MongoEventStore,
    relayOptions({ sweepAfterMs: 60_000, sweepEveryMs: 60_000 }),
  );
  const letThrough = () => {
    state.hold = false;
    for (const r of held.splice(0)) r();
  };
  return { relay, log, letThrough, state };
}

const commit = (caseId: string, actor = ''): Commit => ({
  caseId,
  commandId: `${caseId}:1`,
  fingerprint: '',
  fromVersion: 1,
  toVersion: 1,
  events: [events.CaseEvent.fromPartial({ caseId, version: 1, eventId: `${caseId}:1`, actor })],
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
    expect(log.filter((l) => !l.startsWith('published'))).toEqual(['events c1', 'marks lz-eeb|1']);
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

describe('a send kafkajs answered for only part of its partitions', () => {
  it('is sent again, all of it, and its commits count as published only then', async () => {
    const { relay, log, letThrough, state } = scripted();
    state.lose = 1;
    letThrough();
    relay.enqueue(commit('c1'));
    relay.enqueue(commit('c2'));
    relay.enqueue(commit('c3'));
    await relay.drain();
    // c1 went alone, was answered for none of its partitions, and went again with the rest.
    expect(log).toEqual(['events c1', 'events c1,c2,c3', 'published c1,c2,c3']);
    expect(relay.health()).toBe(true);
  });
});

describe('sends Kafka could refuse in part', () => {
  it("carry at most maxBatchBytes of events (a partition's record batch over the topic's max.message.bytes is refused), a larger commit alone", async () => {
    const { relay, log, letThrough } = scripted();
    // c0 goes at once, and is held: the others queue behind it.
    relay.enqueue(commit('c0'));
    const large = 'x'.repeat(400_000);
    relay.enqueue(commit('c1', large));
    relay.enqueue(commit('c2', large));
    relay.enqueue(commit('c3', large));
    relay.enqueue(commit('c4', 'x'.repeat(1_200_000)));
    relay.enqueue(commit('c5'));
    letThrough();
    await relay.drain();
    expect(log.filter((l) => l.startsWith('events'))).toEqual([
      'events c0',
      'events c1,c2',
      'events c3',
      'events c4',
      'events c5',
    ]);
  });

  it('go through a new producer once the broker finds the sequence numbers out of order, every later send of the old one failing the same', async () => {
    const { relay, log, letThrough, state } = scripted();
    letThrough();
    state.desync = 1;
    relay.enqueue(commit('c1'));
    relay.enqueue(commit('c2'));
    await relay.drain();
    expect(state.producers).toBe(2);
    expect(log).toEqual(['out of order', 'events c1,c2', 'published c1,c2']);
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
