import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { events } from '@enforcement/contracts';
import { stack, uniqueName } from '@enforcement/testing';
import { MongoFactStore } from './adapters/mongo/fact-store.js';
import type { FactPage, FactStore, Progress } from './application/ports.js';
import { FactsProjector, type Message } from './application/projector.js';
import { Reports } from './application/reports.js';
import { applyFact, emptyFacts, type CaseFacts } from './domain/facts.js';
import { digestOf, StatisticsFold, type Basis } from './domain/statistics.js';
import { at, History } from './test-support/events.js';

const PARTITIONS = 3;
/** How long after its recording an event may reach Kafka, in the as-of property's time. */
const SETTLE = 5 * 86_400_000;
const DAY = 86_400_000;
const HOUR = 3_600_000;

/** How a write of the store fails: not at all, before it lands, part-way, or after it landed with its answer lost. */
type Fault = 'none' | 'before' | 'part' | 'after';

/** The store, each write failing as the next fault says (then writing normally again). */
class FaultyStore implements FactStore {
  next: { on: 'pages' | 'progress'; fault: Fault } = { on: 'pages', fault: 'none' };

  constructor(private readonly inner: MongoFactStore) {}

  private take(on: 'pages' | 'progress'): Fault {
    if (this.next.on !== on) return 'none';
    const { fault } = this.next;
    this.next = { on, fault: 'none' };
    return fault;
  }

  async writePages(partition: number, pages: FactPage[]): Promise<void> {
    const fault = this.take('pages');
    if (fault === 'before') throw new Error('connection closed before the write');
    if (fault === 'part') {
      await this.inner.writePages(partition, pages.slice(0, 1));
      throw new Error('connection closed after the first page');
    }
    await this.inner.writePages(partition, pages);
    if (fault === 'after') throw new Error('connection closed before the answer');
  }

  async saveProgress(p: Progress): Promise<void> {
    const fault = this.take('progress');
    if (fault === 'before' || fault === 'part')
      throw new Error('connection closed before the write');
    await this.inner.saveProgress(p);
    if (fault === 'after') throw new Error('connection closed before the answer');
  }

  loadPartition = (p: number) => this.inner.loadPartition(p);
  loadPage = (p: number, id: string) => this.inner.loadPage(p, id);
  progress = () => this.inner.progress();
  loadCompleteThrough = () => this.inner.loadCompleteThrough();
  saveCompleteThrough = (ms: number) => this.inner.saveCompleteThrough(ms);
  partitionsWithFacts = () => this.inner.partitionsWithFacts();
  forEachCaseOfYear = (
    year: number,
    each: (f: CaseFacts, partition: number) => void,
    partitions?: readonly number[],
  ) => this.inner.forEachCaseOfYear(year, each, partitions);
  drop = () => this.inner.drop();
}

/** One enforcement case's acts, days after its registration; and reviews of it. */
const enforcement = fc.record({
  partition: fc.integer({ min: 0, max: PARTITIONS - 1 }),
  agency: fc.constantFrom('lz-eeb', 'lz-psb'),
  // From December 2020 to January 2022: the year's edges, and pages of several months.
  registered: fc.integer({ min: -31, max: 395 }),
  extendAfter: fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined }),
  penalty: fc.option(
    fc.record({
      after: fc.integer({ min: 1, max: 80 }),
      fineFen: fc.integer({ min: 0, max: 5_000_000 }),
      anomaly: fc.boolean(),
    }),
    { nil: undefined },
  ),
  orders: fc.array(
    fc.record({
      after: fc.integer({ min: 0, max: 100 }),
      window: fc.integer({ min: 1, max: 15 }),
      end: fc.constantFrom('answered', 'escalated', 'open'),
      endAfter: fc.integer({ min: 0, max: 20 }),
    }),
    { maxLength: 2 },
  ),
  concludeAfter: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  score: fc.integer({ min: 40, max: 100 }),
  // Hours between an act and its recording.
  lag: fc.integer({ min: 0, max: 72 }),
  review: fc.option(
    fc.record({
      partition: fc.integer({ min: 0, max: PARTITIONS - 1 }),
      after: fc.integer({ min: 1, max: 60 }),
      corrected: fc.option(fc.boolean(), { nil: undefined }),
    }),
    { nil: undefined },
  ),
});

