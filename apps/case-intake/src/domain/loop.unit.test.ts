import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import {
  MAX_EVALUATIONS,
  MAX_EVIDENCE,
  MAX_OFFICERS,
  MAX_ORDER_LEVEL,
  MAX_ORDERS,
  MAX_STEPS,
} from './decide-enforcement.js';
import { caseUpTo, cmd, day, fact, given, T0, twoOfficers } from './given.test-support.js';
import type { Command, EventPayload } from './types.js';

describe('register', () => {
  it('records the case with its statutory deadline: the end of the 90th day after the day of registration, city time', () => {
    // Registered 1 March 17:00 city time: due by 24:00 of 30 May, city time.
    given()
      .when(cmd.register(), T0)
      .thenProduces('caseRegistered', (v: events.CaseRegistered) => {
        expect(v.dueAt).toEqual(new Date('2021-05-30T15:59:59.999Z'));
        expect(v.agencyId).toBe('lz-eeb');
      });
    // The day is the city's: 2 March 00:10 city time is 1 March 16:10 UTC.
    given()
      .when(cmd.register(), new Date('2021-03-01T16:10:00Z'))
      .thenProduces('caseRegistered', (v: events.CaseRegistered) => {
        expect(v.dueAt).toEqual(new Date('2021-05-31T15:59:59.999Z'));
      });
    given()
      .when(cmd.register(), new Date('2021-03-01T15:59:00Z'))
      .thenProduces('caseRegistered', (v: events.CaseRegistered) => {
        expect(v.dueAt).toEqual(new Date('2021-05-30T15:59:59.999Z'));
      });
  });

  it('refuses a second registration of the same case id', () => {
    given(caseUpTo('registered')).when(cmd.register()).thenThrows('CASE.ALREADY_EXISTS');
  });

  it.each([
    ['agency_id', { agencyId: ' ' }],
    ['district', { district: '' }],
    ['violation_code', { violationCode: '' }],
    ['legal_basis', { legalBasis: '' }],
    ['domain', { domain: events.Domain.DOMAIN_UNSPECIFIED }],
    ['source', { source: events.CaseSource.CASE_SOURCE_UNSPECIFIED }],
    ['parties', { parties: [] }],
    [
      'parties[0].name',
      { parties: [{ kind: events.PartyKind.PARTY_KIND_PERSON, name: '', identifier: '' }] },
    ],
  ])('names the missing field %s', (field, override) => {
    given().when(cmd.register(override)).thenThrows('FIELD.REQUIRED', `${field}:`);
  });

  it('refuses an act dated in the future beyond clock skew', () => {
    given().when(cmd.register(), day(1), T0).thenThrows('TIME.IN_FUTURE', 'meta.occurred_at');
  });
});

