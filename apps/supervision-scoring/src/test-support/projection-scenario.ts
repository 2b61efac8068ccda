// The projection's property, shared by the store in memory and the MongoDB
// adapter on the stack: random case histories and reviews merged into three
// partitions' logs, applied by processes that crash between writes, replay,
// restart, race as stale writers (where the store isolates them) and
// release parked cases, must leave the rollups the scoring model gives the
// histories (`oracle`), as stored and as a reader that kept what it read
// lists them.

import fc from 'fast-check';
import { expect } from 'vitest';
import { events } from '@enforcement/contracts';
import { applyEvent, emptyView, type CaseView } from '../domain/case-view.js';
import { contributionOf, rollupDeltas } from '../domain/rollups.js';
import { MODEL_V1, scoreCase, type CaseScoreResult } from '../domain/scoring-model.js';
import type { CaseRecord, CorrectionRequest, ProjectionStore } from '../application/ports.js';
import { Projector, type Delivered } from '../application/projector.js';
import { caseEvents, correctingReview } from './events.js';

/**
 * The oracle: every rollup is the sum of what each concluded case adds to
 * it, its view folded from its own history and corrected by every review
 * that corrected it (the scoring model's definition, nothing of how the
 * projection gets there).
 */
function oracle(histories: ReadonlyMap<string, readonly events.CaseEvent[]>) {
  const views = new Map<string, CaseView>(
    [...histories].map(([id, h]) => [id, h.reduce(applyEvent, emptyView(id))]),
  );
  for (const v of views.values()) {
    const target = views.get(v.review?.enforcementCaseId ?? '');
    if (v.review?.corrected && target && target.caseId !== v.caseId)
      target.correctedBy = [...target.correctedBy, v.caseId];
  }
  const rollups = new Map<string, Record<string, number>>();
  for (const v of views.values())
    for (const d of rollupDeltas(null, contributionOf(v, scoreCase(v, MODEL_V1)))) {
      const sums = rollups.get(d.rollupId) ?? {};
      for (const [k, n] of Object.entries(d.inc)) sums[k] = (sums[k] ?? 0) + n;
      rollups.set(d.rollupId, sums);
    }
  return { views, rollups };
}

/** Case histories merged into one partition's log, each case's events in order, the picks deciding whose comes next. */
function merge(
  histories: readonly events.CaseEvent[][],
  picks: readonly number[],
): events.CaseEvent[] {
  const queues = histories.map((h) => [...h]);
  const out: events.CaseEvent[] = [];
  let i = 0;
  for (;;) {
    const open = queues.filter((q) => q.length > 0);
    if (open.length === 0) return out;
    const q = open[(picks[i++ % Math.max(1, picks.length)] ?? 0) % open.length];
    const e = q?.shift();
    if (e) out.push(e);
  }
}

const PROCESSES = 3;
const proc = fc.nat(PROCESSES - 1);
/** Cases of even index go to partition 0, odd to 2, reviews to 1: two partitions write rows of the same periods. */
export const PARTITIONS = 3;
export const partitionOfId = (caseId: string) =>
  caseId.startsWith('review') ? 1 : Number(caseId.slice('case-'.length)) % 2 === 1 ? 2 : 0;
const partition = fc.constantFrom(0, 1, 2);

const batch = fc.record({
  k: fc.constant('batch' as const),
  p: partition,
  proc,
  len: fc.integer({ min: 1, max: 9 }),
  /** Which of the batch's store writes lands and fails (0: none). */
  failAt: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 1, max: 5 })),
  /** The batch is applied but its offset not committed (the process died first). */
  commit: fc.boolean(),
  restartAfter: fc.boolean(),
});
const race = fc.record({
  k: fc.constant('race' as const),
  p: partition,
  stale: proc,
  owner: proc,
  staleLen: fc.integer({ min: 1, max: 9 }),
  ownerLen: fc.integer({ min: 1, max: 9 }),
});
const idle = fc.record({ k: fc.constant('idle' as const), p: partition, proc });
const restart = fc.record({ k: fc.constant('restart' as const), proc });
/** A listing is read, by a reader that keeps what it read while the rolled marks stand. */
const list = fc.record({ k: fc.constant('list' as const) });
const release = fc.record({
  k: fc.constant('release' as const),
  proc,
  /** The case an operator releases (parked or not). */
  target: fc.nat(3),
  /**
   * The call reached an instance that does not apply the partition: it
   * leaves a request, which the owner's batches apply when they look.
   */
  asked: fc.boolean(),
  failAt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 })),
});