/** What an arbitrary gives. */
type Of<A> = A extends fc.Arbitrary<infer T> ? T : never;
type Plan = Of<typeof enforcement>;

/** A case's history from its plan (acts in time order), and its review's. */
function histories(plan: Plan, i: number): { partition: number; history: History }[] {
  const lag = plan.lag * HOUR + 60_000;
  const h = new History(`c${i}`, plan.agency, lag);
  const day0 = at(2021, 1, 1, 9).getTime() + plan.registered * DAY;
  const due = day0 + 90 * DAY;
  const acts: { t: number; act: (t: Date) => void }[] = [];
  if (plan.extendAfter !== undefined)
    acts.push({
      t: day0 + plan.extendAfter * DAY,
      act: (t) => h.extend(t, new Date(due + 30 * DAY)),
    });
  const { penalty } = plan;
  if (penalty)
    acts.push({
      t: day0 + penalty.after * DAY,
      act: (t) => h.penalty(t, penalty.fineFen, penalty.anomaly),
    });
  plan.orders.forEach((o, n) => {
    const opened = day0 + o.after * DAY + n * HOUR;
    const orderId = `c${i}-o${n}`;
    acts.push({
      t: opened,
      act: (t) => h.openOrder(t, orderId, new Date(opened + o.window * DAY)),
    });
    if (o.end === 'answered')
      acts.push({ t: opened + o.endAfter * DAY + HOUR, act: (t) => h.answerOrder(t, orderId) });
    if (o.end === 'escalated')
      acts.push({
        t: opened + (o.window + o.endAfter) * DAY + HOUR,
        act: (t) => h.escalateOrder(t, orderId),
      });
  });
  const concluded =
    plan.concludeAfter === undefined ? undefined : day0 + plan.concludeAfter * DAY + 2 * HOUR;
  if (concluded !== undefined) {
    acts.push({ t: concluded, act: (t) => h.conclude(t) });
    acts.push({ t: concluded + HOUR, act: (t) => h.evaluate(t, plan.score) });
  }
  h.register(new Date(day0), { dueAt: new Date(due) });
  for (const { t, act } of acts.sort((a, b) => a.t - b.t)) act(new Date(t));
  const out = [{ partition: plan.partition, history: h }];
  const { review } = plan;
  if (review && concluded !== undefined) {
    const r = new History(`c${i}-r`, plan.agency, lag);
    const filed = concluded + review.after * DAY;
    r.file(new Date(filed), h.caseId).accept(new Date(filed + DAY));
    if (review.corrected !== undefined)
      r.concludeReview(new Date(filed + 30 * DAY), review.corrected);
    out.push({ partition: review.partition, history: r });
  }
  return out;
}

/** One step of the run: a chunk of a partition from where it was committed, and what befalls it. */
const step = fc.record({
  partition: fc.integer({ min: 0, max: PARTITIONS - 1 }),
  // Handled, but its offsets not committed (the process died first): delivered again.
  uncommitted: fc.boolean(),
  length: fc.integer({ min: 1, max: 6 }),
  fault: fc.constantFrom<Fault>('none', 'none', 'none', 'before', 'part', 'after'),
  on: fc.constantFrom<'pages' | 'progress'>('pages', 'progress'),
  // A restart before the chunk: a new process with nothing in memory, keeping that many pages.
  restart: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 4, nil: undefined }),
});

/**
 * Reporting's projection on the real MongoDB-wire server, against the pure
 * fold of each case's history: random cases and reviews spread over the
 * partitions and over months (so a partition has several pages, read back
 * after eviction), their events interleaved at random within a partition
 * (a few after their case's next one, a few of an event type added since,
 * which the case moves past), delivered in random chunks, some
 * again (handled, not committed), with writes failing before,
 * part-way through or after they land, and restarts. Every case's facts as
 * stored, and the year's figures from them, equal the histories'.
 */
