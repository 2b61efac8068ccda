import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Consumer } from 'kafkajs';
import { NeedsRestart } from '@enforcement/errors';
import { ConsumerHealth } from './consumer-health.js';

/** The part of a kafkajs consumer ConsumerHealth listens to. */
function fakeConsumer() {
  const bus = new EventEmitter();
  const consumer = {
    events: {
      CRASH: 'consumer.crash',
      GROUP_JOIN: 'consumer.group_join',
      REBALANCING: 'consumer.rebalancing',
    },
    on: (event: string, listener: (e: unknown) => void) => {
      bus.on(event, listener);
      return () => bus.off(event, listener);
    },
  } as unknown as Consumer;
  return {
    consumer,
    crash: (restart: boolean) =>
      bus.emit('consumer.crash', { payload: { error: new Error('store gone'), restart } }),
    join: (memberAssignment: Record<string, number[]> = {}) =>
      bus.emit('consumer.group_join', { payload: { memberAssignment } }),
    rebalance: () => bus.emit('consumer.rebalancing', { payload: {} }),
  };
}

describe('a consumer is ready only while it moves', () => {
  it('fails from a failed batch until one is applied', async () => {
    const h = new ConsumerHealth();
    await expect(h.check()).resolves.toBe(true);
    h.failed(new Error('connection refused'));
    await expect(h.check()).rejects.toThrow('applying a batch failed: connection refused');
    h.applied();
    await expect(h.check()).resolves.toBe(true);
  });

  it('fails while kafkajs restarts a crashed consumer, and passes once it joins its group again', async () => {
    const f = fakeConsumer();
    const h = new ConsumerHealth();
    h.watch(f.consumer);
    f.crash(true);
    await expect(h.check()).rejects.toThrow('consumer restarting after: store gone');
    // kafkajs mends it: liveness passes meanwhile.
    await expect(h.check()).rejects.not.toBeInstanceOf(NeedsRestart);
    f.join();
    await expect(h.check()).resolves.toBe(true);
  });

  it('fails for good when kafkajs will not restart the consumer, and says so in the log', async () => {
    const f = fakeConsumer();
    const said: string[] = [];
    const h = new ConsumerHealth((m) => said.push(m));
    h.watch(f.consumer);
    f.crash(false);
    f.join();
    h.applied();
    await expect(h.check()).rejects.toThrow('consumer stopped for good after: store gone');
    await expect(h.check()).rejects.toBeInstanceOf(NeedsRestart);
    expect(said).toEqual(['the consumer stopped for good; restart the process']);
  });

  it('fails while one partition fails, whatever the others apply, and names it', async () => {
    const h = new ConsumerHealth();
    const p0 = { topic: 'events', partition: 0 };
    const p1 = { topic: 'events', partition: 1 };
    h.failed(new Error('document too large'), p0);
    h.applied(p1);
    h.applied(p1);
    await expect(h.check()).rejects.toThrow(
      'applying a batch of events partition 0 failed: document too large',
    );
    await expect(h.check()).rejects.not.toBeInstanceOf(NeedsRestart);
    h.failed(new Error('timed out'), p1);
    await expect(h.check()).rejects.toThrow('(and 1 more partitions failing)');
    h.applied(p0);
    await expect(h.check()).rejects.toThrow('events partition 1 failed: timed out');
    h.applied(p1);
    await expect(h.check()).resolves.toBe(true);
  });

  it('forgets a failing partition the group gives to another member, not one it keeps', async () => {
    const f = fakeConsumer();
    const h = new ConsumerHealth();
    h.watch(f.consumer);
    h.failed(new Error('document too large'), { topic: 'events', partition: 2 });
    f.join({ events: [1, 2] });
    await expect(h.check()).rejects.toThrow('events partition 2 failed');
    f.join({ events: [0, 1] });
    await expect(h.check()).resolves.toBe(true);
  });
});

