import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { statutoryDueAt } from '@enforcement/reference-data';
import { MODEL_V1, scoreCase } from './scoring-model.js';
import { p, viewAt } from './view.test-support.js';

/**
 * The scoring model against an oracle written from docs/scoring.md's table
 * alone, over random histories of a case as intake takes them: steps dated
 * at random within what intake allows (progress steps in any order of date,
 * several legal reviews, evidence after the decision), conclusions around
 * their deadline to the minute, orders answered, late, escalated or
 * awaiting. The oracle reads the raw events, not the case view.
 */

type Payload = NonNullable<events.CaseEvent['payload']>;
type Step = { readonly payload: Payload; readonly at: number };

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const CITY = 8 * HOUR; // UTC+8
const T0 = Date.parse('2021-03-01T00:00:00Z');
const iso = (t: number) => new Date(t);

/** Art. 63: a hearing is due from 10,000 yuan for a person, 100,000 for an organization. */
const HEARING_FROM_FEN = { person: 1_000_000, organization: 10_000_000 };

interface Drawn {
  readonly registeredAt: number;
  readonly organization: boolean;
  readonly officers: number;
  readonly dispatchAfter: number;
  /** The conclusion, from the registration's due moment. */
  readonly concludedFromDue: number;
  readonly extension: { readonly at: number; readonly by: number } | null;
  readonly penalty: {
    readonly band: readonly [number, number];
    readonly where: 'below' | 'min' | 'inside' | 'max' | 'above';
    readonly grounds: boolean;
    readonly major: boolean;
    readonly hearingOffered: boolean;
    readonly decidedBeforeConclusion: number;
  } | null;
  readonly notice: { readonly at: number; readonly hearingOffered: boolean } | null;
  readonly hearing: { readonly at: number; readonly waived: boolean } | null;
  readonly reviews: readonly { readonly at: number; readonly approved: boolean }[];
  readonly evidence: readonly { readonly at: number; readonly digest: boolean }[];
  readonly orders: readonly {
    readonly at: number;
    readonly windowDays: number;
    readonly answer: number | null;
    readonly escalation: number | null;
  }[];
}

/** Offsets that meet their marks often: whole days, quarter days, minutes either side. */
const offset = (maxDays: number) =>
  fc.oneof(
    fc.integer({ min: 0, max: maxDays }).map((d) => d * DAY),
    fc.integer({ min: 0, max: maxDays * 4 }).map((q) => q * 6 * HOUR),
    fc.integer({ min: 0, max: maxDays * DAY }),
  );
const around = (days: number) =>
  fc.oneof(
    fc.constant(0),
    fc.integer({ min: -3, max: 3 }).map((m) => m * MIN),
    fc.integer({ min: -days, max: days }).map((d) => d * DAY),
    fc.integer({ min: -days * 4, max: days * 4 }).map((q) => q * 6 * HOUR),
    fc.integer({ min: -days * DAY, max: days * DAY }),
  );

const drawn: fc.Arbitrary<Drawn> = fc.record({
  registeredAt: fc.integer({ min: 0, max: 300 * DAY }).map((t) => T0 + t),
  organization: fc.boolean(),
  officers: fc.integer({ min: 1, max: 3 }),
  dispatchAfter: offset(3),
  concludedFromDue: around(20),
  extension: fc.option(
    fc.record({
      at: fc.integer({ min: 0, max: 90 * DAY }),
      by: fc.integer({ min: 1, max: 60 * DAY }),
    }),
  ),
  penalty: fc.option(
    fc.record({
      band: fc.constantFrom(
        [200_000, 1_000_000] as const,
        [1_000_000, 5_000_000] as const,
        [5_000_000, 10_000_000] as const,
      ),
      where: fc.constantFrom('below', 'min', 'inside', 'max', 'above'),
      grounds: fc.boolean(),
      major: fc.boolean(),
      hearingOffered: fc.boolean(),
      decidedBeforeConclusion: around(30).map(Math.abs),
    }),
  ),
  notice: fc.option(fc.record({ at: around(10), hearingOffered: fc.boolean() })),
  hearing: fc.option(fc.record({ at: around(10), waived: fc.boolean() })),
  reviews: fc.array(fc.record({ at: around(10), approved: fc.boolean() }), { maxLength: 2 }),
  evidence: fc.array(fc.record({ at: around(10), digest: fc.boolean() }), { maxLength: 3 }),
  orders: fc.array(
    fc.record({
      at: around(3),
      windowDays: fc.integer({ min: 1, max: 10 }),
      answer: fc.option(around(5)),
      escalation: fc.option(around(5)),
    }),
    { maxLength: 3 },
  ),
});

