import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { at, History } from '../test-support/events.js';
import { StatisticsFold, digestOf, type AnnualStatistics } from './statistics.js';
import type { CaseFacts } from './facts.js';

const NOW = at(2026, 1, 1).getTime();

function stats(year: number, facts: CaseFacts[], asOf = NOW): AnnualStatistics {
  const fold = new StatisticsFold(year, asOf);
  for (const f of facts) fold.add(f);
  return fold.result();
}

describe('annual statistics', () => {
  it('counts a case registered in one year and concluded in the next in each year for what happened in it', () => {
    const c = new History('c1')
      .register(at(2021, 12, 10))
      .conclude(at(2022, 2, 8))
      .facts();
    const y2021 = stats(2021, [c]);
    const y2022 = stats(2022, [c]);
    expect(y2021.overall).toMatchObject({ casesRegistered: 1, casesConcluded: 0, closureRate: 1 });
    expect(y2022.overall).toMatchObject({
      casesRegistered: 0,
      casesConcluded: 1,
      meanHandlingDays: 60,
      p90HandlingDays: 60,
    });
  });

  it('measures handling days on the city calendar, whatever the hour', () => {
    // 23:30 and 00:30 local are one calendar day apart, though one hour apart in time.
    const c = new History('c1')
      .register(at(2021, 3, 1, 23.5))
      .conclude(at(2021, 3, 2, 0.5))
      .facts();
    expect(stats(2021, [c]).overall.meanHandlingDays).toBe(1);
  });

  it('takes the mean and the nearest-rank p90 of handling days', () => {
    const facts = [1, 2, 3, 4, 5, 6, 7, 8, 9, 30].map((d, i) =>
      new History(`c${i}`)
        .register(at(2021, 1, 1))
        .conclude(at(2021, 1, 1 + d))
        .facts(),
    );
    const o = stats(2021, facts).overall;
    expect(o.meanHandlingDays).toBe(7.5);
    expect(o.p90HandlingDays).toBe(9);
    expect(o.closureRate).toBe(1);
  });

  it('takes them as the sorted list of every case would, for any days, in any group', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom('城中区', '鱼峰区')), {
          minLength: 1,
          maxLength: 60,
        }),
        (cases) => {
          const facts = cases.map(([d, district], i) =>
            new History(`c${i}`)
              .register(at(2021, 1, 1), { district })
              .conclude(new Date(at(2021, 1, 1).getTime() + d * 86_400_000))
              .facts(),
          );
          const s = stats(2021, facts);
          const expected = (days: number[]) => {
            const sorted = [...days].sort((a, b) => a - b);
            const sum = sorted.reduce((a, b) => a + b, 0);
            return {
              meanHandlingDays: Math.round((sum / sorted.length) * 100) / 100,
              p90HandlingDays: sorted[Math.ceil(0.9 * sorted.length) - 1],
            };
          };
          expect(s.overall).toMatchObject(expected(cases.map(([d]) => d)));
          for (const row of s.groups.DISTRICT)
            expect(row).toMatchObject(
              expected(cases.filter(([, district]) => district === row.key).map(([d]) => d)),
            );
        },
      ),
    );
  });

  it('places a case in the year only by facts recorded by the moment asked for: one recorded later changes no earlier answer', () => {
    // A review of 2020, concluded (and recorded) in 2021: as of a moment
    // before the conclusion was recorded, nothing of it is dated in 2021.
    const r = new History('r1')
      .file(at(2020, 12, 30), 'c1')
      .accept(at(2020, 12, 31))
      .concludeReview(at(2021, 1, 29), false)
      .facts();
    const before = at(2021, 1, 10).getTime();
    expect(stats(2021, [r], before).position).toBe(0);
    expect(stats(2021, [r], before).position).toBe(
      stats(2021, [{ ...r, reviewConcluded: undefined }], before).position,
    );
    // Once it is recorded, the review counts in the year, its earlier stamps too.
    expect(stats(2021, [r]).position).toBe(r.reviewConcluded?.at[2]);
  });

  it('on the OCCURRED basis too, places a case in the year only by facts recorded through the moment given', () => {
    // The same review, its conclusion of 2021-01-29 reported twenty days late:
    // as of 2021-02-10 as recorded through 2021-02-01 nothing of it is dated
    // in 2021, while as recorded through now it is, its 2020 stamps too.
    const r = new History('r1', 'lz-eeb', 20 * 86_400_000)
      .file(at(2020, 12, 30), 'c1')
      .accept(at(2020, 12, 31))
      .concludeReview(at(2021, 1, 29), false)
      .facts();
    const asOf = at(2021, 2, 10).getTime();
    const occurred = (recordedThrough: number) =>
      new StatisticsFold(2021, asOf, 'OCCURRED', recordedThrough);
    const early = occurred(at(2021, 2, 1).getTime());
    early.add(r);
    expect(early.result().position).toBe(0);
    const late = occurred(NOW);
    late.add(r);
    expect(late.result().position).toBe(r.reviewConcluded?.at[2]);
  });

  it('counts a reconsideration concluded after the year ends as accepted in the year but not concluded', () => {
    const r = new History('r1')
      .file(at(2021, 11, 1), 'c1')
      .accept(at(2021, 11, 5))
      .concludeReview(at(2022, 1, 20), true)
      .facts();
    expect(stats(2021, [r]).overall).toMatchObject({
      reconsiderationsAccepted: 1,
      reconsiderationsConcluded: 0,
      reconsiderationsCorrected: 0,
      correctionRate: 0,
    });
    expect(stats(2022, [r]).overall).toMatchObject({
      reconsiderationsAccepted: 0,
      reconsiderationsConcluded: 1,
      reconsiderationsCorrected: 1,
      correctionRate: 1,
    });
  });

  it('leaves litigation out of the reconsideration figures', () => {
    const l = new History('l1')
      .file(at(2021, 3, 1), 'c1', 2)
      .accept(at(2021, 3, 2))
      .concludeReview(at(2021, 4, 1), true)
      .facts();
    expect(stats(2021, [l]).overall.reconsiderationsAccepted).toBe(0);
  });

  it('gives the figures as they stood at a moment between two events of one case', () => {
    const h = new History('c1')
      .register(at(2021, 3, 1), { dueAt: at(2021, 5, 30) })
      .penalty(at(2021, 4, 1), 500_000, true)
      .conclude(at(2021, 4, 10));
    const c = h.facts();
    const between = at(2021, 4, 5).getTime();
    const before = stats(2021, [c], between);
    expect(before.overall).toMatchObject({
      casesRegistered: 1,
      casesConcluded: 0,
      closureRate: 0,
      penalties: 1,
      penaltyTotalFen: 500_000,
      discretionAnomalies: 1,
    });
    expect(before.position).toBe(h.events[1]?.position);
    expect(before.asOfMs).toBe(between);
    expect(stats(2021, [c]).overall).toMatchObject({ casesConcluded: 1, closureRate: 1 });
  });

  it("states the position of the year's facts only, whatever other cases it is handed", () => {
    const inYear = new History('c1').register(at(2021, 3, 1)).conclude(at(2021, 4, 10));
    // Registered in 2020, recorded after the 2021 case: it shares a page
    // with 2021's cases in some layouts of the read model and not in others.
    const before = new History('c0').add(
      at(2020, 3, 1),
      { $case: 'caseRegistered', value: events.CaseRegistered.fromPartial({ agencyId: 'lz-eeb' }) },
      at(2021, 5, 1),
    );
    const alone = stats(2021, [inYear.facts()]);
    const handed = stats(2021, [inYear.facts(), before.facts()]);
    expect(handed.position).toBe(inYear.events[1]?.position);
    expect(handed).toEqual(alone);
  });

  it('counts a fact by when it was recorded, not when it happened, for an as-of moment', () => {
    // Concluded on April 10 but only reported to intake on May 20.
    const c = new History('c1')
      .register(at(2021, 3, 1))
      .add(
        at(2021, 4, 10),
        { $case: 'caseConcluded', value: { conclusion: 1, summary: '' } },
        at(2021, 5, 20),
      )
      .facts();
    expect(stats(2021, [c], at(2021, 5, 1).getTime()).overall.casesConcluded).toBe(0);
    expect(stats(2021, [c], at(2021, 5, 21).getTime()).overall.casesConcluded).toBe(1);
  });

  it('on the occurred basis, puts an act reported late back where it happened, up to what was recorded', () => {
    // Concluded on April 10 but only reported to intake on May 20.
    const c = new History('c1')
      .register(at(2021, 3, 1))
      .add(
        at(2021, 4, 10),
        { $case: 'caseConcluded', value: { conclusion: 1, summary: '' } },
        at(2021, 5, 20),
      )
      .facts();
    const occurred = (asOf: Date, recordedThrough = NOW) => {
      const fold = new StatisticsFold(2021, asOf.getTime(), 'OCCURRED', recordedThrough);
      fold.add(c);
      return fold.result();
    };
    // As the year stood on May 1: concluded (it happened April 10), though nobody knew until May 20.
    expect(occurred(at(2021, 5, 1)).overall.casesConcluded).toBe(1);
    expect(occurred(at(2021, 5, 1)).overall.closureRateInYear).toBe(1);
    // As it stood on April 9: registered, not yet concluded.
    expect(occurred(at(2021, 4, 9)).overall).toMatchObject({
      casesRegistered: 1,
      casesConcluded: 0,
    });
    // Asked before the report of the conclusion was recorded: it is not counted yet.
    expect(occurred(at(2021, 5, 1), at(2021, 5, 19).getTime()).overall.casesConcluded).toBe(0);
    const s = occurred(at(2021, 5, 1), at(2021, 6, 1).getTime());
    expect(s).toMatchObject({ basis: 'OCCURRED', recordedThroughMs: at(2021, 6, 1).getTime() });
    // Not yet registered by February: nothing counts.
    expect(occurred(at(2021, 2, 1)).overall.casesRegistered).toBe(0);
  });

  it('on the occurred basis, judges a deadline by the extensions granted by then, however late recorded', () => {
    // Due June 1; extended on May 20 to July 1, but the extension was only recorded on July 10.
    const c = new History('c1')
      .register(at(2021, 3, 3), { dueAt: at(2021, 6, 1) })
      .add(
        at(2021, 5, 20),
        {
          $case: 'deadlineExtended',
          value: { newDueAt: at(2021, 7, 1), reason: '', approvedBy: '' },
        },
        at(2021, 7, 10),
      )
      .facts();
    const june10 = at(2021, 6, 10).getTime();
    const occurred = new StatisticsFold(2021, june10, 'OCCURRED', NOW);
    occurred.add(c);
    // The year as it stood on June 10: extended in May, so not overdue.
    expect(occurred.result().overall.overdueCases).toBe(0);
    // What had been recorded by June 10: the June 1 deadline, passed with the case open.
    expect(stats(2021, [c], june10).overall.overdueCases).toBe(1);
  });

  it('counts a case overdue in the year its deadline passes: concluded late, or still open after it', () => {
    const late = new History('late')
      .register(at(2021, 1, 4))
      .conclude(at(2021, 5, 1))
      .facts();
    const open = new History('open').register(at(2021, 2, 1)).facts();
    const extended = new History('ext')
      .register(at(2021, 1, 4))
      .extend(at(2021, 3, 20), at(2021, 5, 10))
      .conclude(at(2021, 5, 1))
      .facts();
    const onTime = new History('ok')
      .register(at(2021, 1, 4))
      .conclude(at(2021, 2, 1))
      .facts();
    const all = [late, open, extended, onTime];
    expect(stats(2021, all).overall.overdueCases).toBe(2);
    // On April 1 the open case's deadline (May 2) has not passed yet; the late one's (April 4) neither.
    expect(stats(2021, all, at(2021, 4, 1).getTime()).overall.overdueCases).toBe(0);
    expect(stats(2021, all, at(2021, 4, 6).getTime()).overall.overdueCases).toBe(1);
    const byMonth = stats(2021, all).groups.MONTH;
    expect(byMonth.find((m) => m.key === '2021-04')?.overdueCases).toBe(1);
    expect(byMonth.find((m) => m.key === '2021-05')?.overdueCases).toBe(1);
  });

  it('states the share concluded within the year and on time beside the share concluded by the as-of moment', () => {
    // Four registered in 2021: one concluded in time, one late, one within an
    // extended deadline, one only in 2022.
    const all = [
      new History('ok')
        .register(at(2021, 1, 4))
        .conclude(at(2021, 2, 1))
        .facts(),
      new History('late')
        .register(at(2021, 1, 4))
        .conclude(at(2021, 5, 1))
        .facts(),
      new History('ext')
        .register(at(2021, 1, 4))
        .extend(at(2021, 3, 20), at(2021, 5, 10))
        .conclude(at(2021, 5, 1))
        .facts(),
      new History('next')
        .register(at(2021, 11, 20))
        .conclude(at(2022, 1, 15))
        .facts(),
    ];
    const y2021 = stats(2021, all).overall;
    // Every 2021 case is concluded by now: 100% by the as-of moment, 3 of 4 within 2021.
    expect(y2021).toMatchObject({ closureRate: 1, closureRateInYear: 0.75 });
    // Of the three concluded in 2021, two by their deadline.
    expect(y2021.onTimeRate).toBe(0.6667);
    // As of the end of 2021 the case concluded in January is still open.
    expect(stats(2021, all, at(2022, 1, 1).getTime()).overall).toMatchObject({
      closureRate: 0.75,
      closureRateInYear: 0.75,
    });
    // 2022 concluded one (registered in 2021, 56 days: on time) and registered none.
    expect(stats(2022, all).overall).toMatchObject({ onTimeRate: 1, closureRateInYear: 0 });
  });

  it('counts an order answered on time only when answered by its deadline without escalation', () => {
    const c = new History('c1')
      .register(at(2021, 3, 1))
      .openOrder(at(2021, 3, 2), 'o1', at(2021, 3, 12))
      .answerOrder(at(2021, 3, 10), 'o1')
      .openOrder(at(2021, 3, 3), 'o2', at(2021, 3, 13))
      .answerOrder(at(2021, 3, 15), 'o2')
      .openOrder(at(2021, 3, 4), 'o3', at(2021, 3, 14))
      .escalateOrder(at(2021, 3, 15), 'o3')
      .answerOrder(at(2021, 3, 16), 'o3')
      .facts();
    expect(stats(2021, [c]).overall).toMatchObject({
      ordersOpened: 3,
      ordersAnsweredOnTime: 1,
      ordersEscalated: 1,
    });
  });

  it('counts an order awaiting its answer while its deadline is ahead, and no longer once it passes', () => {
    const c = new History('c1')
      .register(at(2021, 3, 1))
      .openOrder(at(2021, 3, 2), 'o1', at(2021, 3, 12))
      .facts();
    const asOf = (d: number) => stats(2021, [c], at(2021, 3, d).getTime()).overall;
    expect(asOf(5)).toMatchObject({ ordersOpened: 1, ordersAwaiting: 1, ordersAnsweredOnTime: 0 });
    // Past its deadline unanswered: late, in none of the three.
    expect(asOf(13)).toMatchObject({ ordersOpened: 1, ordersAwaiting: 0, ordersEscalated: 0 });
  });

  it('reads an unanswered order as late at the very moment of its deadline, and an answer made then as on time', () => {
    const due = at(2021, 3, 12).getTime();
    const open = new History('c1')
      .register(at(2021, 3, 1))
      .openOrder(at(2021, 3, 2), 'o1', at(2021, 3, 12));
    const unanswered = open.facts();
    const read = (c: CaseFacts, asOf: number) => stats(2021, [c], asOf).overall;
    expect(read(unanswered, due - 1)).toMatchObject({ ordersAwaiting: 1 });
    expect(read(unanswered, due)).toMatchObject({
      ordersOpened: 1,
      ordersAwaiting: 0,
      ordersAnsweredOnTime: 0,
    });
    // Read as of when things happened, with everything recorded since.
    const answered = open.answerOrder(at(2021, 3, 12), 'o1').facts();
    const fold = new StatisticsFold(2021, due, 'OCCURRED', NOW);
    fold.add(answered);
    expect(fold.result().overall).toMatchObject({ ordersAwaiting: 0, ordersAnsweredOnTime: 1 });
  });

  it('splits the orders opened into on time, escalated, awaiting and late, as a plain reading of each order says, at any moment, on either basis', () => {
    const DAY = 86_400_000;
    const HOUR = 3_600_000;
    const day0 = at(2021, 1, 1, 0).getTime();
    // Each act is reported to intake some hours after it happened (up to 20 days).
    const lag = fc.integer({ min: 0, max: 480 });
    const order = fc.record({
      opened: fc.integer({ min: -20, max: 380 }),
      window: fc.integer({ min: 1, max: 15 }),
      answeredAfter: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
      escalatedAfterDue: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
      hour: fc.integer({ min: 0, max: 23 }),
      lags: fc.tuple(lag, lag, lag),
    });
    fc.assert(
      fc.property(
        fc.array(order, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: 400 * 24 }),
        fc.option(fc.integer({ min: 0, max: 40 * 24 }), { nil: undefined }),
        (orders, asOfHour, recordedAfter) => {
          // RECORDED: what was recorded by asOf. OCCURRED: what happened by
          // asOf, as recorded up to some hours later.
          const asOf = day0 + asOfHour * HOUR;
          const basis = recordedAfter === undefined ? 'RECORDED' : 'OCCURRED';
          const recordedThrough = asOf + (recordedAfter ?? 0) * HOUR;
          const h = new History('c1').register(new Date(day0 - 30 * DAY));
          const acts: { at: number; recorded: number; act: (h: History) => History }[] = [];
          const expected = { opened: 0, onTime: 0, escalated: 0, awaiting: 0, late: 0 };
          orders.forEach((o, i) => {
            const orderId = `o${i}`;
            const opened = day0 + o.opened * DAY + o.hour * HOUR;
            const due = opened + o.window * DAY;
            const answered =
              o.answeredAfter === undefined ? undefined : opened + o.answeredAfter * DAY;
            const escalated =
              o.escalatedAfterDue === undefined ? undefined : due + o.escalatedAfterDue * DAY;
            // An act on an order is recorded after the order's opening: intake takes nothing else.
            const openLag = (o.lags[0] ?? 0) * HOUR + 60_000;
            const after = (when: number | undefined, l: number | undefined) =>
              when === undefined
                ? undefined
                : Math.max((l ?? 0) * HOUR + 60_000, opened + openLag + 1 - when);
            const answerLag = after(answered, o.lags[1]);
            const escalateLag = after(escalated, o.lags[2]);
            const act = (when: number, after: number, payload: Parameters<History['add']>[1]) =>
              acts.push({
                at: when,
                recorded: when + after,
                act: (x) => x.add(new Date(when), payload, new Date(when + after)),
              });
            act(opened, openLag, {
              $case: 'supervisionOrderOpened',
              value: events.SupervisionOrderOpened.fromPartial({
                orderId,
                responseDueAt: new Date(due),
              }),
            });
            if (answered !== undefined)
              act(answered, answerLag ?? 0, {
                $case: 'supervisionOrderAnswered',
                value: events.SupervisionOrderAnswered.fromPartial({ orderId }),
              });
            if (escalated !== undefined)
              act(escalated, escalateLag ?? 0, {
                $case: 'supervisionOrderEscalated',
                value: events.SupervisionOrderEscalated.fromPartial({ orderId, level: 2 }),
              });
            // What a reader of this one order sees, as the basis reads a moment.
            const seen = (when: number | undefined, after: number | undefined) =>
              when !== undefined &&
              (basis === 'RECORDED'
                ? when + (after ?? 0) <= asOf
                : when <= asOf && when + (after ?? 0) <= recordedThrough);
            if (!seen(opened, openLag) || opened < day0 || opened >= at(2022, 1, 1, 0).getTime())
              return;
            expected.opened++;
            if (seen(escalated, escalateLag)) expected.escalated++;
            else if (seen(answered, answerLag) && (answered ?? 0) <= due) expected.onTime++;
            else if (!seen(answered, answerLag) && due > asOf) expected.awaiting++;
            else expected.late++;
          });
          // Recorded in the order intake took them.
          acts.sort((a, b) => a.recorded - b.recorded);
          const facts = acts.reduce((x, a) => a.act(x), h).facts();
          const fold = new StatisticsFold(2021, asOf, basis, recordedThrough);
          fold.add(facts);
          const o = fold.result().overall;
          expect({
            opened: o.ordersOpened,
            onTime: o.ordersAnsweredOnTime,
            escalated: o.ordersEscalated,
            awaiting: o.ordersAwaiting,
            late: o.ordersOpened - o.ordersAnsweredOnTime - o.ordersEscalated - o.ordersAwaiting,
          }).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('averages the latest evaluation of the cases concluded in the year, and ranks groups by it', () => {
    const a = new History('a', 'lz-eeb')
      .register(at(2021, 3, 1))
      .conclude(at(2021, 4, 1))
      .evaluate(at(2021, 4, 2), 70)
      .evaluate(at(2021, 6, 2), 90.5)
      .facts();
    const b = new History('b', 'lz-psb')
      .register(at(2021, 3, 1))
      .conclude(at(2021, 4, 1))
      .evaluate(at(2021, 4, 2), 80.25)
      .facts();
    const c = new History('c', 'lz-hc').register(at(2021, 3, 1)).facts();
    const s = stats(2021, [a, b, c]);
    expect(s.overall.meanScore).toBe(85.38);
    expect(s.groups.AGENCY.map((g) => [g.key, g.meanScore, g.rank])).toEqual([
      ['lz-eeb', 90.5, 1],
      ['lz-hc', 0, 0],
      ['lz-psb', 80.25, 2],
    ]);
    // Before the re-evaluation the first agency scored 70.
    expect(stats(2021, [a, b, c], at(2021, 5, 1).getTime()).groups.AGENCY[0]?.rank).toBe(2);
  });

  it('gives an empty, well-formed year when nothing happened in it', () => {
    const s = stats(2019, [new History('c1').register(at(2021, 3, 1)).facts()]);
    expect(s.overall).toMatchObject({ casesRegistered: 0, closureRate: 0, meanScore: 0, rank: 0 });
    expect(s.groups.AGENCY).toEqual([]);
    expect(s.groups.MONTH.map((m) => m.key)).toHaveLength(12);
    expect(s.groups.MONTH.every((m) => m.casesRegistered === 0)).toBe(true);
  });

  it('gives the same digest whatever order the cases come in, and another when a figure differs', () => {
    const facts = [1, 2, 3].map((i) =>
      new History(`c${i}`)
        .register(at(2021, i, 1))
        .penalty(at(2021, i, 9), 1_000 * i)
        .conclude(at(2021, i, 10))
        .evaluate(at(2021, i, 11), 60 + i / 3)
        .facts(),
    );
    const one = digestOf(stats(2021, facts), 'ALL');
    expect(digestOf(stats(2021, [...facts].reverse()), 'ALL')).toBe(one);
    expect(digestOf(stats(2021, facts.slice(1)), 'ALL')).not.toBe(one);
  });
});

describe('the moment an answer stands until', () => {
  const HOUR = 3_600_000;
  const DAY = 24 * HOUR;
  const day0 = at(2021, 1, 1, 0).getTime();

  /** Figures as of `asOf` on `basis`, with everything recorded up to it. */
  const fold = (
    facts: CaseFacts[],
    asOf: number,
    basis: 'RECORDED' | 'OCCURRED',
    watch = false,
  ) => {
    const f = new StatisticsFold(2021, asOf, basis, asOf, watch);
    for (const c of facts) f.add(c);
    return f;
  };

  it('is the moment an open case passes its deadline, when nothing else is to come', () => {
    const due = at(2021, 6, 30).getTime();
    const facts = [new History('c1').register(at(2021, 4, 1), { dueAt: new Date(due) }).facts()];
    const before = fold(facts, due - DAY, 'RECORDED', true);
    expect(before.changesAt).toBe(due + 1);
    expect(before.result().overall.overdueCases).toBe(0);
    expect(fold(facts, due, 'RECORDED').result().overall.overdueCases).toBe(0);
    expect(fold(facts, due + 1, 'RECORDED').result().overall.overdueCases).toBe(1);
    // Past every moment of the case, nothing can change any more.
    expect(fold(facts, due + 1, 'RECORDED', true).changesAt).toBe(Infinity);
  });

  it('gives the same figures as of every moment before it, on either basis', () => {
    const option = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const days = (max: number) => fc.integer({ min: 0, max });
    const kase = fc.record({
      registered: fc.integer({ min: -30 * 24, max: 380 * 24 }),
      // Recorded up to 10 days later, or a little earlier (intake takes a clock running ahead by its skew).
      lagHours: fc.oneof(fc.integer({ min: -2, max: 0 }), fc.integer({ min: 0, max: 240 })),
      window: fc.integer({ min: 1, max: 120 }),
      // A reconsideration of it: filed, accepted and concluded so many days after.
      review: option(fc.tuple(days(60), option(days(10)), option(days(60)), fc.boolean())),
      extension: option(fc.tuple(days(30), fc.integer({ min: 1, max: 60 }))),
      concluded: option(days(150)),
      penalty: option(fc.tuple(days(60), fc.boolean())),
      evaluated: option(days(160)),
      orders: fc.array(
        fc.record({
          after: days(100),
          window: fc.integer({ min: 1, max: 15 }),
          answered: option(days(20)),
          escalated: option(days(10)),
        }),
        { maxLength: 3 },
      ),
    });
    /** The case's facts, and the moments of its acts and deadlines. */
    const build = (k: typeof kase extends fc.Arbitrary<infer K> ? K : never, i: number) => {
      const reg = day0 + k.registered * HOUR;
      const acts: [number, (h: History, on: Date) => History][] = [];
      const due = reg + k.window * DAY;
      if (k.extension)
        acts.push([
          reg + k.extension[0] * DAY,
          (h, on) => h.extend(on, new Date(due + (k.extension?.[1] ?? 0) * DAY)),
        ]);
      if (k.concluded !== undefined)
        acts.push([reg + k.concluded * DAY, (h, on) => h.conclude(on)]);
      if (k.penalty)
        acts.push([
          reg + k.penalty[0] * DAY,
          (h, on) => h.penalty(on, 5_000, k.penalty?.[1] ?? false),
        ]);
      if (k.evaluated !== undefined)
        acts.push([reg + k.evaluated * DAY + 1, (h, on) => h.evaluate(on, 80)]);
      k.orders.forEach((o, n) => {
        const opened = reg + o.after * DAY + 7 * HOUR;
        const respond = opened + o.window * DAY;
        acts.push([opened, (h, on) => h.openOrder(on, `o${n}`, new Date(respond))]);
        if (o.answered !== undefined)
          acts.push([opened + o.answered * DAY + HOUR, (h, on) => h.answerOrder(on, `o${n}`)]);
        if (o.escalated !== undefined)
          acts.push([respond + o.escalated * DAY + 1, (h, on) => h.escalateOrder(on, `o${n}`)]);
      });
      acts.sort((a, b) => a[0] - b[0]);
      const h = new History(`c${i}`, 'lz-eeb', k.lagHours * HOUR).register(new Date(reg), {
        dueAt: new Date(due),
      });
      const moments = [reg, due, ...acts.map(([when]) => when)];
      for (const o of k.orders) moments.push(reg + (o.after + o.window) * DAY + 7 * HOUR);
      const facts = [acts.reduce((x, [when, act]) => act(x, new Date(when)), h).facts()];
      if (k.review) {
        const [after, accepted, concluded, corrected] = k.review;
        const filed = reg + after * DAY + 3 * HOUR;
        let r = new History(`r${i}`, 'lz-eeb', k.lagHours * HOUR).file(new Date(filed), `c${i}`);
        moments.push(filed);
        if (accepted !== undefined) {
          r = r.accept(new Date(filed + accepted * DAY));
          moments.push(filed + accepted * DAY);
          if (concluded !== undefined) {
            r = r.concludeReview(new Date(filed + (accepted + concluded) * DAY + 1), corrected);
            moments.push(filed + (accepted + concluded) * DAY + 1);
          }
        }
        facts.push(r.facts());
      }
      return { facts, moments };
    };
    fc.assert(
      fc.property(
        fc.array(kase, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: -10 * 24, max: 420 * 24 }),
        // Or a moment near one of the cases' acts or deadlines, where their own moments crowd.
        option(fc.tuple(fc.nat(), fc.integer({ min: -180, max: 180 }))),
        fc.constantFrom('RECORDED' as const, 'OCCURRED' as const),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        (cases, asOfHour, near, basis, between) => {
          const built = cases.map(build);
          const all = built.flatMap((b) => b.facts);
          const moments = built.flatMap((b) => b.moments);
          const asOf = near
            ? (moments[near[0] % moments.length] ?? day0) + near[1] * 60_000
            : day0 + asOfHour * HOUR;
          const first = fold(all, asOf, basis, true);
          expect(first.changesAt).toBeGreaterThan(asOf);
          const last = Number.isFinite(first.changesAt) ? first.changesAt - 1 : asOf + 400 * DAY;
          for (const later of [asOf + Math.floor((last - asOf) * between), last])
            expect({
              ...fold(all, later, basis).result(),
              asOfMs: asOf,
              recordedThroughMs: asOf,
            }).toEqual(first.result());
        },
      ),
      { numRuns: 300 },
    );
  });
});
