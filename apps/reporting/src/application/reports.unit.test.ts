import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { generateYear, SyntheticHistory } from '@enforcement/generator';
import { applyFact, emptyFacts, type CaseFacts } from '../domain/facts.js';
import { listingOrder, type CaseCursor } from '../domain/case-list.js';
import { StatisticsFold } from '../domain/statistics.js';
import { at, History } from '../test-support/events.js';
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

/**
 * Reports over facts held in memory, on `partitions` partitions by the case
 * id (`onRead` is told each partition read). A partition's progress moves
 * whenever its facts do, as a chunk's progress is saved after its pages.
 */
function reportsOver(
  facts: Iterable<CaseFacts>,
  onRead: (partition: number) => void = () => undefined,
  now = () => new Date(),
  partitions = 1,
) {
  const partitionOf = (f: CaseFacts) =>
    [...f.id].reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % partitions;
  const of = (p: number) => [...facts].filter((f) => partitionOf(f) === p);
  const all = Array.from({ length: partitions }, (_, p) => p);
  const store = {
    progress: async (): Promise<Progress[]> =>
      all.map((p) => ({ partition: p, offset: JSON.stringify(of(p)).length, recordedMs: 0 })),
    partitionsWithFacts: async () => all,
    loadCompleteThrough: async () => 0,
    saveCompleteThrough: async () => undefined,
    forEachCaseOfYear: async (
      _: number,
      each: (f: CaseFacts, p: number) => void,
      only: readonly number[] = all,
    ) => {
      for (const p of only) {
        onRead(p);
        for (const f of of(p)) each(f, p);
      }
    },
  } as unknown as FactStore;
  return new Reports(store, async () => new Map(), { now }, 0);
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

  it('stops the settle time before the recording moment of the last event a lagging partition applied', async () => {
    // Intake recorded a group at T; the partition's chunk ended inside it, and
    // another instance's event recorded a little before T may come after it.
    const { store } = fakeStore([{ partition: 0, offset: 4, recordedMs: T }]);
    const reports = new Reports(
      store,
      async () => new Map([[0, 9]]),
      { now: () => new Date(T + 60_000) },
      2_000,
    );
    expect(await reports.completeThrough()).toBe(T - 2_001);
    await expect(reports.statistics(2021, new Date(T - 2_000))).rejects.toThrow(/as_of/);
  });
});

describe('statistics of one district or one agency', () => {
  it("equal that district's and that agency's rows of the whole city's statistics", async () => {
    const y = generateYear({
      seed: 'only',
      cases: 400,
      evaluate: true,
      reconsideration: { accepted: 40, concluded: 35, corrected: 8, notAccepted: 2 },
    });
    const history = new SyntheticHistory();
    const facts = new Map<string, CaseFacts>();
    for (const command of y.stream()) {
      const e = history.next(command);
      facts.set(e.caseId, applyFact(facts.get(e.caseId) ?? emptyFacts(e.caseId), e));
    }
    const reports = reportsOver([...facts.values()]);
    const city = await reports.statistics(2021);
    const district = city.groups.DISTRICT[0];
    const agency = city.groups.AGENCY[0];
    expect(district?.casesRegistered).toBeGreaterThan(0);
    const { key: _d, rank: _dr, ...districtFigures } = district ?? { key: '', rank: 0 };
    const { key: _a, rank: _ar, ...agencyFigures } = agency ?? { key: '', rank: 0 };
    const inDistrict = await reports.statistics(2021, undefined, 'RECORDED', undefined, {
      district: district?.key,
    });
    expect(inDistrict.overall).toMatchObject(districtFigures);
    expect(inDistrict.groups.DISTRICT.map((g) => g.key)).toEqual([district?.key]);
    const ofAgency = await reports.statistics(2021, undefined, 'RECORDED', undefined, {
      agency: agency?.key,
    });
    expect(ofAgency.overall).toMatchObject(agencyFigures);
    // Within the district, its agencies' cases add up to the district's.
    expect(inDistrict.groups.AGENCY.reduce((n, g) => n + g.casesRegistered, 0)).toBe(
      district?.casesRegistered,
    );
  });
});

describe('answers for one moment', () => {
  it('read the facts once for every grouping asked of that moment, and again for another moment', async () => {
    let reads = 0;
    const now = Date.UTC(2026, 10, 30, 12);
    const reports = reportsOver(
      [],
      () => {
        reads += 1;
      },
      () => new Date(now),
    );
    const first = await reports.statistics(2021);
    const asOf = new Date(first.asOfMs);
    await Promise.all([reports.statistics(2021, asOf), reports.statistics(2021, asOf)]);
    expect(reads).toBe(1);
    await reports.statistics(2021, new Date(first.asOfMs - 1_000));
    await reports.statistics(2021, asOf, 'RECORDED', undefined, { district: '柳南区' });
    expect(reads).toBe(3);
  });
});