/** The fine a penalty names, by where it falls in its band. */
function fineOf(p: NonNullable<Drawn['penalty']>): number {
  const [min, max] = p.band;
  return { below: min - 1, min, inside: Math.round((min + max) / 2), max, above: max + 1 }[p.where];
}

/** The history as intake would take it, in order of arrival. */
function historyOf(d: Drawn): Step[] {
  const reg = d.registeredAt;
  // As intake sets it: 24:00 city time of the 90th day after the day of registration.
  const due = statutoryDueAt(reg).getTime();
  const dispatched = reg + d.dispatchAfter;
  const ext = d.extension && d.extension.at + reg <= due ? d.extension : null;
  const finalDue = ext ? due + ext.by : due;
  const concluded = Math.max(dispatched, finalDue + d.concludedFromDue);
  const decided = d.penalty
    ? Math.max(dispatched, concluded - d.penalty.decidedBeforeConclusion)
    : null;
  // Progress steps and evidence are dated around the decision (the conclusion without one), from the dispatch on.
  const anchor = decided ?? concluded;
  const near = (x: number) => Math.max(dispatched, anchor + x);
  const out: Step[] = [];
  const add = (payload: Payload, at: number) => out.push({ payload, at });
  const registered = p.registered();
  if (registered.$case !== 'caseRegistered') throw new Error('a registration');
  const party = d.organization
    ? events.PartyKind.PARTY_KIND_ORGANIZATION
    : events.PartyKind.PARTY_KIND_PERSON;
  add(
    {
      $case: 'caseRegistered',
      value: {
        ...registered.value,
        parties: [{ kind: party, name: 'p', identifier: '' }],
        dueAt: iso(due),
      },
    },
    reg,
  );
  add(
    {
      $case: 'caseDispatched',
      value: {
        unitId: 'u1',
        officers: Array.from({ length: d.officers }, (_, i) => ({
          officerId: `o${i + 1}`,
          name: '',
          credentialNo: 'x',
        })),
      },
    },
    dispatched,
  );
  // Progress steps: dated anywhere from the dispatch, recorded before the decision.
  const fine = d.penalty ? fineOf(d.penalty) : 0;
  const hearingFrom = d.organization ? HEARING_FROM_FEN.organization : HEARING_FROM_FEN.person;
  // Intake takes a decision only after a notice, one offering a hearing where it is due, held or waived.
  const notice = d.penalty
    ? {
        at: d.notice?.at ?? 0,
        hearingOffered: fine >= hearingFrom || d.penalty.hearingOffered,
      }
    : d.notice;
  const hearing =
    notice?.hearingOffered && d.penalty ? (d.hearing ?? { at: 0, waived: true }) : d.hearing;
  for (const e of d.evidence.filter((e) => near(e.at) <= anchor))
    add(evidence(out.length, e.digest), near(e.at));
  if (notice)
    add(
      {
        $case: 'partyNotified',
        value: {
          facts: 'f',
          basis: 'b',
          hearingOffered: notice.hearingOffered,
          proposedFineFen: 0,
        },
      },
      near(notice.at),
    );
  if (hearing && notice?.hearingOffered)
    add(
      { $case: 'hearingHeld', value: { presidedBy: 'h', summary: '', waived: hearing.waived } },
      near(hearing.at),
    );
  for (const r of d.reviews)
    add(
      {
        $case: 'legalReviewCompleted',
        value: { reviewer: 'r', approved: r.approved, opinion: '' },
      },
      near(r.at),
    );
  if (ext)
    add(
      {
        $case: 'deadlineExtended',
        value: { newDueAt: iso(finalDue), reason: 'complex', approvedBy: 'head' },
      },
      reg + ext.at,
    );
  if (d.penalty) {
    const p = d.penalty;
    const [min, max] = p.band;
    const outside = fine < min || fine > max;
    const grounds = outside || p.grounds ? '多次违法' : '';
    const edge = fine === min || fine === max;
    const anomaly = outside
      ? 'outside benchmark range'
      : edge && !grounds
        ? 'at the edge of the benchmark range without stated grounds'
        : '';
    add(
      {
        $case: 'penaltyDecided',
        value: {
          violationCode: 'ENV-AIR-001',
          grade: 2,
          fineFen: fine,
          benchmarkVersion: 'v',
          benchmarkMinFen: min,
          benchmarkMaxFen: max,
          grounds,
          discretionAnomaly: anomaly !== '',
          anomalyReason: anomaly,
          major: p.major,
          otherMeasures: [],
        },
      },
      anchor,
    );
  }
  add(
    {
      $case: 'caseConcluded',
      value: {
        conclusion: d.penalty
          ? events.Conclusion.CONCLUSION_PENALIZED
          : events.Conclusion.CONCLUSION_NO_PENALTY,
        summary: '',
      },
    },
    concluded,
  );
  // Evidence may also come after the decision.
  for (const e of d.evidence.filter((e) => near(e.at) > anchor))
    add(evidence(out.length, e.digest), near(e.at));
  d.orders.forEach((o, i) => {
    // Opened so that its deadline falls around the conclusion, which may be the history's latest moment.
    const opened = Math.max(reg, concluded - o.windowDays * DAY + o.at);
    const window = opened + o.windowDays * DAY;
    const orderId = `o-${i}`;
    add(
      {
        $case: 'supervisionOrderOpened',
        value: {
          orderId,
          reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
          note: '',
          responseDueAt: iso(window),
          ruleId: '',
        },
      },
      opened,
    );
    const escalated = o.escalation === null ? null : Math.max(opened, window + o.escalation);
    const answered = o.answer === null ? null : Math.max(opened, window + o.answer);
    const steps: Step[] = [];
    if (escalated !== null)
      steps.push({
        payload: {
          $case: 'supervisionOrderEscalated',
          value: { orderId, level: 2, reason: 'r', responseDueAt: iso(escalated + 5 * DAY) },
        },
        at: escalated,
      });
    // An answered order is no longer open: intake takes no escalation after it.
    if (answered !== null && (escalated === null || answered >= escalated))
      steps.push({
        payload: { $case: 'supervisionOrderAnswered', value: { orderId, answer: 'a' } },
        at: answered,
      });
    out.push(...steps);
  });
  return out;
}