describe("reporting's projection on the real store, against the histories' fold", () => {
  let client: MongoClient;
  let run = 0;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
  });
  afterAll(async () => {
    await client?.close();
  });

  it('stores every case as its history gives it, whatever the chunks, faults, redeliveries and restarts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(enforcement, { minLength: 1, maxLength: 8 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 80, maxLength: 80 }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 2 }),
        // The most a case's facts hold waiting, where not the default: small
        // enough that events waiting for a late one are dead-lettered.
        fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined }),
        async (plans, mix, steps, late, newer, limit) => {
          const db = client.db(uniqueName(`rep-oracle-${++run}`).replace(/-/g, '_'));
          try {
            const cases = plans.flatMap((p, i) => histories(p, i));
            // A few events are of a type added since this version of
            // reporting: they decode without a payload, and the case moves past them.
            const all = cases.flatMap(({ history }) => history.events);
            const unknown = new Set(newer.flatMap((n) => all[n % all.length]?.eventId ?? []));
            // Each partition's messages: its cases' events interleaved at random, each case's in order.
            const byPartition: Message[][] = Array.from({ length: PARTITIONS }, () => []);
            let n = 0;
            const keyed: { partition: number; key: number; e: events.CaseEvent }[] = [];
            for (const { partition, history } of cases) {
              const keys = history.events
                .map(() => mix[n++ % mix.length] ?? 0)
                .sort((a, b) => a - b);
              history.events.forEach((e, i) => keyed.push({ partition, key: keys[i] ?? 0, e }));
            }
            keyed.sort((a, b) => a.key - b.key);
            // A few events come after their case's next one: an instance of intake
            // published it while a crashed one's earlier commit waited for the sweep.
            for (const at of late) {
              const i = at % keyed.length;
              const j = keyed.findIndex((x, k) => k > i && x.e.caseId === keyed[i]?.e.caseId);
              const [a, b] = [keyed[i], keyed[j]];
              if (j > i && a && b) [keyed[i], keyed[j]] = [b, a];
            }
            for (const { partition, e } of keyed) {
              const list = byPartition[partition] ?? [];
              const { payload: _unknown, ...rest } = e;
              const value = encode(unknown.has(e.eventId) ? rest : e);
              list.push({ offset: list.length, key: e.caseId, value });
            }

            const store = new FaultyStore(new MongoFactStore(db));
            const poison: string[] = [];
            /** Events dead-lettered for want of room, as `<case>/<version>`: sent again below. */
            const overflowed = new Set<string>();
            const deadLetters = {
              send: async (_k: unknown, v: Buffer | null, why: string) => {
                poison.push(why);
                if (!why.startsWith('waiting beyond')) return;
                const e = events.CaseEvent.decode(v ?? Buffer.alloc(0));
                overflowed.add(`${e.caseId}/${e.version}`);
              },
            };
            const projectorOf = (resident: number) =>
              new FactsProjector(store, deadLetters, () => undefined, resident, limit);
            let projector = projectorOf(2);
            const committed = byPartition.map(() => 0);
            // What completeThrough relies on: a partition's progress, as stored, never
            // names an offset whose event its stored pages lack, nor a recording time
            // later than every event they hold. After a chunk that was written
            // whole, it names the cases whose facts hold events for a missing
            // version, each with its earliest held event's recording time (what
            // reporting's gauge of waiting cases reads).
            const progressHeld = async (p: number, whole: boolean) => {
              const progress = (await store.progress()).find((x) => x.partition === p);
              if (!progress) return;
              const held = new Map<string, CaseFacts>();
              for (const page of await store.loadPartition(p))
                for (const f of page.cases) held.set(f.id, f);
              let recorded = 0;
              for (const [offset, m] of (byPartition[p] ?? []).entries()) {
                const e = events.CaseEvent.decode(m.value ?? Buffer.alloc(0));
                const f = held.get(e.caseId);
                // Applied, or waiting in the case's facts for a missing version,
                // or dead-lettered for want of room there.
                const stored =
                  (f?.v ?? 0) >= e.version ||
                  (f?.held ?? []).some((x) => x.version === e.version) ||
                  overflowed.has(`${e.caseId}/${e.version}`);
                if (offset <= progress.offset)
                  expect(stored, `${e.caseId} v${e.version} by offset ${progress.offset}`).toBe(
                    true,
                  );
                if (stored) recorded = Math.max(recorded, e.recordedAt?.getTime() ?? 0);
              }
              expect(progress.recordedMs).toBeLessThanOrEqual(recorded);
              if (!whole) return;
              const waiting: Record<string, number> = {};
              for (const f of held.values())
                if (f.held?.length)
                  waiting[f.id] = Math.min(...f.held.map((x) => Date.parse(String(x.recordedAt))));
              expect(progress.waiting ?? {}).toEqual(waiting);
            };
            const deliver = async (s: Of<typeof step>) => {
              const messages = byPartition[s.partition] ?? [];
              const from = committed[s.partition] ?? 0;
              const chunk = messages.slice(from, from + s.length);
              if (chunk.length === 0) return;
              if (s.restart !== undefined) projector = projectorOf(s.restart);
              store.next = { on: s.on, fault: s.fault };
              try {
                await projector.handleChunk(s.partition, chunk);
              } catch {
                await progressHeld(s.partition, false);
                return; // not committed: delivered again
              }
              await progressHeld(s.partition, true);
              if (!s.uncommitted) committed[s.partition] = from + chunk.length;
            };
            for (const s of steps) await deliver(s);
            // Then to the end, without faults.
            const toTheEnd = async () => {
              for (let p = 0; p < PARTITIONS; p++)
                while ((committed[p] ?? 0) < (byPartition[p]?.length ?? 0))
                  await deliver({
                    partition: p,
                    uncommitted: false,
                    length: 5,
                    fault: 'none',
                    on: 'pages',
                    restart: undefined,
                  });
            };
            await toTheEnd();
            // The cases with events dead-lettered for want of room are sent
            // again whole, in order, as `store republish` does.
            const republished = new Set([...overflowed].map((x) => x.split('/')[0]));
            for (const { partition, history } of cases)
              if (republished.has(history.caseId))
                for (const e of history.events) {
                  const list = byPartition[partition] ?? [];
                  const { payload: _unknown, ...rest } = e;
                  list.push({
                    offset: list.length,
                    key: e.caseId,
                    value: encode(unknown.has(e.eventId) ? rest : e),
                  });
                }
            await toTheEnd();

            // Each event of an unknown type dead-lettered (again where its chunk came again), nothing else.
            expect(poison.length).toBeGreaterThanOrEqual(unknown.size);
            for (const why of poison)
              expect(why).toMatch(
                /^(cannot apply v\d+: no payload|waiting beyond the case's limit)/,
              );
            const want = new Map(
              cases.map(({ history }) => [
                history.caseId,
                history.events.reduce(
                  (f, e) => (unknown.has(e.eventId) ? { ...f, v: e.version } : applyFact(f, e)),
                  emptyFacts(history.caseId),
                ),
              ]),
            );
            const stored = new Map<string, CaseFacts>();
            for (let p = 0; p < PARTITIONS; p++)
              for (const page of await store.loadPartition(p))
                for (const f of page.cases) {
                  expect(stored.has(f.id), `${f.id} on one page only`).toBe(false);
                  stored.set(f.id, f);
                }
            expect(stored).toEqual(want);
            const progress = new Map((await store.progress()).map((x) => [x.partition, x.offset]));
            for (const [p, messages] of byPartition.entries())
              if (messages.length > 0) expect(progress.get(p)).toBe(messages.length - 1);
            // Every gap filled: no partition names a case waiting.
            expect((await store.progress()).flatMap((x) => Object.keys(x.waiting ?? {}))).toEqual(
              [],
            );
            // The year's figures, read from the store as the service reads them.
            const asOf = at(2023, 1, 1).getTime();
            const fromStore = new StatisticsFold(2021, asOf);
            await store.forEachCaseOfYear(2021, (f) => fromStore.add(f));
            const fromHistories = new StatisticsFold(2021, asOf);
            for (const f of want.values()) fromHistories.add(f);
            expect(digestOf(fromStore.result(), 'ALL')).toBe(
              digestOf(fromHistories.result(), 'ALL'),
            );
          } finally {
            await db.dropDatabase();
          }
        },
      ),
      {
        numRuns: Number(process.env.RUNS ?? 12),
        ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
      },
    );
  });

  it('answers as of a moment the figures that moment keeps, however much of the year is applied after', async () => {
    // Asked often, between small moves: an answer is worth checking at every step.
    const move = fc.oneof(
      {
        arbitrary: fc.record({
          kind: fc.constant('time' as const),
          hours: fc.integer({ min: 0, max: 480 }),
        }),
        weight: 2,
      },
      {
        arbitrary: fc.record({
          kind: fc.constant('apply' as const),
          partition: fc.integer({ min: 0, max: PARTITIONS - 1 }),
          length: fc.integer({ min: 1, max: 6 }),
        }),
        weight: 3,
      },
      {
        // As of now or hours before it; on the OCCURRED basis, as recorded
        // through now or hours before it (each no later than complete).
        arbitrary: fc.record({
          kind: fc.constant('ask' as const),
          basis: fc.constantFrom('RECORDED' as const, 'OCCURRED' as const),
          asOfBackHours: fc.option(fc.integer({ min: 0, max: 2_000 })),
          recordedBackHours: fc.option(fc.integer({ min: 0, max: 2_000 })),
        }),
        weight: 4,
      },
      { arbitrary: fc.constant({ kind: 'restart' as const }), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(enforcement, { minLength: 1, maxLength: 8 }),
        fc.array(move, { minLength: 1, maxLength: 80 }),
        fc.integer({ min: 1, max: 30 }),
        fc.array(fc.integer({ min: 0, max: SETTLE - 1 }), { minLength: 1, maxLength: 40 }),
        async (plans, moves, groupDays, delays) => {
          const db = client.db(uniqueName(`rep-asof-${++run}`).replace(/-/g, '_'));
          try {
            // Intake records a group of commands at one moment: recording times fall on
            // marks here (every `groupDays`), so a partition holds runs of events recorded
            // together, which a chunk may end in the middle of.
            const GROUP = groupDays * DAY;
            const cases = plans
              .flatMap((p, i) => histories(p, i))
              .map(({ partition, history }, rank) => ({
                partition,
                rank,
                events: history.events.map((e) =>
                  events.CaseEvent.fromPartial({
                    ...e,
                    recordedAt: new Date(Math.ceil((e.recordedAt?.getTime() ?? 0) / GROUP) * GROUP),
                  }),
                ),
              }));
            // Each partition in the order events reach Kafka: each up to SETTLE after
            // its recording (instances of intake publish side by side), a case's in order.
            const byPartition: { arrivedMs: number; message: Message }[][] = Array.from(
              { length: PARTITIONS },
              () => [],
            );
            let d = 0;
            const arriving = cases.flatMap((c) => {
              let last = 0;
              return c.events.map((e) => {
                const recordedMs = e.recordedAt?.getTime() ?? 0;
                last = Math.max(last, recordedMs + (delays[d++ % delays.length] ?? 0));
                return { c, e, arrivedMs: last };
              });
            });
            arriving.sort(
              (a, b) =>
                a.arrivedMs - b.arrivedMs || a.c.rank - b.c.rank || a.e.version - b.e.version,
            );
            for (const { c, e, arrivedMs } of arriving) {
              const list = byPartition[c.partition] ?? [];
              list.push({
                arrivedMs,
                message: { offset: list.length, key: e.caseId, value: encode(e) },
              });
            }
            const facts = cases.map((c) =>
              c.events.reduce(applyFact, emptyFacts(c.events[0]?.caseId ?? '')),
            );

            let now = Math.min(...arriving.map((x) => x.arrivedMs)) - HOUR;
            // What is on the topic: every event that reached it by now.
            const published = (p: number) =>
              (byPartition[p] ?? []).filter((x) => x.arrivedMs <= now).length;
            const highWatermarks = async () =>
              new Map(byPartition.map((_, p) => [p, published(p)] as const));
            const store = new MongoFactStore(db);
            const clock = { now: () => new Date(now) };
            let reports = new Reports(store, highWatermarks, clock, SETTLE);
            const projector = new FactsProjector(
              store,
              { send: async () => undefined },
              () => undefined,
              2,
            );
            const applied = byPartition.map(() => 0);
            const answers: {
              basis: Basis;
              asOfMs: number;
              recordedMs: number;
              position: number;
              digest: string;
            }[] = [];
            const apply = async (p: number, length: number) => {
              const upTo = Math.min(published(p), (applied[p] ?? 0) + length);
              const chunk = (byPartition[p] ?? [])
                .slice(applied[p] ?? 0, upTo)
                .map((x) => x.message);
              if (chunk.length === 0) return;
              await projector.handleChunk(p, chunk);
              applied[p] = upTo;
            };
            const ask = async (
              basis: Basis = 'RECORDED',
              asOfBackHours: number | null = null,
              recordedBackHours: number | null = null,
            ) => {
              const through = await reports.completeThrough();
              const back = (hours: number | null) =>
                hours === null ? undefined : new Date(through - hours * HOUR);
              const asOf = back(asOfBackHours);
              const recordedThrough = basis === 'OCCURRED' ? back(recordedBackHours) : undefined;
              const s = await reports.statistics(2021, asOf, basis, recordedThrough);
              // The answer names the moments asked for, or, not given, the complete one.
              expect([s.basis, s.asOfMs, s.recordedThroughMs]).toEqual([
                basis,
                asOf?.getTime() ?? through,
                basis === 'RECORDED' ? s.asOfMs : (recordedThrough?.getTime() ?? through),
              ]);
              answers.push({
                basis: s.basis,
                asOfMs: s.asOfMs,
                recordedMs: s.recordedThroughMs,
                position: s.position,
                digest: digestOf(s, 'ALL'),
              });
            };
            for (const m of moves) {
              if (m.kind === 'time') now += m.hours * HOUR;
              else if (m.kind === 'apply') await apply(m.partition, m.length);
              else if (m.kind === 'ask') await ask(m.basis, m.asOfBackHours, m.recordedBackHours);
              else reports = new Reports(store, highWatermarks, clock, SETTLE);
            }
            // The rest of the year, and a last answer.
            now = Math.max(now, ...arriving.map((x) => x.arrivedMs)) + SETTLE;
            for (let p = 0; p < PARTITIONS; p++) await apply(p, Number.MAX_SAFE_INTEGER);
            await ask();

            for (const a of answers) {
              const fold = new StatisticsFold(2021, a.asOfMs, a.basis, a.recordedMs);
              for (const f of facts) fold.add(f);
              const want = fold.result();
              const moment = {
                basis: a.basis,
                asOf: new Date(a.asOfMs).toISOString(),
                recordedThrough: new Date(a.recordedMs).toISOString(),
              };
              expect(
                { ...moment, position: a.position, digest: a.digest },
                'the figures as of a moment answered before',
              ).toEqual({ ...moment, position: want.position, digest: digestOf(want, 'ALL') });
            }
          } finally {
            await db.dropDatabase();
          }
        },
      ),
      {
        numRuns: Number(process.env.RUNS ?? 25),
        ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
      },
    );
  });
});

const encode = (e: events.CaseEvent): Buffer => Buffer.from(events.CaseEvent.encode(e).finish());
