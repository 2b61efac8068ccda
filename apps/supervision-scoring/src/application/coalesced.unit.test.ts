import { describe, expect, it } from 'vitest';
import { DeadlineError } from '@enforcement/errors';
import { coalesced } from './coalesced.js';

/** A read whose answers the test gives, one at a time, and which counts how often it ran. */
function controlledRead() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let started = 0;
  const read = () =>
    new Promise<number>((resolve, reject) => {
      started++;
      pending.push({ resolve, reject });
    });
  const settle = async () => {
    // Let the reads that are due start.
    await new Promise((r) => setImmediate(r));
  };
  return {
    read,
    started: () => started,
    answer: async (i: number, v: number) => {
      await settle();
      pending[i]?.resolve(v);
      await settle();
    },
    fail: async (i: number, e: Error) => {
      await settle();
      pending[i]?.reject(e);
      await settle();
    },
    settle,
  };
}

describe('a read that callers share (the rules status)', () => {
  it('answers a call made during a read with the next read, shared by every call made meanwhile', async () => {
    const r = controlledRead();
    const status = coalesced(r.read, { what: 'status', deadlineMs: 60_000 });
    const first = status();
    const second = status();
    const third = status();
    await r.settle();
    // One read at a time: the calls made during the first wait for it.
    expect(r.started()).toBe(1);
    await r.answer(0, 1);
    expect(await first).toBe(1);
    // Then one read for both, begun after they were made.
    expect(r.started()).toBe(2);
    // A call made during that second read is not answered by it.
    const duringSecond = status();
    await r.answer(1, 2);
    expect(await second).toBe(2);
    expect(await third).toBe(2);
    expect(r.started()).toBe(3);
    await r.answer(2, 3);
    expect(await duringSecond).toBe(3);
    // Nothing running: the next call reads at once.
    const fifth = status();
    await r.settle();
    expect(r.started()).toBe(4);
    await r.answer(3, 4);
    expect(await fifth).toBe(4);
  });

  it('fails only the calls of a read that failed; the calls waiting behind it read again', async () => {
    const r = controlledRead();
    const status = coalesced(r.read, { what: 'status', deadlineMs: 60_000 });
    const first = status();
    const second = status();
    const failed = expect(first).rejects.toThrow('store down');
    await r.fail(0, new Error('store down'));
    await failed;
    expect(r.started()).toBe(2);
    await r.answer(1, 7);
    expect(await second).toBe(7);
  });

  it('gives up a read past its deadline, naming it, and reads afresh for the next call', async () => {
    const r = controlledRead();
    const status = coalesced(r.read, { what: 'the rules status', deadlineMs: 30 });
    const hung = status();
    const behind = status();
    await expect(hung).rejects.toThrow(new DeadlineError('the rules status', 30));
    // The call made behind the hung read is not held by it.
    await r.settle();
    expect(r.started()).toBe(2);
    await r.answer(1, 5);
    expect(await behind).toBe(5);
    // The hung read answering late changes nothing.
    await r.answer(0, 4);
    const later = status();
    await r.settle();
    expect(r.started()).toBe(3);
    await r.answer(2, 6);
    expect(await later).toBe(6);
  });
});