describe('dispatch', () => {
  it('names the unit and at least two certified officers', () => {
    given(caseUpTo('registered'))
      .when(cmd.dispatch())
      .then([
        { $case: 'caseDispatched', value: { unitId: 'lz-eeb-unit-1', officers: twoOfficers } },
      ]);
  });

  it('refuses a single officer (Art. 42)', () => {
    given(caseUpTo('registered'))
      .when(cmd.dispatch(twoOfficers.slice(0, 1)))
      .thenThrows('DISPATCH.TOO_FEW_OFFICERS', 'officers');
  });

  it(`refuses more than ${MAX_OFFICERS} officers on a case`, () => {
    const officers = (n: number) =>
      Array.from({ length: n }, (_, i) => ({
        officerId: `off-${i}`,
        name: 'x',
        credentialNo: `c${i}`,
      }));
    given(caseUpTo('registered'))
      .when(cmd.dispatch(officers(MAX_OFFICERS)))
      .thenProduces('caseDispatched');
    given(caseUpTo('registered'))
      .when(cmd.dispatch(officers(MAX_OFFICERS + 1)))
      .thenThrows('DISPATCH.TOO_MANY_OFFICERS', 'officers');
  });

  it('refuses an officer without credentials', () => {
    const uncertified = [
      twoOfficers[0],
      { officerId: 'off-9', name: 'x', credentialNo: '' },
    ] as typeof twoOfficers;
    given(caseUpTo('registered'))
      .when(cmd.dispatch(uncertified))
      .thenThrows('DISPATCH.OFFICER_NOT_CERTIFIED', 'officers[1].credential_no');
  });

  it('refuses the same officer named twice', () => {
    const twice = [twoOfficers[0], twoOfficers[0]] as typeof twoOfficers;
    given(caseUpTo('registered'))
      .when(cmd.dispatch(twice))
      .thenThrows('DISPATCH.DUPLICATE_OFFICER');
  });

  it('stores each officer’s id without the white space at its ends, as every id', () => {
    const spaced = twoOfficers.map((o, i) => ({
      ...o,
      officerId: i === 0 ? ` ${o.officerId}\u3000` : `${o.officerId}\t`,
    }));
    given(caseUpTo('registered'))
      .when(cmd.dispatch(spaced))
      .thenProduces('caseDispatched', (v: events.CaseDispatched) =>
        expect(v.officers).toEqual(twoOfficers),
      );
  });

  it('refuses dispatching a case already dispatched', () => {
    given(caseUpTo('dispatched'))
      .when(cmd.dispatch())
      .thenThrows('CASE.INVALID_TRANSITION', 'status DISPATCHED');
  });

  it('refuses an act dated before registration', () => {
    given(caseUpTo('registered'))
      .when(cmd.dispatch(), new Date(T0.getTime() - 1000))
      .thenThrows('TIME.BEFORE_REGISTRATION');
  });

  it('refuses a case that does not exist', () => {
    given().when(cmd.dispatch()).thenThrows('CASE.NOT_FOUND');
  });
});