function evidence(n: number, digest: boolean): Payload {
  return {
    $case: 'evidenceRecorded',
    value: {
      evidenceId: `ev${n}`,
      kind: 'k',
      sha256: digest ? 'a'.repeat(64) : '',
      collectedBy: 'o1',
      collectedAt: undefined,
      description: '',
    },
  };
}

const cityDay = (t: number) => Math.floor((t + CITY) / DAY);
const round2 = (n: number) => Math.round(n * 100) / 100;

/** docs/scoring.md's model, read from the history's events. */
function oracle(h: readonly Step[]): Record<string, number> & { score: number } {
  const all = <C extends Payload['$case']>(c: C) =>
    h.filter((s) => s.payload.$case === c) as (Step & {
      payload: Extract<Payload, { $case: C }>;
    })[];
  const last = <C extends Payload['$case']>(c: C) => all(c).at(-1);
  const latest = Math.max(...h.map((s) => s.at));
  const registered = last('caseRegistered');
  const concluded = last('caseConcluded');
  if (!registered || !concluded) throw new Error('the oracle scores concluded cases');
  const extended = last('deadlineExtended');
  const due = (extended?.payload.value.newDueAt ?? registered.payload.value.dueAt)?.getTime() ?? 0;

  // Timeliness (30): 2 points per city day late, at least one when concluded after the deadline.
  const late = concluded.at > due ? Math.max(1, cityDay(concluded.at) - cityDay(due)) : 0;
  const timeliness = Math.max(0, 30 - 2 * late);

  // Procedure (25): two officers (5); with a penalty decision, the last notice,
  // hearing and legal review recorded, each at or before the decision (8, 6, 6).
  const decision = last('penaltyDecided');
  const officers = last('caseDispatched')?.payload.value.officers.length ?? 0;
  let procedure = officers >= 2 ? 5 : 0;
  if (!decision) procedure += 8 + 6 + 6;
  else {
    const d = decision.payload.value;
    const notice = last('partyNotified');
    const hearing = last('hearingHeld');
    const review = last('legalReviewCompleted');
    if (notice && notice.at <= decision.at) procedure += 8;
    const organization = registered.payload.value.parties.some(
      (p) => p.kind === events.PartyKind.PARTY_KIND_ORGANIZATION,
    );
    const hearingDue =
      d.fineFen >= (organization ? HEARING_FROM_FEN.organization : HEARING_FROM_FEN.person);
    if (
      !hearingDue ||
      (notice?.payload.value.hearingOffered && hearing && hearing.at <= decision.at)
    )
      procedure += 6;
    if (!d.major || (review?.payload.value.approved && review.at <= decision.at)) procedure += 6;
  }

  // Discretion (20): a fine outside its band loses 12; at its edge without grounds, 6.
  let discretion = 20;
  if (decision) {
    const d = decision.payload.value;
    if (d.fineFen < d.benchmarkMinFen || d.fineFen > d.benchmarkMaxFen) discretion = 8;
    else if ((d.fineFen === d.benchmarkMinFen || d.fineFen === d.benchmarkMaxFen) && !d.grounds)
      discretion = 14;
  }

  // Evidence (15): some recorded at or before the decision (the conclusion
  // without one) (10); some recorded, every item with a SHA-256 digest (5).
  const items = all('evidenceRecorded');
  const cutoff = (decision ?? concluded).at;
  const evidence =
    (items.some((e) => e.at <= cutoff) ? 10 : 0) +
    (items.length > 0 && items.every((e) => /^[0-9a-f]{64}$/.test(e.payload.value.sha256)) ? 5 : 0);

  // Supervision response (10): shared among the settled orders as of the
  // history's latest moment; an order neither answered nor escalated whose
  // deadline is ahead awaits its answer. On time: answered at or before its
  // deadline, never escalated.
  const orders = all('supervisionOrderOpened').map((o) => {
    const id = o.payload.value.orderId;
    const answered = all('supervisionOrderAnswered').find((a) => a.payload.value.orderId === id);
    const escalated = all('supervisionOrderEscalated').some((x) => x.payload.value.orderId === id);
    const dueAt = o.payload.value.responseDueAt?.getTime() ?? 0;
    return { answered: answered?.at ?? null, escalated, dueAt };
  });
  const settled = orders.filter((o) => o.answered !== null || o.escalated || o.dueAt <= latest);
  const onTime = settled.filter(
    (o) => o.answered !== null && !o.escalated && o.answered <= o.dueAt,
  );
  const response = settled.length === 0 ? 10 : round2((10 * onTime.length) / settled.length);

  const score = round2(
    Math.min(100, Math.max(0, timeliness + procedure + discretion + evidence + response)),
  );
  return { score, timeliness, procedure, discretion, evidence, supervision_response: response };
}

describe('the scoring model, against docs/scoring.md', () => {
  it('scores random histories as the documented model does, indicator by indicator', () => {
    fc.assert(
      fc.property(drawn, (d) => {
        const h = historyOf(d);
        const s = scoreCase(viewAt(h.map((x) => [x.payload, new Date(x.at)])), MODEL_V1);
        const got = Object.fromEntries([
          ['score', s?.score],
          ...(s?.indicators ?? [])
            .filter((i) => i.indicator !== 'correction')
            .map((i) => [i.indicator, i.points]),
        ]);
        expect(got).toEqual(oracle(h));
      }),
      { numRuns: 3_000 },
    );
  });
});