describe('a consumer that applies nothing while messages wait is not ready', () => {
  const setup = (lag: Map<number, number>) => {
    let t = 0;
    const f = fakeConsumer();
    const h = new ConsumerHealth(undefined, () => t);
    h.watch(f.consumer);
    h.watchProgress({ topic: 'events', lag: async () => lag, afterMs: 60_000 });
    return { f, h, at: (ms: number) => (t = ms) };
  };

  it('fails once nothing was applied for the time given while its partitions have messages waiting, and passes when a chunk applies', async () => {
    const { f, h, at } = setup(
      new Map([
        [0, 0],
        [1, 7],
        [2, 5],
      ]),
    );
    f.join({ events: [1, 2] });
    at(59_999);
    await expect(h.check()).resolves.toBe(true);
    at(61_000);
    await expect(h.check()).rejects.toThrow(
      "12 messages wait on this instance's partitions and none was applied for 61 s",
    );
    // The broker answered and nothing is under way: the fetch loop stopped.
    await expect(h.check()).rejects.toBeInstanceOf(NeedsRestart);
    h.applied({ topic: 'events', partition: 1 });
    await expect(h.check()).resolves.toBe(true);
  });

  it("passes while idle with nothing waiting on its own partitions, whatever waits on another instance's", async () => {
    const { f, h, at } = setup(
      new Map([
        [0, 40],
        [1, 0],
      ]),
    );
    f.join({ events: [1] });
    at(600_000);
    await expect(h.check()).resolves.toBe(true);
  });

  it('holds no partition while the group rebalances, and counts from when it joins again', async () => {
    const { f, h, at } = setup(new Map([[0, 3]]));
    f.join({ events: [0] });
    f.rebalance();
    at(120_000);
    await expect(h.check()).resolves.toBe(true);
    f.join({ events: [0] });
    at(150_000);
    await expect(h.check()).resolves.toBe(true);
    at(180_000);
    await expect(h.check()).rejects.toThrow('3 messages wait');
  });
});

describe('a chunk that never ends is not ready, whatever the other partitions apply', () => {
  const setup = () => {
    let t = 0;
    const f = fakeConsumer();
    const h = new ConsumerHealth(undefined, () => t);
    h.watch(f.consumer);
    // Nothing waits by the lag: only the chunk under way can fail the check.
    h.watchProgress({ topic: 'events', lag: async () => new Map(), afterMs: 60_000 });
    f.join({ events: [0, 1, 2] });
    return { h, at: (ms: number) => (t = ms) };
  };
  const p = (partition: number) => ({ topic: 'events', partition });

  it("fails once one partition's chunk has been applying for the time given while the others apply theirs, and passes when it ends", async () => {
    const { h, at } = setup();
    h.begins(p(1));
    for (let s = 0; s < 60; s += 5) {
      at(s * 1000);
      h.begins(p(0));
      h.applied(p(0));
      h.begins(p(2));
      h.applied(p(2));
    }
    at(59_999);
    await expect(h.check()).resolves.toBe(true);
    at(61_000);
    await expect(h.check()).rejects.toThrow(
      'a chunk of events partition 1 has been applying for 61 s',
    );
    // It waits on the store or the broker, as a restarted process would.
    await expect(h.check()).rejects.not.toBeInstanceOf(NeedsRestart);
    h.applied(p(1));
    await expect(h.check()).resolves.toBe(true);
  });

  it('names how many partitions have one, and forgets a chunk that failed (that failure is reported as such)', async () => {
    const { h, at } = setup();
    h.begins(p(0));
    h.begins(p(2));
    at(90_000);
    await expect(h.check()).rejects.toThrow(
      "a chunk of events partition 0 has been applying for 90 s (and 1 more partitions' chunks)",
    );
    h.failed(new Error('store gone'), p(0));
    h.applied(p(2));
    await expect(h.check()).rejects.toThrow('applying a batch of events partition 0 failed');
  });

  it('names the chunk, not a stall, when it began after the last applied one and messages wait behind it', async () => {
    let t = 0;
    const f = fakeConsumer();
    const h = new ConsumerHealth(undefined, () => t);
    h.watch(f.consumer);
    h.watchProgress({ topic: 'events', lag: async () => new Map([[1, 9]]), afterMs: 60_000 });
    f.join({ events: [0, 1] });
    h.begins(p(0));
    h.applied(p(0));
    t = 1_000;
    h.begins(p(1));
    // Nothing applied for 60.5 s, but the chunk under way began 59.5 s ago.
    t = 60_500;
    await expect(h.check()).resolves.toBe(true);
    t = 61_000;
    await expect(h.check()).rejects.toThrow(
      /^a chunk of events partition 1 has been applying for 60 s$/,
    );
  });

  it('counts each chunk from its own start: a partition that applies one chunk after another is not stuck', async () => {
    const { h, at } = setup();
    for (let s = 0; s <= 600; s += 50) {
      at(s * 1000);
      h.applied(p(1));
      h.begins(p(1));
    }
    await expect(h.check()).resolves.toBe(true);
  });
});