describe('track: progress and evidence', () => {
  const evidence = (o: Partial<events.EvidenceRecorded> = {}) =>
    cmd.progress({
      $case: 'evidence',
      value: {
        evidenceId: 'ev-2',
        kind: 'photo',
        sha256: 'b'.repeat(64),
        collectedBy: 'off-1',
        collectedAt: day(1),
        description: '',
        ...o,
      },
    });

  it('records evidence with its digest, collector and time', () => {
    given(caseUpTo('dispatched')).when(evidence(), day(2)).thenProduces('evidenceRecorded');
  });

  it('refuses a digest that is not SHA-256 hex', () => {
    given(caseUpTo('dispatched'))
      .when(evidence({ sha256: 'abc' }), day(2))
      .thenThrows('EVIDENCE.BAD_DIGEST', 'evidence.sha256');
  });

  it('refuses evidence collected after it was recorded', () => {
    given(caseUpTo('dispatched'))
      .when(evidence({ collectedAt: day(5) }), day(2))
      .thenThrows('EVIDENCE.COLLECTED_IN_FUTURE');
  });

  it('refuses the same evidence id twice', () => {
    given(caseUpTo('tracked'))
      .when(evidence({ evidenceId: 'ev-1' }), day(3))
      .thenThrows('EVIDENCE.DUPLICATE');
  });

  // Ids are the client's: a name every object has is an id like any other.
  it.each(['constructor', '__proto__', 'toString'])('records evidence %s, once', (evidenceId) => {
    given(caseUpTo('dispatched'))
      .when(evidence({ evidenceId }), day(2))
      .thenProduces('evidenceRecorded');
    given([...caseUpTo('dispatched'), [fact.evidence(evidenceId), day(2)]])
      .when(evidence({ evidenceId }), day(3))
      .thenThrows('EVIDENCE.DUPLICATE');
  });

  it(`refuses evidence past ${MAX_EVIDENCE} items on a case`, () => {
    const held = Array.from(
      { length: MAX_EVIDENCE },
      (_, i) => [fact.evidence(`ev-${i}`), day(2)] as [EventPayload, Date],
    );
    given([...caseUpTo('dispatched'), ...held.slice(1)])
      .when(evidence({ evidenceId: 'one-more' }), day(3))
      .thenProduces('evidenceRecorded');
    given([...caseUpTo('dispatched'), ...held])
      .when(evidence({ evidenceId: 'one-more' }), day(3))
      .thenThrows('EVIDENCE.TOO_MANY', 'evidence.evidence_id');
  });

  it('takes an inspection by an officer however the white space at the id’s ends is spelled, on either side', () => {
    const inspection = (officerIds: string[]) =>
      cmd.progress({ $case: 'inspection', value: { location: 'x', findings: 'y', officerIds } });
    // Dispatched by an earlier version, which stored the ids as sent.
    const spacedDispatch: EventPayload = {
      $case: 'caseDispatched',
      value: {
        unitId: 'u',
        officers: twoOfficers.map((o) => ({ ...o, officerId: ` ${o.officerId}` })),
      },
    };
    for (const history of [
      caseUpTo('dispatched'),
      [...caseUpTo('registered'), [spacedDispatch, day(1)] as const],
    ])
      given(history)
        .when(inspection(['off-1 ', '\u3000off-2']))
        .thenProduces('inspectionRecorded', (v: events.InspectionRecorded) =>
          expect(v.officerIds).toEqual(['off-1', 'off-2']),
        );
  });

  it('refuses evidence whose id differs from one recorded only by white space at its ends, and stores it trimmed', () => {
    given(caseUpTo('dispatched'))
      .when(evidence({ evidenceId: ' ev-9\u3000', collectedBy: 'off-1 ' }), day(2))
      .thenProduces('evidenceRecorded', (v: events.EvidenceRecorded) =>
        expect([v.evidenceId, v.collectedBy]).toEqual(['ev-9', 'off-1']),
      );
    // Recorded by an earlier version, which stored the id as sent.
    given([...caseUpTo('dispatched'), [fact.evidence(' ev-9 '), day(2)]])
      .when(evidence({ evidenceId: 'ev-9' }), day(3))
      .thenThrows('EVIDENCE.DUPLICATE');
  });

  it('refuses an inspection by an officer who was not dispatched', () => {
    given(caseUpTo('dispatched'))
      .when(
        cmd.progress({
          $case: 'inspection',
          value: { location: 'x', findings: 'y', officerIds: ['off-1', 'off-7'] },
        }),
      )
      .thenThrows('PROGRESS.UNKNOWN_OFFICER', 'inspection.officer_ids[1]');
  });

  it('refuses progress before dispatch', () => {
    given(caseUpTo('registered')).when(evidence(), day(2)).thenThrows('CASE.INVALID_TRANSITION');
  });

  it('refuses a hearing that was never offered', () => {
    given([...caseUpTo('tracked'), [fact.notified(false), day(3)]])
      .when(
        cmd.progress({ $case: 'hearing', value: { presidedBy: 'h', summary: '', waived: false } }),
      )
      .thenThrows('HEARING.NOT_OFFERED');
  });

  it('extends the deadline only to a later date, with reason and approval', () => {
    const extend = (newDueAt: Date) =>
      cmd.progress({
        $case: 'extension',
        value: { newDueAt, reason: 'complex', approvedBy: '局长' },
      });
    given(caseUpTo('tracked'))
      .when(extend(day(120)))
      .thenProduces('deadlineExtended');
    given(caseUpTo('tracked'))
      .when(extend(day(80)))
      .thenThrows('DEADLINE.NOT_LATER');
  });

  // Until 2026-12-07 an extension dated after the deadline passed was taken:
  // the rules opened an OVERDUE order at the deadline, while the report and
  // the timeliness score counted the case in time by the new date.
  it('extends a deadline up to the moment it passes, and refuses an extension granted after', () => {
    const extend = cmd.progress({
      $case: 'extension',
      value: { newDueAt: day(150), reason: 'complex', approvedBy: '局长' },
    });
    // Registered at T0: the statutory deadline is day 90.
    given(caseUpTo('tracked')).when(extend, day(90)).thenProduces('deadlineExtended');
    given(caseUpTo('tracked'))
      .when(extend, new Date(day(90).getTime() + 1))
      .thenThrows('DEADLINE.ALREADY_PASSED', `the deadline ${day(90).toISOString()} passed`);
    // The deadline in force is the extended one.
    given([...caseUpTo('tracked'), [fact.extended(day(120)), day(80)] as const])
      .when(extend, day(100))
      .thenProduces('deadlineExtended');
  });

  const progress = cmd.progress;
  const steps: [keyof typeof MAX_STEPS, string, () => EventPayload, Command][] = [
    [
      'inspection',
      'inspection',
      fact.inspected,
      progress({
        $case: 'inspection',
        value: { location: 'x', findings: 'y', officerIds: ['off-1'] },
      }),
    ],
    [
      'notice',
      'notice',
      () => fact.notified(true),
      progress({
        $case: 'notice',
        value: { facts: 'f', basis: 'b', hearingOffered: true, proposedFineFen: 0 },
      }),
    ],
    [
      'hearing',
      'hearing',
      () => fact.hearing(),
      progress({ $case: 'hearing', value: { presidedBy: 'h', summary: '', waived: false } }),
    ],
    [
      'legalReview',
      'legal_review',
      fact.legalReview,
      progress({ $case: 'legalReview', value: { reviewer: 'r', approved: true, opinion: '' } }),
    ],
    [
      'extension',
      'extension',
      () => fact.extended(day(200)),
      progress({
        $case: 'extension',
        value: { newDueAt: day(500), reason: 'complex', approvedBy: '局长' },
      }),
    ],
  ];
  it.each(steps)(
    'records a %s up to its bound and refuses one more, naming the step',
    (kind, field, recorded, command) => {
      // A notice first, so a hearing is offered.
      const held = (n: number) => [
        ...caseUpTo('tracked'),
        ...(kind === 'notice' ? [] : [[fact.notified(true), day(3)] as const]),
        ...Array.from({ length: n }, () => [recorded(), day(3)] as const),
      ];
      given(held(MAX_STEPS[kind] - 1))
        .when(command, day(4))
        .thenProduces(recorded().$case);
      given(held(MAX_STEPS[kind]))
        .when(command, day(4))
        .thenThrows('PROGRESS.TOO_MANY', `${field}: the case records at most ${MAX_STEPS[kind]}`);
    },
  );
});

