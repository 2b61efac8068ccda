import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { applyEvent, emptyView, type CaseView } from '../domain/case-view.js';
import { contributionOf, rollupDeltas } from '../domain/rollups.js';
import { MODEL_V1, scoreCase } from '../domain/scoring-model.js';
import { caseEvents, correctingReview } from '../test-support/events.js';
import { Conflict, MemoryStore } from '../test-support/memory-store.js';
import { Projector, type Delivered } from './projector.js';

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
const PARTITIONS = 3;
const partitionOfId = (caseId: string) =>
  caseId.startsWith('review') ? 1 : Number(caseId.slice('case-'.length)) % 2 === 1 ? 2 : 0;
const partition = fc.constantFrom(0, 1, 2);
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('batch' as const),
      p: partition,
      proc,
      len: fc.integer({ min: 1, max: 9 }),
      /** Which of the batch's store writes lands and fails (0: none). */
      failAt: fc.oneof(fc.constant(0), fc.constant(1), fc.integer({ min: 1, max: 5 })),
      /** The batch is applied but its offset not committed (the process died first). */
      commit: fc.boolean(),
      restartAfter: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('race' as const),
      p: partition,
      stale: proc,
      owner: proc,
      staleLen: fc.integer({ min: 1, max: 9 }),
      ownerLen: fc.integer({ min: 1, max: 9 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('idle' as const), p: partition, proc }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('restart' as const), proc }) },
  /** A listing is read, by a reader that keeps what it read while the rolled marks stand. */
  { weight: 1, arbitrary: fc.record({ k: fc.constant('list' as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
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
    }),
  },
);

const scenario = fc.record({
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
  /** Undecodable messages keyed by a case, at a place in its partition: each parks its case. */
  poison: fc.array(fc.record({ target: fc.nat(3), at: fc.nat(40) }), { maxLength: 2 }),
  /** How often each process's busy batches look for corrections others left (ms). */
  looks: fc.array(fc.constantFrom(0, 3_600_000), { minLength: PROCESSES, maxLength: PROCESSES }),
  steps: fc.array(step, { minLength: 1, maxLength: 24 }),
  turns: fc.array(fc.nat(3), { minLength: 1, maxLength: 16 }),
});