describe('answers as of now', () => {
  it('read the facts again only once a partition moves or a deadline passes, and name the moment asked for', async () => {
    let reads = 0;
    let now = at(2021, 6, 1).getTime();
    const due = at(2021, 6, 30).getTime();
    const facts = [
      new History('c1').register(at(2021, 4, 1), { dueAt: new Date(due) }).facts(),
      new History('c2')
        .register(at(2021, 4, 2))
        .conclude(at(2021, 5, 2))
        .facts(),
    ];
    const reports = reportsOver(
      facts,
      () => {
        reads += 1;
      },
      () => new Date(now),
    );
    const first = await reports.statistics(2021);
    expect(first).toMatchObject({ asOfMs: now, overall: { casesRegistered: 2, overdueCases: 0 } });
    // The clock moves on, nothing else does: the same figures, as of the new moment.
    now += 86_400_000;
    const second = await reports.statistics(2021);
    expect(reads).toBe(1);
    expect(second).toEqual({ ...first, asOfMs: now, recordedThroughMs: now });
    const occurred = await reports.statistics(2021, undefined, 'OCCURRED');
    expect(occurred.overall).toEqual(first.overall);
    expect(reads).toBe(2);
    // Up to the moment c1's deadline passes, and past it.
    now = due;
    await reports.statistics(2021, undefined, 'OCCURRED');
    expect((await reports.statistics(2021)).overall.overdueCases).toBe(0);
    expect(reads).toBe(2);
    now = due + 1;
    expect((await reports.statistics(2021)).overall.overdueCases).toBe(1);
    expect(reads).toBe(3);
    // A case recorded since: its partition's progress moves.
    facts.push(
      new History('c3', 'lz-eeb', 0)
        .register(new Date(now - 1_000), { dueAt: new Date(now) })
        .facts(),
    );
    now += 1_000;
    expect((await reports.statistics(2021)).overall.casesRegistered).toBe(3);
    expect(reads).toBe(4);
    // And an asked moment is the same figures as that moment's answer as of now.
    expect(await reports.statistics(2021, new Date(due + 1))).toMatchObject({
      overall: { casesRegistered: 2, overdueCases: 1 },
    });
  });
});