describe('decide a penalty against the discretion benchmarks', () => {
  const heard = () => given(caseUpTo('noticed'));

  it('accepts a fine inside its grade band and marks a large one major', () => {
    heard()
      .when(cmd.penalty({ fineFen: 30_000_000 }))
      .thenProduces('penaltyDecided', (v: events.PenaltyDecided) => {
        expect(v).toMatchObject({
          discretionAnomaly: false,
          major: true,
          benchmarkVersion: 'LZ-2021.1',
        });
        expect([v.benchmarkMinFen, v.benchmarkMaxFen]).toEqual([20_000_000, 40_000_000]);
      });
  });

  it('refuses a fine outside the statutory range', () => {
    heard()
      .when(cmd.penalty({ fineFen: 150_000_000 }))
      .thenThrows('PENALTY.OUTSIDE_STATUTORY_RANGE', 'fine_fen');
  });

  it('refuses a fine outside its grade band without stated grounds', () => {
    heard()
      .when(cmd.penalty({ fineFen: 60_000_000 }))
      .thenThrows('PENALTY.OUTSIDE_BENCHMARK', 'grounds');
  });

  it('accepts it with grounds, flagged as a discretion anomaly', () => {
    heard()
      .when(cmd.penalty({ fineFen: 60_000_000, grounds: '多次违法' }))
      .thenProduces('penaltyDecided', (v: events.PenaltyDecided) =>
        expect(v).toMatchObject({
          discretionAnomaly: true,
          anomalyReason: expect.stringContaining('outside benchmark'),
        }),
      );
  });

  it('flags a fine at the edge of its band without grounds', () => {
    heard()
      .when(cmd.penalty({ fineFen: 40_000_000 }))
      .thenProduces('penaltyDecided', (v: events.PenaltyDecided) =>
        expect(v).toMatchObject({
          discretionAnomaly: true,
          anomalyReason: expect.stringContaining('edge'),
        }),
      );
  });

  it('refuses a violation code the table does not know', () => {
    heard()
      .when(cmd.penalty({ violationCode: 'NOPE-1' }))
      .thenThrows('PENALTY.UNKNOWN_VIOLATION', 'violation_code');
  });

  it('refuses a decision before the party was notified', () => {
    given(caseUpTo('tracked')).when(cmd.penalty()).thenThrows('PENALTY.NOTICE_REQUIRED');
  });

  it('refuses a large fine when no hearing was offered (Art. 63)', () => {
    given([...caseUpTo('tracked'), [fact.notified(false), day(3)]])
      .when(cmd.penalty({ fineFen: 30_000_000 }))
      .thenThrows('PENALTY.HEARING_NOT_OFFERED');
  });

  it('refuses while an offered hearing is neither held nor waived', () => {
    given([...caseUpTo('tracked'), [fact.notified(true), day(3)]])
      .when(cmd.penalty())
      .thenThrows('PENALTY.HEARING_PENDING');
  });

  it('refuses a grade that is not specified', () => {
    heard()
      .when(cmd.penalty({ grade: events.SeverityGrade.SEVERITY_GRADE_UNSPECIFIED }))
      .thenThrows('FIELD.REQUIRED', 'grade');
  });

  it('refuses a second decision', () => {
    given(caseUpTo('decided')).when(cmd.penalty()).thenThrows('CASE.INVALID_TRANSITION');
  });
});