/**
 * A scenario. With `races`, a stale process (one that never heard its
 * partition moved) applies batches at the same time as the owner: only for
 * a store that isolates concurrent writes of one document.
 */
export function scenario(o: { races: boolean; maxSteps?: number }) {
  const steps = [
    { weight: 4, arbitrary: batch },
    ...(o.races ? [{ weight: 2, arbitrary: race }] : []),
    { weight: 1, arbitrary: idle },
    { weight: 1, arbitrary: restart },
    { weight: 1, arbitrary: list },
    { weight: 1, arbitrary: release },
  ];
  return fc.record({
    cases: fc.array(
      fc.record({
        concludeAfterDays: fc.integer({ min: 15, max: 130 }),
        anomaly: fc.boolean(),
        second: fc.constantFrom('off-2', 'off-3'),
        lapsedOrder: fc.boolean(),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    reviews: fc.array(fc.record({ target: fc.nat(3), day: fc.integer({ min: 1, max: 20 }) }), {
      minLength: 1,
      maxLength: 3,
    }),
    picks: fc.array(fc.nat(7), { minLength: 1, maxLength: 40 }),
    /**
     * A case's and a review's events out of their order in their partition,
     * as after an intake failover (a later version published before an
     * earlier one the dead instance's outbox still held), or one delivered
     * again later, as a relay that publishes at least once does.
     */
    disorder: fc.array(
      fc.record({
        target: fc.nat(3),
        at: fc.nat(12),
        again: fc.boolean(),
        later: fc.nat(40),
      }),
      { maxLength: 3 },
    ),
    /** Undecodable messages keyed by a case, at a place in its partition: each parks its case. */
    poison: fc.array(
      fc.record({
        target: fc.nat(3),
        at: fc.nat(40),
        /**
         * It is one of the case's versions, of an event type this version
         * of scoring does not know (a release fills it from intake's
         * history), not garbled bytes beside them.
         */
        replaces: fc.boolean(),
      }),
      { maxLength: 2 },
    ),
    /**
     * The most a case's record holds waiting (bytes), where not the
     * default: small enough that held and waiting events overflow, are
     * dead-lettered and their case parked, for the release to fill.
     */
    waitingLimit: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: undefined }),
    /** How often each process's busy batches look for corrections others left (ms). */
    looks: fc.array(fc.constantFrom(0, 3_600_000), { minLength: PROCESSES, maxLength: PROCESSES }),
    steps: fc.array(fc.oneof(...steps), { minLength: 1, maxLength: o.maxSteps ?? 24 }),
    turns: fc.array(fc.nat(3), { minLength: 1, maxLength: 16 }),
  });
}

export type Scenario = ReturnType<typeof scenario> extends fc.Arbitrary<infer T> ? T : never;

/** A store the scenario runs on: a client per process, and what a reader finds in it. */
export interface ScenarioStore {
  /** A process's store, new at each start; its calls may wait `turns` to interleave. */
  client(turns: () => number): Promise<ProjectionStore & { failAt(n: number): void }>;
  isConflict(e: unknown): boolean;
  /** Which of these cases are parked, as stored. */
  parked(ids: readonly string[]): Promise<Set<string>>;
  /** An instance that does not apply a case's partition leaves the owner a request. */
  ask(request: CorrectionRequest): Promise<void>;
  /** A reader that keeps what it read reads the listings of these rollups now. */
  list(rollupIds: readonly string[]): Promise<Map<string, Record<string, number>>>;
  /**
   * The rollups as a writer's own instance lists them while it applies the
   * partitions `owned` (their marks from the summaries it holds), where the
   * store has that path.
   */
  listAsWriter?(
    writer: ProjectionStore,
    owned: readonly number[],
    rollupIds: readonly string[],
  ): Promise<Map<string, Record<string, number>>>;
  /** Every rollup as the pages of all writers hold it, read afresh. */
  stored(rollupIds: readonly string[]): Promise<Map<string, Record<string, number>>>;
  /** These cases' records, as stored. */
  cases(ids: readonly string[]): Promise<Map<string, CaseRecord>>;
  /**
   * How many cases the store says wait for an earlier version (what the
   * waiting gauges read), where the store keeps that count.
   */
  waiting?(): Promise<number>;
  /** Corrections left for a partition's consumer, not applied yet. */
  correctionsLeft(): Promise<number>;
}

/** A score with each indicator's reasons and events sorted. */
const unordered = (s: CaseScoreResult | undefined) =>
  s && {
    ...s,
    indicators: s.indicators.map((i) => ({
      ...i,
      reasons: [...i.reasons].sort(),
      eventIds: [...i.eventIds].sort(),
    })),
  };

/** Runs a scenario on a store and checks what it leaves against the oracle. */
export async function runScenario(s: Scenario, store: ScenarioStore): Promise<void> {
  const histories = new Map<string, events.CaseEvent[]>();
  const cases = s.cases.map((c, i) => {
    const h = caseEvents({
      caseId: `case-${i}`,
      concludeAfterDays: c.concludeAfterDays,
      anomaly: c.anomaly,
      officers: ['off-1', c.second],
      lapsedOrder: c.lapsedOrder,
    });
    histories.set(`case-${i}`, h);
    return h;
  });
  const reviews = s.reviews.map((r, j) => {
    const h = correctingReview(`review-${j}`, `case-${r.target % s.cases.length}`, r.day);
    histories.set(`review-${j}`, h);
    return h;
  });
  const want = oracle(histories);
  const rollupIds = [...want.rollups.keys()];
  const encoded = (log: events.CaseEvent[]) =>
    log.map((e) => ({
      key: e.caseId,
      value: Buffer.from(events.CaseEvent.encode(e).finish()),
    }));
  /** A partition's log with the scenario's disorder applied to the cases it names that the log holds. */
  const disordered = (log: events.CaseEvent[], keyOf: (target: number) => string) => {
    for (const d of s.disorder) {
      const key = keyOf(d.target);
      const at = log.flatMap((e, i) => (e.caseId === key ? [i] : []));
      if (at.length === 0) continue;
      const i = d.at % at.length;
      const here = at[i] ?? 0;
      const next = at[i + 1];
      const e = log[here];
      if (!e) continue;
      if (d.again) log.splice(here + 1 + (d.later % (log.length - here)), 0, e);
      else if (next !== undefined) [log[here], log[next]] = [log[next] ?? e, e];
    }
    return encoded(log);
  };
  const casesOn = (p: number) =>
    disordered(
      merge(
        cases.filter((_, i) => partitionOfId(`case-${i}`) === p),
        s.picks,
      ),
      (t) => `case-${t % s.cases.length}`,
    );
  const raw = [
    casesOn(0),
    disordered(merge(reviews, [...s.picks].reverse()), (t) => `review-${t % s.reviews.length}`),
    casesOn(2),
  ];
  // The case's versions first, then the garbled messages beside them.
  for (const x of [...s.poison].sort((a, b) => Number(b.replaces) - Number(a.replaces))) {
    const key = `case-${x.target % s.cases.length}`;
    const log = raw[partitionOfId(key)] ?? [];
    const own = log.flatMap((m, i) => (m.key === key ? [i] : []));
    const at = own[x.at % Math.max(own.length, 1)];
    const version = at === undefined ? undefined : log[at];
    if (x.replaces && at !== undefined && version) {
      const { payload: _unknown, ...rest } = events.CaseEvent.decode(version.value);
      log[at] = { key, value: Buffer.from(events.CaseEvent.encode(rest).finish()) };
    } else log.splice(x.at % (log.length + 1), 0, { key, value: Buffer.from([0xff, 0xff]) });
  }
  const logs = raw.map((log, p) =>
    log.map((m, offset): Delivered => ({ partition: p, offset, ...m })),
  );
  let turn = 0;
  const turns = () => s.turns[turn++ % s.turns.length] ?? 0;
  const clients: (ProjectionStore & { failAt(n: number): void })[] = [];
  const start = async (i: number) => {
    const client = await store.client(turns);
    clients[i] = client;
    return new Projector({
      store: client,
      deadLetters: { send: async () => undefined },
      sink: { changed: () => undefined, ordersChanged: () => undefined },
      model: MODEL_V1,
      isConflict: (e) => store.isConflict(e),
      partitionOf: partitionOfId,
      correctionsEveryMs: s.looks[i],
      ...(s.waitingLimit === undefined ? {} : { waitingLimitBytes: s.waitingLimit }),
      // Every message is in the log from the start.
      endOffset: async (p) => logs[p]?.length ?? 0,
      history: {
        read: async (caseId, from) =>
          (histories.get(caseId) ?? []).filter((e) => e.version >= from),
      },
    });
  };
  const procs: Projector[] = [];
  for (let i = 0; i < PROCESSES; i++) procs[i] = await start(i);
  const committed = Array.from({ length: PARTITIONS }, () => 0);
  const owner: (number | undefined)[] = Array.from({ length: PARTITIONS }, () => undefined);
  const slice = (p: number, len: number) =>
    logs[p]?.slice(committed[p] ?? 0, (committed[p] ?? 0) + len) ?? [];
  /** Kafka assigns the partition: a process that did not hold it forgets what it knew. */
  const assign = (p: number, i: number) => {
    if (owner[p] !== i) procs[i]?.forget();
    owner[p] = i;
  };

  /** Whether the partition's last write landed whole (a failed one may leave its summary ahead of its pages). */
  const whole = Array.from({ length: PARTITIONS }, () => true);
  const landed = async (call: Promise<unknown> | undefined) =>
    (await call?.then(
      () => true,
      () => false,
    )) === true;
  const ids = [...histories.keys()];
  /** The store's count of waiting cases is the stored records': those holding a later version. */
  const waitingAsRecorded = async (when: string) => {
    if (!store.waiting) return;
    const records = await store.cases(ids);
    const held = [...records.values()].filter((r) => r.pending.length > 0).length;
    expect(await store.waiting(), `cases waiting ${when}`).toBe(held);
  };

  for (const st of s.steps) {
    if (st.k === 'list') {
      await store.list(rollupIds);
    } else if (st.k === 'release') {
      const target = `case-${st.target % s.cases.length}`;
      if (st.asked) {
        // As the runtime asks: only for a case parked as stored.
        if ((await store.parked([target])).has(target))
          await store.ask({
            _id: `release/${target}`,
            target,
            partition: partitionOfId(target),
            release: true,
          });
        continue;
      }
      // The operator's call reaches the instance that applies the case's partition.
      assign(partitionOfId(target), st.proc);
      clients[st.proc]?.failAt(st.failAt);
      whole[partitionOfId(target)] = await landed(procs[st.proc]?.release(target));
      clients[st.proc]?.failAt(0);
    } else if (st.k === 'restart') {
      procs[st.proc] = await start(st.proc);
      owner.forEach((o, p) => o === st.proc && (owner[p] = undefined));
    } else if (st.k === 'idle') {
      assign(st.p, st.proc);
      whole[st.p] = await landed(procs[st.proc]?.handleBatch(st.p, []));
    } else if (st.k === 'batch') {
      assign(st.p, st.proc);
      const batch = slice(st.p, st.len);
      clients[st.proc]?.failAt(st.failAt);
      const ok = await landed(procs[st.proc]?.handleBatch(st.p, batch));
      clients[st.proc]?.failAt(0);
      whole[st.p] = ok;
      if (ok && st.commit) committed[st.p] = (committed[st.p] ?? 0) + batch.length;
      if (st.restartAfter) {
        procs[st.proc] = await start(st.proc);
        owner[st.p] = undefined;
      }
    } else {
      // The stale process never heard that the partition moved; the owner's offsets are committed.
      assign(st.p, st.owner);
      const staleBatch = slice(st.p, st.staleLen);
      const ownerBatch = slice(st.p, st.ownerLen);
      const [, mine] = await Promise.allSettled([
        procs[st.stale]?.handleBatch(st.p, staleBatch),
        procs[st.owner]?.handleBatch(st.p, ownerBatch),
      ]);
      if (mine.status === 'fulfilled') committed[st.p] = (committed[st.p] ?? 0) + ownerBatch.length;
      whole[st.p] = false;
    }
    if (whole.every(Boolean)) await waitingAsRecorded(`after ${st.k}`);
  }

  // Then one process consumes the rest, and every partition goes idle.
  const last = await start(0);
  const all = Array.from({ length: PARTITIONS }, (_, p) => p);
  const asWriter = async () => {
    const writer = clients[0];
    return writer && store.listAsWriter?.(writer, all, rollupIds);
  };
  for (const p of all) {
    last.forget();
    while ((committed[p] ?? 0) < (logs[p]?.length ?? 0)) {
      const batch = slice(p, 5);
      await last.handleBatch(p, batch);
      committed[p] = (committed[p] ?? 0) + batch.length;
      // Its own listings along the way, kept while the marks it holds stand.
      await asWriter();
    }
  }
  for (const p of [1, 0, 2, 0, 2]) await last.handleBatch(p, []);
  // Every parked case released, as an operator would.
  for (const id of await store.parked([...histories.keys()])) await last.release(id);
  for (const p of [0, 2]) await last.handleBatch(p, []);

  // As the pages hold them, as a reader that read listings all along (going
  // by the rolled marks) now lists them, and as the last writer lists them.
  const views = [await store.stored(rollupIds), await store.list(rollupIds)];
  const own = await asWriter();
  if (own) views.push(own);
  for (const got of views)
    for (const id of new Set([...want.rollups.keys(), ...got.keys()])) {
      const w = want.rollups.get(id) ?? {};
      const g = got.get(id) ?? {};
      for (const k of new Set([...Object.keys(w), ...Object.keys(g)]))
        expect(g[k] ?? 0, `${id} ${k}`).toBeCloseTo(w[k] ?? 0, 6);
    }
  const enforcement = [...want.views].filter(([, v]) => v.kind === 'ENFORCEMENT');
  const records = await store.cases(enforcement.map(([id]) => id));
  for (const [id, view] of enforcement) {
    const rec = records.get(id);
    expect([...(rec?.view.correctedBy ?? [])].sort(), id).toEqual([...view.correctedBy].sort());
    // The score GetCaseScore works out from the stored view (its corrections
    // in the order they came, which the partitions' timing decides).
    expect(rec && unordered(scoreCase(rec.view, MODEL_V1)), id).toEqual(
      unordered(scoreCase(view, MODEL_V1)),
    );
  }
  expect(await store.correctionsLeft()).toBe(0);
  // Every event arrived in the end, so no case waits for one.
  const left = [...(await store.cases(ids))].filter(([, r]) => r.pending.length > 0);
  expect(left.map(([id]) => id)).toEqual([]);
  await waitingAsRecorded('at the end');
}