describe('answers as of now, folded per partition', () => {
  const DAY = 86_400_000;
  const start = at(2021, 3, 1).getTime();
  it('read again only the partitions that moved or reached their next moment', async () => {
    const read: number[] = [];
    let now = start;
    const facts = [0, 1, 2, 3, 4, 5].map((i) =>
      new History(`c${i}`).register(new Date(start - (10 + i) * DAY)).facts(),
    );
    const reports = reportsOver(
      facts,
      (p) => read.push(p),
      () => new Date(now),
      3,
    );
    await reports.statistics(2021);
    expect(read.sort()).toEqual([0, 1, 2]);
    read.length = 0;
    // One new case: its partition alone is read again.
    facts.push(new History('c6', 'lz-eeb', 0).register(new Date(now - 1_000)).facts());
    now += 1_000;
    expect((await reports.statistics(2021)).overall.casesRegistered).toBe(7);
    expect(read).toHaveLength(1);
  });

  it('equal one fold of every case as of that moment, whatever moved and whenever asked', async () => {
    const act = fc.oneof(
      fc.record({ tick: fc.integer({ min: 0, max: 2_000 }) }),
      fc.record({
        registered: fc.integer({ min: 0, max: 100 }),
        window: fc.integer({ min: 1, max: 60 }),
        concluded: fc.option(fc.integer({ min: 0, max: 90 }), { nil: undefined }),
        order: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(act, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 5 }),
        async (acts, partitions) => {
          let now = start;
          const facts: CaseFacts[] = [];
          const reports = reportsOver(facts, undefined, () => new Date(now), partitions);
          for (const [i, a] of acts.entries()) {
            if ('tick' in a) now += a.tick * 3_600_000;
            else {
              // A case registered days before and recorded only now (after every
              // moment answered so far, as completeThrough promises), its later
              // acts as late: its deadline, maybe a conclusion or an order.
              now += 1;
              const reg = now - a.registered * DAY;
              let h = new History(`c${i}`, 'lz-eeb', now - reg).register(new Date(reg), {
                dueAt: new Date(reg + a.window * DAY),
              });
              if (a.concluded !== undefined) h = h.conclude(new Date(reg + a.concluded * DAY));
              if (a.order !== undefined)
                h = h.openOrder(new Date(reg), `o${i}`, new Date(reg + a.order * DAY));
              facts.push(h.facts());
            }
            const whole = new StatisticsFold(2021, now);
            for (const f of facts) whole.add(f);
            expect(await reports.statistics(2021)).toEqual(whole.result());
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('the cases of an officer, a unit or an agency', () => {
  it('are exactly those the year dispatched to them, each once, registered first first', async () => {
    const y = generateYear({
      seed: 'list',
      cases: 300,
      evaluate: true,
      reconsideration: { accepted: 20, concluded: 18, corrected: 4, notAccepted: 1 },
    });
    const history = new SyntheticHistory();
    const facts = new Map<string, CaseFacts>();
    // The oracle reads the commands, not the facts.
    const byOfficer = new Map<string, Set<string>>();
    const byUnit = new Map<string, Set<string>>();
    const reviewsOf = new Map<string, Set<string>>();
    for (const command of y.stream()) {
      const e = history.next(command);
      facts.set(e.caseId, applyFact(facts.get(e.caseId) ?? emptyFacts(e.caseId), e));
      if (command.kind?.$case === 'dispatchCase') {
        const d = command.kind.value;
        const caseId = d.meta?.caseId ?? '';
        for (const o of d.officers)
          byOfficer.set(o.officerId, (byOfficer.get(o.officerId) ?? new Set()).add(caseId));
        byUnit.set(d.unitId, (byUnit.get(d.unitId) ?? new Set()).add(caseId));
      }
      if (command.kind?.$case === 'fileReconsideration') {
        const r = command.kind.value;
        reviewsOf.set(
          r.enforcementCaseId,
          (reviewsOf.get(r.enforcementCaseId) ?? new Set()).add(r.meta?.caseId ?? ''),
        );
      }
    }
    const reports = reportsOver([...facts.values()]);
    const [officer, cases] = [...byOfficer].sort((a, b) => b[1].size - a[1].size)[0] ?? [
      '',
      new Set(),
    ];
    const listed = await reports.cases(2021, { officer }, { offset: 0 }, 1000);
    expect(new Set(listed.cases.map((c) => c.caseId))).toEqual(cases);
    expect(listed.total).toBe(cases.size);
    expect(listed.cases.every((c) => c.officerIds.includes(officer))).toBe(true);
    const registered = listed.cases.map((c) => c.registeredMs);
    expect(registered).toEqual([...registered].sort((a, b) => a - b));
    const [unit, unitCases] = [...byUnit][0] ?? ['', new Set()];
    const page1 = await reports.cases(2021, { unit }, { offset: 0 }, 5);
    const page2 = await reports.cases(2021, { unit }, { offset: 5 }, 1000);
    expect(new Set([...page1.cases, ...page2.cases].map((c) => c.caseId))).toEqual(unitCases);
    expect(page1.cases).toHaveLength(Math.min(5, unitCases.size));
    // The reviews about a case: all of them, and only reviews.
    expect(reviewsOf.size).toBeGreaterThan(0);
    for (const [target, reviews] of reviewsOf) {
      const about = await reports.cases(2021, { about: target }, { offset: 0 }, 1000);
      expect(new Set(about.cases.map((c) => c.caseId)), target).toEqual(reviews);
      expect(about.cases.every((c) => c.kind !== 'ENFORCEMENT' && c.about === target)).toBe(true);
    }
  });
});

describe('a walk through the listing, page after page', () => {
  const T0 = Date.UTC(2021, 2, 1);
  /** An enforcement case registered at `ms` (many share a moment: the case id breaks the tie). */
  const registered = (id: string, ms: number): CaseFacts => ({
    ...emptyFacts(id),
    agency: 'lz-eeb',
    reg: [ms, ms, 0],
  });
  const ids = fc.string({
    minLength: 1,
    maxLength: 4,
    unit: fc.constantFrom('a', 'B', 'c', '-', '1'),
  });
  const at = fc.integer({ min: T0, max: T0 + 5 });

  it('shows each case there when it began exactly once, in order, whatever the year gains between pages', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.tuple(ids, at), { selector: ([id]) => id, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 4 }),
        async (all, gains, size, partitions) => {
          // The year starts with some of the cases; the rest arrive between pages.
          const first = Math.ceil(all.length / 2);
          const year = all.slice(0, first).map(([id, ms]) => registered(id, ms));
          const later = all.slice(first).map(([id, ms]) => registered(id, ms));
          const reports = reportsOver(year, undefined, undefined, partitions);
          const walked: { registeredMs: number; caseId: string }[] = [];
          let cursor: CaseCursor = { offset: 0 };
          for (let page = 0; ; page++) {
            const got = await reports.cases(2021, {}, cursor, size);
            walked.push(...got.cases);
            expect(got.total).toBe(year.length);
            const last = got.cases.at(-1);
            if (!got.more || !last) break;
            cursor = { afterMs: last.registeredMs, afterId: last.caseId };
            year.push(...later.splice(0, gains[page % Math.max(gains.length, 1)] ?? 0));
          }
          // In the listing's order, each case once: never a case shown twice or out of turn.
          walked.forEach((c, i) => {
            const before = walked[i - 1];
            if (before) expect(listingOrder(before, c)).toBeLessThan(0);
          });
          // Nothing there when the walk began is missed.
          const seen = new Set(walked.map((c) => c.caseId));
          for (const [id] of all.slice(0, first)) expect(seen, id).toContain(id);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads the year once for the pages asked while no partition moves, and again once one does', async () => {
    let reads = 0;
    const year = ['a', 'b', 'c'].map((id, i) => registered(id, T0 + i));
    const reports = reportsOver(year, () => void reads++);
    const first = await reports.cases(2021, {}, { offset: 0 }, 2);
    const last = first.cases.at(-1);
    if (!last) throw new Error('no case listed');
    const next = await reports.cases(
      2021,
      {},
      { afterMs: last.registeredMs, afterId: last.caseId },
      2,
    );
    expect(next.cases.map((c) => c.caseId)).toEqual(['c']);
    await reports.cases(2021, { agency: 'lz-eeb' }, { offset: 0 }, 10);
    expect(reads).toBe(1);
    // A chunk applies a new case: the next page reads the year again and lists it.
    year.push(registered('d', T0 + 3));
    const after = await reports.cases(2021, {}, { afterMs: T0 + 2, afterId: 'c' }, 2);
    expect(after.cases.map((c) => c.caseId)).toEqual(['d']);
    expect(reads).toBe(2);
    // Another year is read on its own.
    await reports.cases(2022, {}, { offset: 0 }, 2);
    expect(reads).toBe(3);
  });

  it('reads again only the partitions whose progress moved, and lists the year in order across them', async () => {
    const read: number[] = [];
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l'];
    const year = ids.map((id, i) => registered(id, T0 + (i % 5)));
    const reports = reportsOver(year, (p) => void read.push(p), undefined, 4);
    const listed = async () =>
      (await reports.cases(2021, {}, { offset: 0 }, 100)).cases.map((c) => c.caseId);
    const inOrder = () =>
      [...year].sort((x, y) => (x.reg?.[0] ?? 0) - (y.reg?.[0] ?? 0) || x.id.localeCompare(y.id));
    expect(await listed()).toEqual(inOrder().map((f) => f.id));
    expect(read.sort()).toEqual([0, 1, 2, 3]);
    // One case arrives: only its partition is read again, and it takes its place.
    read.length = 0;
    year.push(registered('m', T0 + 2));
    expect(await listed()).toEqual(inOrder().map((f) => f.id));
    expect(read).toHaveLength(1);
    // Nothing moved: nothing is read.
    read.length = 0;
    await listed();
    expect(read).toEqual([]);
  });

  it('says an open case is overdue as of each call, not as of the read it was kept from', async () => {
    let now = T0 + 10;
    const open: CaseFacts = { ...registered('open', T0), due: [[T0 + 20, T0, 0]] };
    const reports = reportsOver([open], undefined, () => new Date(now));
    expect((await reports.cases(2021, {}, { offset: 0 }, 1)).cases[0]?.overdue).toBe(false);
    now = T0 + 30;
    expect((await reports.cases(2021, {}, { offset: 0 }, 1)).cases[0]?.overdue).toBe(true);
  });

  it('starts after the cursor, and reads a token given before cursors as an offset', async () => {
    const reports = reportsOver(['c', 'a', 'b', 'd'].map((id, i) => registered(id, T0 + (i % 2))));
    const all = await reports.cases(2021, {}, { offset: 0 }, 10);
    expect(all.cases.map((c) => c.caseId)).toEqual(['b', 'c', 'a', 'd']);
    expect(all.more).toBe(false);
    const byOffset = await reports.cases(2021, {}, { offset: 1 }, 2);
    expect(byOffset.cases.map((c) => c.caseId)).toEqual(['c', 'a']);
    expect(byOffset.more).toBe(true);
    const after = await reports.cases(2021, {}, { afterMs: T0, afterId: 'c' }, 2);
    expect(after.cases.map((c) => c.caseId)).toEqual(['a', 'd']);
    expect(after.more).toBe(false);
    expect(after.total).toBe(4);
  });
});