describe('conclude, evaluate, archive', () => {
  it('concludes a decided case as penalized', () => {
    given(caseUpTo('decided')).when(cmd.conclude()).thenProduces('caseConcluded');
  });

  it('refuses to conclude as penalized without a decision', () => {
    given(caseUpTo('tracked')).when(cmd.conclude()).thenThrows('CONCLUDE.DECISION_REQUIRED');
  });

  it('concludes without penalty before a decision', () => {
    given(caseUpTo('tracked'))
      .when(cmd.conclude(events.Conclusion.CONCLUSION_NO_PENALTY))
      .thenProduces('caseConcluded');
  });

  it('records an evaluation with a breakdown, and refuses a score outside 0..100', () => {
    given(caseUpTo('concluded')).when(cmd.evaluate(88)).thenProduces('caseEvaluated');
    given(caseUpTo('concluded'))
      .when(cmd.evaluate(101))
      .thenThrows('EVALUATION.SCORE_OUT_OF_RANGE', 'score');
  });

  it(`refuses an evaluation past the ${MAX_EVALUATIONS}th`, () => {
    const evaluations = (n: number) =>
      Array.from({ length: n }, () => [fact.evaluated(), day(9)] as const);
    given([...caseUpTo('concluded'), ...evaluations(MAX_EVALUATIONS - 1)])
      .when(cmd.evaluate(), day(10))
      .thenProduces('caseEvaluated');
    given([...caseUpTo('concluded'), ...evaluations(MAX_EVALUATIONS)])
      .when(cmd.evaluate(), day(10))
      .thenThrows('EVALUATION.TOO_MANY');
  });

  it('refuses to evaluate an open case', () => {
    given(caseUpTo('decided')).when(cmd.evaluate()).thenThrows('CASE.INVALID_TRANSITION');
  });

  it('archives an evaluated case, sealing the head of its hash chain', () => {
    given(caseUpTo('evaluated'))
      .when(cmd.archive())
      .then([{ $case: 'caseArchived', value: { headHash: 'h'.repeat(64), eventCount: 8 } }]);
  });

  it('refuses to archive before evaluation', () => {
    given(caseUpTo('concluded')).when(cmd.archive()).thenThrows('ARCHIVE.NOT_EVALUATED');
  });

  it('refuses to archive while a supervision order is open', () => {
    given([...caseUpTo('evaluated'), [fact.orderOpened(), day(9)]])
      .when(cmd.archive(), day(10))
      .thenThrows('ARCHIVE.OPEN_ORDERS', 'o-1');
  });

  it('accepts nothing once archived', () => {
    given(caseUpTo('archived'))
      .when(cmd.openOrder('o-9', day(99)), day(20))
      .thenThrows('CASE.ARCHIVED');
  });
});

