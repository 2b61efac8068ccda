import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Kafka, Message } from 'kafkajs';
import { NeedsRestart } from '@enforcement/errors';
import type { ChainKeys } from '../../application/chain-keys.js';
import { KafkaCheckpoints } from './checkpoints.js';

const keys: ChainKeys = {
  current: 'k1',
  keys: new Map([['k1', Buffer.alloc(32, 7)]]),
  acceptUnkeyed: false,
};

type EachMessage = (p: {
  partition: number;
  message: { offset: string; value: Buffer | null };
}) => Promise<void>;

/**
 * The part of kafkajs the checkpoints use, scripted: the topic's one
 * partition ends at `end` when the instance starts; the test hands it the
 * records; the producer refuses while `down` and keeps what it takes.
 */
function scripted(end: number) {
  let eachMessage: EachMessage | undefined;
  let offset = 0;
  const state = { down: false, sent: [] as Message[] };
  const bus = new EventEmitter();
  const kafka = {
    consumer: () => ({
      events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
      on: (event: string, listener: (e: unknown) => void) => {
        bus.on(event, listener);
        return () => bus.off(event, listener);
      },
      connect: async () => undefined,
      subscribe: async () => undefined,
      run: async (o: { eachMessage: EachMessage }) => {
        eachMessage = o.eachMessage;
      },
      disconnect: async () => undefined,
    }),
    producer: () => ({
      connect: async () => undefined,
      send: async (r: { messages: Message[] }) => {
        if (state.down) throw new Error('broker not available');
        state.sent.push(...r.messages);
      },
      disconnect: async () => undefined,
    }),
    admin: () => ({
      connect: async () => undefined,
      fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: String(end) }],
      disconnect: async () => undefined,
    }),
  } as unknown as Kafka;
  const read = async (value: Buffer | null) => {
    for (let i = 0; i < 100 && !eachMessage; i++) await new Promise((r) => setImmediate(r));
    if (!eachMessage) throw new Error('the consumer never ran');
    await eachMessage({ partition: 0, message: { offset: String(offset++), value } });
  };
  return { kafka, state, read, bus };
}

/** Checkpoints over a scripted Kafka, telling `logged` what they log. */
const checkpointsOn = (kafka: Kafka, logged: string[] = []) =>
  new KafkaCheckpoints(kafka, keys, {
    topic: 'checkpoints',
    groupBase: 'test',
    log: (msg) => logged.push(msg),
  });

const versionsOf = (sent: readonly Message[]) =>
  sent.map((m) => (JSON.parse(String(m.value)) as { version: number }).version);

describe('checkpoint records below a case’s highest', () => {
  afterEach(() => vi.useRealTimers());

  it('are answered with the highest once read to the end, and tried again while the broker refuses', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const k = scripted(3);
    const logged: string[] = [];
    const cp = checkpointsOn(k.kafka, logged);
    const head = { caseId: 'c1', version: 5, headHash: 'h5' };
    const stale = { caseId: 'c1', version: 2, headHash: 'h2' };
    const record = (c: typeof head) => Buffer.from(String(cp.message(c).value));
    const started = cp.start();
    // Read to the end: 5, then a late 2 (and a record that fails its check).
    await k.read(record(head));
    await k.read(Buffer.from('{"caseId":"c1","version":9,"headHash":"x","keyId":"k1","mac":"00"}'));
    await k.read(record(stale));
    await started;
    expect(versionsOf(k.state.sent)).toEqual([5]);
    expect(cp.get('c1')?.version).toBe(5);
    // What the instance sent comes back: nothing more to answer.
    await k.read(k.state.sent[0]?.value as Buffer);

    // Lowered again while the broker refuses: tried again every few seconds until it takes it.
    k.state.down = true;
    await k.read(record(stale));
    expect(logged.at(-1)).toContain('trying again shortly');
    await vi.advanceTimersByTimeAsync(5_000);
    expect(versionsOf(k.state.sent)).toEqual([5]);
    k.state.down = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(versionsOf(k.state.sent)).toEqual([5, 5]);
    // A record read since that raises the case again makes a retry needless.
    k.state.down = true;
    await k.read(record(stale));
    await k.read(record({ caseId: 'c1', version: 6, headHash: 'h6' }));
    k.state.down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(versionsOf(k.state.sent)).toEqual([5, 5]);
    expect(cp.get('c1')?.version).toBe(6);
    await cp.stop();
  });

  it('leave nothing to answer when a record below is followed by a higher one before the end', async () => {
    const k = scripted(3);
    const cp = checkpointsOn(k.kafka);
    const started = cp.start();
    for (const version of [4, 2, 7])
      await k.read(
        Buffer.from(String(cp.message({ caseId: 'c2', version, headHash: `h${version}` }).value)),
      );
    await started;
    expect(k.state.sent).toEqual([]);
    expect(cp.get('c2')?.version).toBe(7);
    await cp.stop();
  });

  it('make the instance not ready once kafkajs gives up the consumer that follows the topic, not while it restarts it', async () => {
    const k = scripted(0);
    const cp = checkpointsOn(k.kafka);
    await cp.start();
    await expect(cp.health()).resolves.toBe(true);
    k.bus.emit('consumer.crash', { payload: { error: new Error('broker gone'), restart: true } });
    await expect(cp.health()).resolves.toBe(true);
    k.bus.emit('consumer.crash', {
      payload: { error: new Error('group authorization failed'), restart: false },
    });
    await expect(cp.health()).rejects.toThrow(
      'the consumer that follows checkpoints stopped for good after: group authorization failed',
    );
    // Only a restart mends it: health's liveness fails.
    await expect(cp.health()).rejects.toBeInstanceOf(NeedsRestart);
    await cp.stop();
  });
});
