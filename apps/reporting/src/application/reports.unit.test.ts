import { describe, expect, it } from 'vitest';
import type { FactStore, Progress } from './ports.js';
import { Reports } from './reports.js';

/** A fact store that holds only what completeThrough reads. */
function fakeStore(progress: Progress[]) {
  let saved = 0;
  const store = {
    progress: async () => progress,
    loadCompleteThrough: async () => saved,
    saveCompleteThrough: async (ms: number) => {
      saved = ms;
    },
    forEachCaseOfYear: async () => undefined,
  } as unknown as FactStore;
  return { store, saved: () => saved, progress };
}

describe('the completeness watermark', () => {
  const T = Date.UTC(2026, 10, 30, 12, 0, 0);

  it('never goes back: an as-of accepted once is accepted again after new events arrive', async () => {
    const progress: Progress[] = [{ partition: 0, offset: 9, recordedMs: T - 60_000 }];
    const { store } = fakeStore(progress);
    let high = new Map([[0, 10]]);
    let now = T;
    const reports = new Reports(store, async () => high, { now: () => new Date(now) }, 2_000);

    // Caught up: complete through now minus the settle time.
    const first = await reports.completeThrough();
    expect(first).toBe(T - 2_000);
    await expect(reports.statistics(2021, new Date(first))).resolves.toBeDefined();

    // A minute later new events wait on the partition; the last applied was recorded long ago.
    now = T + 60_000;
    high = new Map([[0, 50]]);
    expect(await reports.completeThrough()).toBe(first);
    await expect(reports.statistics(2021, new Date(first))).resolves.toBeDefined();
  });

  it('is kept across a restart', async () => {
    const { store, saved } = fakeStore([{ partition: 0, offset: 9, recordedMs: T - 60_000 }]);
    const before = new Reports(
      store,
      async () => new Map([[0, 10]]),
      { now: () => new Date(T) },
      0,
    );
    expect(await before.completeThrough()).toBe(T);
    expect(saved()).toBe(T);
    // A new process, behind again on its partition.
    const after = new Reports(
      store,
      async () => new Map([[0, 99]]),
      { now: () => new Date(T + 5_000) },
      0,
    );
    expect(await after.completeThrough()).toBe(T);
  });
});