describe('supervision orders', () => {
  it('opens an order at any stage before archive, with a response deadline', () => {
    given(caseUpTo('tracked'))
      .when(cmd.openOrder('o-1', day(30)), day(5))
      .thenProduces('supervisionOrderOpened');
  });

  it('refuses a deadline that is not after the opening', () => {
    given(caseUpTo('tracked'))
      .when(cmd.openOrder('o-1', day(4)), day(5))
      .thenThrows('ORDER.DUE_BEFORE_OPENED', 'response_due_at');
  });

  it.each(['constructor', '__proto__', 'hasOwnProperty'])(
    'opens, answers and escalates an order named %s like any other',
    (orderId) => {
      const opened: [EventPayload, Date][] = [
        ...caseUpTo('tracked'),
        [fact.orderOpened(orderId), day(3)],
      ];
      given(caseUpTo('tracked'))
        .when(cmd.openOrder(orderId), day(3))
        .thenProduces('supervisionOrderOpened');
      given(opened).when(cmd.openOrder(orderId), day(4)).thenThrows('ORDER.DUPLICATE');
      given(opened).when(cmd.answer(orderId), day(4)).thenProduces('supervisionOrderAnswered');
      given(opened).when(cmd.escalate(orderId), day(4)).thenProduces('supervisionOrderEscalated');
      given(caseUpTo('tracked')).when(cmd.answer(orderId), day(4)).thenThrows('ORDER.NOT_FOUND');
    },
  );

  it('refuses a reused order id', () => {
    given([...caseUpTo('tracked'), [fact.orderOpened(), day(3)]])
      .when(cmd.openOrder('o-1'), day(4))
      .thenThrows('ORDER.DUPLICATE');
  });

  it('answers an open order once', () => {
    const opened = [...caseUpTo('tracked'), [fact.orderOpened(), day(3)]] as ReturnType<
      typeof caseUpTo
    >;
    given(opened).when(cmd.answer(), day(4)).thenProduces('supervisionOrderAnswered');
    given([...opened, [fact.orderAnswered(), day(4)]])
      .when(cmd.answer(), day(5))
      .thenThrows('ORDER.NOT_OPEN');
  });

  it('escalates an unanswered order one level up', () => {
    given([...caseUpTo('tracked'), [fact.orderOpened(), day(3)]])
      .when(cmd.escalate(), day(40))
      .thenProduces('supervisionOrderEscalated', (v: events.SupervisionOrderEscalated) =>
        expect(v.level).toBe(2),
      );
  });

  it('escalates an order as of a moment before its late answer, and not after the answer', () => {
    const answeredLate = [
      ...caseUpTo('tracked'),
      [fact.orderOpened(), day(3)],
      [fact.orderAnswered(), day(40)],
    ] as ReturnType<typeof caseUpTo>;
    given(answeredLate)
      .when(cmd.escalate(), day(35))
      .thenProduces('supervisionOrderEscalated', (v: events.SupervisionOrderEscalated) =>
        expect(v.level).toBe(2),
      );
    given(answeredLate).when(cmd.escalate(), day(40)).thenThrows('ORDER.NOT_OPEN');
  });

  it(`refuses an order past the ${MAX_ORDERS}th on a case, opened by anyone`, () => {
    const orders = (n: number) =>
      Array.from({ length: n }, (_, i) => [fact.orderOpened(`o-${i}`), day(3)] as const);
    given([...caseUpTo('tracked'), ...orders(MAX_ORDERS - 1)])
      .when(cmd.openOrder('one-more'), day(4))
      .thenProduces('supervisionOrderOpened');
    given([...caseUpTo('tracked'), ...orders(MAX_ORDERS)])
      .when(cmd.openOrder('one-more'), day(4))
      .thenThrows('ORDER.TOO_MANY', 'order_id');
  });

  it(`escalates an order up to level ${MAX_ORDER_LEVEL} and no further; it can still be answered`, () => {
    const upTo = (level: number) => [
      ...caseUpTo('tracked'),
      [fact.orderOpened(), day(3)] as const,
      ...Array.from(
        { length: level - 1 },
        (_, i) => [fact.orderEscalated('o-1', i + 2), day(4)] as const,
      ),
    ];
    given(upTo(MAX_ORDER_LEVEL - 1))
      .when(cmd.escalate(), day(5))
      .thenProduces('supervisionOrderEscalated', (v: events.SupervisionOrderEscalated) =>
        expect(v.level).toBe(MAX_ORDER_LEVEL),
      );
    given(upTo(MAX_ORDER_LEVEL))
      .when(cmd.escalate(), day(5))
      .thenThrows('ORDER.TOP_LEVEL', `level ${MAX_ORDER_LEVEL}`);
    given(upTo(MAX_ORDER_LEVEL))
      .when(cmd.answer(), day(5))
      .thenProduces('supervisionOrderAnswered');
  });

  it('refuses to answer an order that does not exist', () => {
    given(caseUpTo('tracked')).when(cmd.answer('o-404')).thenThrows('ORDER.NOT_FOUND', 'order_id');
  });
});