describe('the rollups, against the scoring model of the histories', () => {
  it('equal it whatever the crashes, replays, restarts, stale writers, releases and the moment corrections are found, as stored and as a reader keeping what it read lists them', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const store = new MemoryStore();
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
        const encoded = (list: events.CaseEvent[]) =>
          list.map((e) => ({
            key: e.caseId,
            value: Buffer.from(events.CaseEvent.encode(e).finish()),
          }));
        const casesOn = (p: number) =>
          encoded(
            merge(
              cases.filter((_, i) => partitionOfId(`case-${i}`) === p),
              s.picks,
            ),
          );
        const raw = [casesOn(0), encoded(merge(reviews, [...s.picks].reverse())), casesOn(2)];
        for (const x of s.poison) {
          const key = `case-${x.target % s.cases.length}`;
          const log = raw[partitionOfId(key)] ?? [];
          log.splice(x.at % (log.length + 1), 0, { key, value: Buffer.from([0xff, 0xff]) });
        }
        const logs = raw.map((log, p) =>
          log.map((m, offset): Delivered => ({ partition: p, offset, ...m })),
        );
        let turn = 0;
        const turns = () => s.turns[turn++ % s.turns.length] ?? 0;
        const clients = Array.from({ length: PROCESSES }, () => store.client({ turns }));
        const start = (i: number) =>
          new Projector({
            store: (clients[i] = store.client({ turns })),
            deadLetters: { send: async () => undefined },
            sink: { changed: () => undefined, ordersChanged: () => undefined },
            model: MODEL_V1,
            isConflict: (e) => e instanceof Conflict,
            partitionOf: partitionOfId,
            correctionsEveryMs: s.looks[i],
            // Every message is in the log from the start.
            endOffset: async (p) => logs[p]?.length ?? 0,
            history: {
              read: async (caseId, from) =>
                (histories.get(caseId) ?? []).filter((e) => e.version >= from),
            },
          });
        const procs = Array.from({ length: PROCESSES }, (_, i) => start(i));
        const committed = Array.from({ length: PARTITIONS }, () => 0);
        const owner: (number | undefined)[] = Array.from({ length: PARTITIONS }, () => undefined);
        const slice = (p: number, len: number) =>
          logs[p]?.slice(committed[p] ?? 0, (committed[p] ?? 0) + len) ?? [];
        /** Kafka assigns the partition: a process that did not hold it forgets what it knew. */
        const assign = (p: number, i: number) => {
          if (owner[p] !== i) procs[i]?.forget();
          owner[p] = i;
        };

        const reader = store.markReader();
        for (const st of s.steps) {
          if (st.k === 'list') {
            reader.read();
          } else if (st.k === 'release') {
            const target = `case-${st.target % s.cases.length}`;
            if (st.asked) {
              // As the runtime asks: only for a case parked as stored.
              if (store.cases.get(target)?.parked)
                await store.requestCorrections([
                  {
                    _id: `release/${target}`,
                    target,
                    partition: partitionOfId(target),
                    release: true,
                  },
                ]);
              continue;
            }
            // The operator's call reaches the instance that applies the case's partition.
            assign(partitionOfId(target), st.proc);
            clients[st.proc]?.failAt(st.failAt);
            await procs[st.proc]?.release(target).catch(() => undefined);
            clients[st.proc]?.failAt(0);
          } else if (st.k === 'restart') {
            procs[st.proc] = start(st.proc);
            owner.forEach((o, p) => o === st.proc && (owner[p] = undefined));
          } else if (st.k === 'idle') {
            assign(st.p, st.proc);
            await procs[st.proc]?.handleBatch(st.p, []).catch(() => undefined);
          } else if (st.k === 'batch') {
            assign(st.p, st.proc);
            const batch = slice(st.p, st.len);
            clients[st.proc]?.failAt(st.failAt);
            const ok = await procs[st.proc]?.handleBatch(st.p, batch).then(
              () => true,
              () => false,
            );
            clients[st.proc]?.failAt(0);
            if (ok && st.commit) committed[st.p] = (committed[st.p] ?? 0) + batch.length;
            if (st.restartAfter) {
              procs[st.proc] = start(st.proc);
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
            if (mine.status === 'fulfilled')
              committed[st.p] = (committed[st.p] ?? 0) + ownerBatch.length;
          }
        }

        // Then one process consumes the rest, and every partition goes idle.
        const last = start(0);
        for (const p of [0, 1, 2]) {
          last.forget();
          while ((committed[p] ?? 0) < (logs[p]?.length ?? 0)) {
            const batch = slice(p, 5);
            await last.handleBatch(p, batch);
            committed[p] = (committed[p] ?? 0) + batch.length;
          }
        }
        for (const p of [1, 0, 2, 0, 2]) await last.handleBatch(p, []);
        // Every parked case released, as an operator would.
        for (const [id, rec] of store.cases) if (rec.parked) await last.release(id);
        for (const p of [0, 2]) await last.handleBatch(p, []);

        const want = oracle(histories);
        // As the pages hold them, and as a reader that read listings all
        // along (going by the rolled marks) now lists them.
        for (const got of [store.rollups(), reader.read()])
          for (const id of new Set([...want.rollups.keys(), ...got.keys()])) {
            const w = want.rollups.get(id) ?? {};
            const g = got.get(id) ?? {};
            for (const k of new Set([...Object.keys(w), ...Object.keys(g)]))
              expect(g[k] ?? 0, `${id} ${k}`).toBeCloseTo(w[k] ?? 0, 6);
          }
        for (const [id, view] of want.views) {
          if (view.kind !== 'ENFORCEMENT') continue;
          const rec = store.cases.get(id);
          expect([...(rec?.view.correctedBy ?? [])].sort(), id).toEqual(
            [...view.correctedBy].sort(),
          );
          expect(rec?.score?.score, id).toBe(scoreCase(view, MODEL_V1)?.score);
        }
        expect(store.corrections.size).toBe(0);
      }),
      {
        numRuns: Number(process.env.RUNS ?? 500),
        ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
      },
    );
  }, 600_000);
});