describe('administrative reconsideration, its own case type', () => {
  it('files, accepts and concludes with a correction', () => {
    given().when(cmd.file()).thenProduces('reconsiderationFiled');
    const history: ReturnType<typeof caseUpTo> = [[fact.reviewFiled(), T0]];
    given(history).when(cmd.accept()).thenProduces('reconsiderationAccepted');
    given([...history, [fact.reviewAccepted(), day(1)]])
      .when(cmd.concludeReview(events.ReviewOutcome.REVIEW_OUTCOME_REVOKED))
      .then([
        {
          $case: 'reconsiderationConcluded',
          value: {
            outcome: events.ReviewOutcome.REVIEW_OUTCOME_REVOKED,
            corrected: true,
            summary: '',
            enforcementCaseId: 'case-1',
          },
        },
      ]);
    given([...history, [fact.reviewAccepted(), day(1)]])
      .when(cmd.concludeReview(events.ReviewOutcome.REVIEW_OUTCOME_UPHELD))
      .thenProduces('reconsiderationConcluded', (v: events.ReconsiderationConcluded) =>
        expect(v.corrected).toBe(false),
      );
  });

  it('refuses to conclude a review that was not accepted', () => {
    given([[fact.reviewFiled(), T0]])
      .when(cmd.concludeReview(events.ReviewOutcome.REVIEW_OUTCOME_UPHELD))
      .thenThrows('CASE.INVALID_TRANSITION');
  });

  it('refuses enforcement commands on a review, and review commands on a case', () => {
    given(caseUpTo('registered')).when(cmd.accept()).thenThrows('CASE.WRONG_TYPE');
    given([[fact.reviewFiled(), T0]])
      .when(cmd.dispatch())
      .thenThrows('CASE.WRONG_TYPE');
  });

  it('names the enforcement case it challenges', () => {
    given()
      .when(cmd.file({ enforcementCaseId: '' }))
      .thenThrows('FIELD.REQUIRED', 'enforcement_case_id');
  });
});
