import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata } from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { events, scoring } from '@enforcement/contracts';
import { eventually, lapsingToken, stack, uniqueName } from '@enforcement/testing';
import { unpackPage, type ReadModels } from './adapters/mongo/read-models.js';
import { MODEL_V1, scoreCase } from './domain/scoring-model.js';
import { READ_MODEL_FORMAT } from './runtime.js';
import { caseEvents, laterEvent } from './test-support/events.js';
import {
  publish,
  startScoring,
  testTopics,
  tokenFor,
  unary,
  type TestScoring,
} from './test-support/harness.js';

async function scored(models: ReadModels, caseIds: string[]): Promise<boolean | undefined> {
  for (const id of caseIds) {
    const doc = await models.getCase(id);
    if (!doc || !scoreCase(doc.view, MODEL_V1)) return undefined;
  }
  return true;
}

async function rollupSnapshot(models: ReadModels): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const c of models.rollups.all()) {
    for (const page of (await c.find({}).toArray()).map(unpackPage))
      for (const row of page.rows) {
        const values = (out[row.id] ??= {});
        for (const [k, v] of Object.entries(row.values))
          values[k] = Math.round(((values[k] ?? 0) + v) * 100) / 100;
      }
  }
  return out;
}

/** Reads a dead-letter topic from its start: each letter's reason, by key, as they come. */
async function deadLetterReader(
  topic: string,
): Promise<{ reasons: ReadonlyMap<string, string>; stop(): Promise<void> }> {
  const kafka = new Kafka({
    clientId: 'dlq-reader',
    brokers: stack().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const reasons = new Map<string, string>();
  await consumer.run({
    eachMessage: async ({ message }) => {
      reasons.set(message.key?.toString() ?? '', message.headers?.error?.toString() ?? '');
    },
  });
  return { reasons, stop: () => consumer.disconnect() };
}

/** The ranking of one agency's 2021 cases. */
const agencyIn2021 = (agencyId: string): scoring.ListScoresRequest => ({
  groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
  periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
  period: '2021',
  agencyId,
  district: '',
  domain: 0,
  ascending: false,
  pageSize: 10,
  pageToken: '',
});

describe('scoring projection on the real stack', () => {
  let svc: TestScoring;
  let supervisor: Metadata;
  beforeAll(async () => {
    svc = await startScoring();
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => svc?.stop());

  /** Until every partition is applied to its end (the projection's lag is 0). */
  const appliedToEnd = () =>
    eventually(
      async () => {
        const s = await unary<scoring.GetProjectionStatusResponse>((cb) =>
          svc.client.getProjectionStatus({}, supervisor, cb),
        );
        return s.lag === 0 ? true : undefined;
      },
      { what: 'every partition applied to its end' },
    );

  it('scores a concluded case with its breakdown, and counts an event delivered twice once', async () => {
    const caseId = uniqueName('dup');
    const evs = caseEvents({ caseId, agencyId: `ag-${caseId}` });
    await publish(
      svc.topics.caseEvents,
      [...evs, evs[7], ...evs].filter((e) => e !== undefined),
    );
    await eventually(() => scored(svc.service.runtime.models, [caseId]), { what: 'score' });
    await eventually(
      () => (svc.service.runtime.consumer.stats.duplicates >= 9 ? true : undefined),
      { what: 'duplicates seen' },
    );

    const got = await unary<scoring.GetCaseScoreResponse>((cb) =>
      svc.client.getCaseScore({ caseId }, supervisor, cb),
    );
    expect(got.score).toMatchObject({
      caseId,
      score: 100,
      modelVersion: 'supervision-score/v1',
      officerIds: ['off-1', 'off-2'],
    });
    expect(got.score?.indicators.find((i) => i.indicator === 'timeliness')?.eventIds).toEqual([
      `${caseId}-e1`,
      `${caseId}-e8`,
    ]);

    const list = await unary<scoring.ListScoresResponse>((cb) =>
      svc.client.listScores(agencyIn2021(`ag-${caseId}`), supervisor, cb),
    );
    expect(list.rows).toEqual([
      expect.objectContaining({ key: `ag-${caseId}`, cases: 1, meanScore: 100, rank: 1 }),
    ]);
  });

  it('leaves an order in its response window out of the live score and its ranking, and counts it once its deadline passes unanswered', async () => {
    const caseId = uniqueName('awaiting');
    const agencyId = `ag-${caseId}`;
    const evs = caseEvents({ caseId, agencyId });
    const concluded = evs[evs.length - 1]?.occurredAt ?? new Date();
    const day = (n: number) => new Date(concluded.getTime() + n * 86_400_000);
    const first = evs[0];
    if (!first) throw new Error('no events');
    const next = (version: number, at: Date, payload: NonNullable<events.CaseEvent['payload']>) =>
      laterEvent(first, version, at, payload);
    const opened = next(evs.length + 1, day(1), {
      $case: 'supervisionOrderOpened',
      value: {
        orderId: 'ord-awaiting',
        reason: events.SupervisionReason.SUPERVISION_REASON_COMPLAINT,
        note: 'n',
        responseDueAt: day(8),
        ruleId: '',
      },
    });
    const escalated = next(evs.length + 2, day(8), {
      $case: 'supervisionOrderEscalated',
      value: { orderId: 'ord-awaiting', level: 2, reason: 'unanswered', responseDueAt: day(13) },
    });
    const score = () =>
      unary<scoring.GetCaseScoreResponse>((cb) =>
        svc.client.getCaseScore({ caseId }, supervisor, cb),
      ).then(
        (r) => r.score,
        () => undefined, // NOT_FOUND until the case is scored
      );
    const ranked = async () =>
      (
        await unary<scoring.ListScoresResponse>((cb) =>
          svc.client.listScores(agencyIn2021(agencyId), supervisor, cb),
        )
      ).rows.map((r) => r.meanScore);
    const response = (s: scoring.CaseScore | undefined) =>
      s?.indicators.find((i) => i.indicator === 'supervision_response');

    await publish(svc.topics.caseEvents, [...evs, opened]);
    const awaiting = await eventually(
      async () => {
        const s = await score();
        return s && response(s)?.eventIds.length ? s : undefined;
      },
      { what: 'the score with the order' },
    );
    expect(awaiting.score).toBe(100);
    expect(response(awaiting)).toMatchObject({
      points: 10,
      reasons: ['1 awaiting its answer, due 2021-04-08'],
      eventIds: [opened.eventId],
    });
    expect(await ranked()).toEqual([100]);

    await publish(svc.topics.caseEvents, [escalated]);
    const counted = await eventually(
      async () => {
        const s = await score();
        return s?.score === 90 ? s : undefined;
      },
      { what: 'the score after the escalation' },
    );
    expect(response(counted)?.reasons).toEqual(['0 of 1 supervision orders answered on time']);
    expect(await ranked()).toEqual([90]);
  });

  it('ranks groups, pages through them, and confines an agency to its own rows', async () => {
    const ids = ['a', 'b', 'c'].map((x) => uniqueName(`rank-${x}`));
    await publish(
      svc.topics.caseEvents,
      ids.flatMap((caseId, i) =>
        caseEvents({
          caseId,
          agencyId: `rank-ag-${i}`,
          start: new Date('2021-06-01T02:00:00Z'),
          concludeAfterDays: 90 + i * 5,
        }),
      ),
    );
    await eventually(() => scored(svc.service.runtime.models, ids), { what: 'three scores' });
    const req = {
      groupBy: scoring.GroupBy.GROUP_BY_AGENCY,
      periodKind: scoring.PeriodKind.PERIOD_KIND_QUARTER,
      period: '2021-Q3',
      agencyId: '',
      district: '',
      domain: 0,
      ascending: false,
      pageSize: 2,
      pageToken: '',
    };
    const page1 = await unary<scoring.ListScoresResponse>((cb) =>
      svc.client.listScores(req, supervisor, cb),
    );
    expect(page1.rows.map((r) => [r.key, r.rank, r.meanScore])).toEqual([
      ['rank-ag-0', 1, 100],
      ['rank-ag-1', 2, 90],
    ]);
    const page2 = await unary<scoring.ListScoresResponse>((cb) =>
      svc.client.listScores({ ...req, pageToken: page1.nextPageToken }, supervisor, cb),
    );
    expect(page2.rows.map((r) => [r.key, r.rank])).toEqual([['rank-ag-2', 3]]);
    expect(page2.nextPageToken).toBe('');

    const own = await tokenFor(['agency'], ['rank-ag-1']);
    const mine = await unary<scoring.ListScoresResponse>((cb) =>
      svc.client.listScores({ ...req, pageSize: 10 }, own, cb),
    );
    expect(mine.rows.map((r) => r.key)).toEqual(['rank-ag-1']);
    await expect(
      unary((cb) => svc.client.listScores({ ...req, agencyId: 'rank-ag-0' }, own, cb)),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(
      unary((cb) => svc.client.getCaseScore({ caseId: ids[0] ?? '' }, own, cb)),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('answers invalid filters and periods with INVALID_ARGUMENT naming the field', async () => {
    const base = {
      groupBy: scoring.GroupBy.GROUP_BY_OFFICER,
      periodKind: scoring.PeriodKind.PERIOD_KIND_MONTH,
      period: '2021-13',
      agencyId: '',
      district: '',
      domain: 0,
      ascending: false,
      pageSize: 10,
      pageToken: '',
    };
    await expect(unary((cb) => svc.client.listScores(base, supervisor, cb))).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: "QUERY.PERIOD: period: '2021-13' is not a MONTH period (YYYY-MM)",
    });
    await expect(
      unary((cb) =>
        svc.client.listScores({ ...base, period: '2021-01', groupBy: 0 }, supervisor, cb),
      ),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('group_by'),
    });
    await expect(
      unary((cb) =>
        svc.client.listScores({ ...base, period: '2021-01', pageSize: 5000 }, supervisor, cb),
      ),
    ).rejects.toMatchObject({
      details: expect.stringContaining('page_size'),
    });
    await expect(
      unary((cb) =>
        svc.client.listSupervisionOrders(
          scoring.ListSupervisionOrdersRequest.fromPartial({ status: 9 as scoring.OrderStatus }),
          supervisor,
          cb,
        ),
      ),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('status'),
    });
  });

  it('parks a case behind a poison event while other cases flow, and releases it once told to', async () => {
    const parked = uniqueName('poison');
    const flowing = uniqueName('flow');
    const x = caseEvents({ caseId: parked, agencyId: `ag-${parked}` });
    await publish(svc.topics.caseEvents, [
      ...x.slice(0, 3),
      { key: parked, raw: Buffer.from('definitely not protobuf \u00ff\u00fe') },
      ...x.slice(3),
      ...caseEvents({ caseId: flowing }),
    ]);
    await eventually(() => scored(svc.service.runtime.models, [flowing]), {
      what: 'other case scored',
    });
    const doc = await eventually(
      async () => {
        const d = await svc.service.runtime.models.getCase(parked);
        return d && d.held.length === 5 ? d : undefined;
      },
      { what: 'held events' },
    );
    expect(doc).toMatchObject({ parked: true });
    // Held before its conclusion: no score yet.
    expect(doc.view.version).toBe(3);
    expect(scoreCase(doc.view, MODEL_V1)).toBeUndefined();
    const projection = () =>
      unary<scoring.GetProjectionStatusResponse>((cb) =>
        svc.client.getProjectionStatus({}, supervisor, cb),
      );
    const before = await projection();
    expect(before.parked.find((c) => c.caseId === parked)).toMatchObject({
      agencyId: `ag-${parked}`,
      heldEvents: 5,
      reason: expect.stringMatching(/.+/),
    });
    expect(before.parkedTotal).toBeGreaterThanOrEqual(1);
    expect(before.rebuilding).toBe(false);
    const agency = await tokenFor(['agency'], ['lz-eeb']);
    await expect(
      unary((cb) => svc.client.getProjectionStatus({}, agency, cb)),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });

    const kafka = new Kafka({
      clientId: 'dlq-reader',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(svc.topics.scoringDeadLetter);
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBeGreaterThanOrEqual(1);

    const released = await unary<scoring.ReleaseParkedCaseResponse>((cb) =>
      svc.client.releaseParkedCase({ caseId: parked }, supervisor, cb),
    );
    expect(released.releasedEvents).toBe(5);
    const after = await svc.service.runtime.models.getCase(parked);
    // The release notes where the case's partition ended: its messages
    // below that, replayed later, count by version (docs/scoring.md).
    const ends = await admin.fetchTopicOffsets(svc.topics.caseEvents);
    await admin.disconnect();
    const partition = svc.service.runtime.consumer.partitionOf(parked);
    expect(after?.releasedBelow).toBe(Number(ends.find((o) => o.partition === partition)?.high));
    expect(after).toMatchObject({ parked: false, held: [] });
    expect(after && scoreCase(after.view, MODEL_V1)?.score).toBe(100);
    expect((await projection()).parked.map((c) => c.caseId)).not.toContain(parked);
    // The released events count in the rankings once (on the partition's
    // correction page, as the case's release part).
    const ranked = await unary<scoring.ListScoresResponse>((cb) =>
      svc.client.listScores(agencyIn2021(`ag-${parked}`), supervisor, cb),
    );
    expect(ranked.rows).toEqual([
      expect.objectContaining({ key: `ag-${parked}`, cases: 1, meanScore: 100 }),
    ]);
  });

  it('dead-letters an event with a NUL character in its text and parks its case, while its partition goes on', async () => {
    // Intake refuses such text, so these came from elsewhere. The store
    // cannot hold it: before, the agency's went into the rules' clock as a
    // field name the driver refuses, and its partition's chunk failed for good.
    const base = uniqueName('nul');
    const parked = { officer: `${base}-o`, agency: `${base}-a`, district: `${base}-d` };
    const unstorable = `${base}-c\u0000`;
    // Cases after them on every partition: none may wait behind the poison.
    const flowing = Array.from({ length: 24 }, (_, i) => `${base}-f${i}`);
    const letters = await deadLetterReader(svc.topics.scoringDeadLetter);
    await publish(svc.topics.caseEvents, [
      ...caseEvents({ caseId: parked.officer, officers: ['off-\u0000', 'off-2'] }),
      ...caseEvents({ caseId: parked.agency, agencyId: 'lz\u0000eeb' }),
      ...caseEvents({ caseId: parked.district, district: '柳南\u0000区' }),
      ...caseEvents({ caseId: unstorable }),
      ...flowing.flatMap((caseId) => caseEvents({ caseId })),
    ]);
    await eventually(() => scored(svc.service.runtime.models, flowing), {
      what: 'the cases after them scored',
    });
    await appliedToEnd();
    for (const [id, field] of [
      [parked.officer, 'payload.case_dispatched.officers[0].officer_id'],
      [parked.agency, 'agency_id'],
      [parked.district, 'payload.case_registered.district'],
    ] as const)
      expect(await svc.service.runtime.models.getCase(id), id).toMatchObject({
        parked: true,
        parkReason: expect.stringContaining(`${field} contains a NUL character`),
      });
    try {
      await eventually(
        () =>
          [...Object.values(parked), unstorable].every((id) => letters.reasons.has(id))
            ? true
            : undefined,
        { what: 'a letter for each' },
      );
      for (const id of [...Object.values(parked), unstorable])
        expect(letters.reasons.get(id), id).toMatch(/contains a NUL character/);
    } finally {
      await letters.stop();
    }
    // Health says so only while something fails.
    await svc.service.readiness.check();
    expect([...svc.service.readiness.failing]).toEqual([]);
  });

  it('scores cases whose agency, officer, district and id begin and end with white space, while its partition goes on', async () => {
    // The events topic may carry such ids (intake kept an officer's as sent
    // until the evening of 2026-12-06; it never did a case's). FerretDB
    // refuses a field path whose part begins or ends with white space:
    // before 2026-12-06 such an agency went into the rules' clock as a field
    // name the store refused, and its partition's chunk failed for good.
    const base = uniqueName('spaced');
    const spaced = Array.from({ length: 6 }, (_, i) => `${base}-s${i}`);
    const flowing = Array.from({ length: 24 }, (_, i) => `${base}-f${i}`);
    await publish(svc.topics.caseEvents, [
      ...spaced.flatMap((caseId, i) =>
        caseEvents({
          caseId: i % 2 === 0 ? ` ${caseId}\u3000` : caseId,
          agencyId: i % 3 === 0 ? ' lz-eeb' : i % 3 === 1 ? 'lz-eeb\t' : '\u00a0lz-eeb ',
          officers: [` ${base}-o${i}`, `${base}-p${i} `],
          district: ` 柳南区${i} `,
        }),
      ),
      ...flowing.flatMap((caseId) => caseEvents({ caseId })),
    ]);
    await eventually(() => scored(svc.service.runtime.models, flowing), {
      what: 'the cases after them scored',
    });
    await eventually(
      () =>
        scored(
          svc.service.runtime.models,
          spaced.map((id, i) => (i % 2 === 0 ? ` ${id}\u3000` : id)),
        ),
      { what: 'the cases with spaced ids scored' },
    );
    await appliedToEnd();
    await svc.service.readiness.check();
    expect([...svc.service.readiness.failing]).toEqual([]);
  });

  it('streams supervision orders live as they are opened and answered, an agency seeing only its own', async () => {
    const caseId = uniqueName('ordered');
    const base = caseEvents({ caseId, agencyId: 'order-ag' }).slice(0, 3);
    const at = base[2]?.occurredAt ?? new Date();
    const first = base[0];
    if (!first) throw new Error('no events');
    const next = (version: number, payload: NonNullable<events.CaseEvent['payload']>) =>
      laterEvent(first, version, at, payload);
    const opened = next(4, {
      $case: 'supervisionOrderOpened',
      value: {
        orderId: 'ord-live-1',
        reason: events.SupervisionReason.SUPERVISION_REASON_APPROACHING_DEADLINE,
        note: 'n',
        responseDueAt: new Date(at.getTime() + 5 * 86_400_000),
        ruleId: '',
      },
    });
    const answered = next(5, {
      $case: 'supervisionOrderAnswered',
      value: { orderId: 'ord-live-1', answer: 'done' },
    });
    const watch = (md: typeof supervisor, agencyId = '') => {
      const got: scoring.SupervisionOrder[] = [];
      const call = svc.client.watchSupervisionOrders({ agencyId }, md);
      call.on('data', (r: scoring.WatchSupervisionOrdersResponse) => r.order && got.push(r.order));
      call.on('error', () => undefined);
      return { got, call };
    };
    const city = watch(supervisor);
    const own = watch(await tokenFor(['agency'], ['order-ag']));
    const other = watch(await tokenFor(['agency'], ['lz-eeb']));
    await new Promise((r) => setTimeout(r, 300));
    await publish(svc.topics.caseEvents, [...base, opened]);
    await eventually(() => (city.got.length > 0 ? true : undefined), { what: 'the order opened' });
    await publish(svc.topics.caseEvents, [answered]);
    await eventually(() => (own.got.length > 1 ? true : undefined), { what: 'the order answered' });
    for (const w of [city, own, other]) w.call.cancel();
    expect(city.got.map((o) => [o.orderId, o.caseId, o.status])).toEqual([
      ['ord-live-1', caseId, scoring.OrderStatus.ORDER_STATUS_OPEN],
      ['ord-live-1', caseId, scoring.OrderStatus.ORDER_STATUS_ANSWERED],
    ]);
    expect(own.got.map((o) => o.status)).toEqual(city.got.map((o) => o.status));
    expect(other.got).toEqual([]);
    const refused = svc.client.watchSupervisionOrders(
      { agencyId: 'order-ag' },
      await tokenFor(['agency'], ['lz-eeb']),
    );
    await expect(
      new Promise((_, reject) => {
        refused.on('error', reject);
        refused.on('data', () => undefined);
      }),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('streams score updates live to a watcher, filtered by agency', async () => {
    const caseId = uniqueName('watch');
    const got: scoring.CaseScore[] = [];
    const call = svc.client.watchScores({ agencyId: 'watch-ag', district: '' }, supervisor);
    call.on('data', (r: scoring.WatchScoresResponse) => r.score && got.push(r.score));
    call.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 300));
    await publish(svc.topics.caseEvents, [
      ...caseEvents({ caseId: uniqueName('other') }),
      ...caseEvents({ caseId, agencyId: 'watch-ag' }),
    ]);
    await eventually(() => (got.length > 0 ? true : undefined), { what: 'a live score' });
    call.cancel();
    expect(got.map((s) => s.caseId)).toEqual([caseId]);
  });

  it('ends a watch UNAUTHENTICATED once its token expires, while a watch with a valid token goes on', async () => {
    const lapsing = await lapsingToken(['supervisor'], [], 4);
    const ended = (call: { on(e: 'error', l: (err: Error) => void): unknown }) =>
      new Promise<{ err: Error & { code?: number; details?: string }; at: number }>((resolve) =>
        call.on('error', (err) => resolve({ err, at: Date.now() })),
      );
    const subscribed = (call: { on(e: 'metadata', l: () => void): unknown }) =>
      new Promise<void>((resolve) => call.on('metadata', () => resolve()));
    const scores = svc.client.watchScores({ agencyId: 'lapse-ag', district: '' }, lapsing.md);
    scores.on('data', () => undefined);
    const orders = svc.client.watchSupervisionOrders({ agencyId: '' }, lapsing.md);
    orders.on('data', () => undefined);
    const got: scoring.CaseScore[] = [];
    const valid = svc.client.watchScores({ agencyId: 'lapse-ag', district: '' }, supervisor);
    valid.on('data', (r: scoring.WatchScoresResponse) => r.score && got.push(r.score));
    let validEnded = false;
    valid.on('error', () => (validEnded = true));
    await Promise.all([subscribed(scores), subscribed(orders), subscribed(valid)]);
    const [scoresEnd, ordersEnd] = await Promise.all([ended(scores), ended(orders)]);
    for (const end of [scoresEnd, ordersEnd]) {
      expect(end.err).toMatchObject({
        code: status.UNAUTHENTICATED,
        details:
          'AUTH.UNAUTHENTICATED: token expired while the stream was open: open it again with a new token',
      });
      // Not before a new call with the token would be refused.
      expect(end.at).toBeGreaterThanOrEqual(lapsing.validUntil);
    }
    // The same token opens no new watch.
    await expect(
      ended(svc.client.watchScores({ agencyId: '', district: '' }, lapsing.md)).then((e) => e.err),
    ).resolves.toMatchObject({
      code: status.UNAUTHENTICATED,
      details: 'AUTH.UNAUTHENTICATED: token expired: get a new one',
    });
    // The watch opened with a valid token still gets its updates.
    const caseId = uniqueName('lapse');
    await publish(svc.topics.caseEvents, caseEvents({ caseId, agencyId: 'lapse-ag' }));
    await eventually(() => (got.length > 0 ? true : undefined), { what: 'a live score' });
    expect(validEnded).toBe(false);
    valid.cancel();
    expect(got.map((s) => s.caseId)).toEqual([caseId]);
  });
});

describe('restart and rebuild', () => {
  it('ends with rollups equal to a fresh rebuild after being killed mid-stream', async () => {
    const topics = testTopics();
    const db = uniqueName('scoring').replace(/-/g, '_');
    const ids = Array.from({ length: 30 }, (_, i) => uniqueName(`k${i}`));
    await publish(
      topics.caseEvents,
      ids.flatMap((caseId, i) =>
        caseEvents({
          caseId,
          agencyId: `ag-${i % 4}`,
          officers: [`o-${i % 7}`, `o-${(i + 3) % 7}`],
          concludeAfterDays: 60 + (i % 50),
        }),
      ),
    );
    const first = await startScoring({ db, topics });
    await eventually(
      () => (first.service.runtime.consumer.stats.applied >= 60 ? true : undefined),
      { what: 'some progress' },
    );
    first.client.close();
    await first.service.kill();

    const second = await startScoring({ db, topics });
    try {
      await eventually(() => scored(second.service.runtime.models, ids), {
        what: 'all scored after restart',
        timeoutMs: 60_000,
      });
      const live = await rollupSnapshot(second.service.runtime.models);
      const supervisor = await tokenFor(['supervisor']);
      // Two operators asking at once: one rebuild runs, the other is told it is running.
      const [rebuilt, twice] = await Promise.allSettled([
        unary<scoring.RebuildReadModelsResponse>((cb) =>
          second.client.rebuildReadModels({}, supervisor, cb),
        ),
        unary<scoring.RebuildReadModelsResponse>((cb) =>
          second.client.rebuildReadModels({}, supervisor, cb),
        ),
      ]).then((r) => [...r].sort((a) => (a.status === 'fulfilled' ? -1 : 1)));
      expect(twice).toMatchObject({
        status: 'rejected',
        reason: {
          code: status.FAILED_PRECONDITION,
          details: expect.stringMatching(/being rebuilt/),
        },
      });
      expect(rebuilt?.status === 'fulfilled' && rebuilt.value.eventsApplied).toBeGreaterThanOrEqual(
        ids.length * 8,
      );
      const fresh = await rollupSnapshot(second.service.runtime.models);
      expect(Object.keys(fresh).length).toBeGreaterThan(0);
      expect(fresh).toEqual(live);
    } finally {
      await second.stop();
    }
  });

  it('projects read models of an older layout again into the next generation, and refuses a later layout', async () => {
    const topics = testTopics();
    const db = uniqueName('scoring').replace(/-/g, '_');
    const ids = Array.from({ length: 6 }, (_, i) => uniqueName(`l${i}`));
    await publish(
      topics.caseEvents,
      ids.flatMap((caseId) => caseEvents({ caseId })),
    );
    const first = await startScoring({ db, topics });
    await eventually(() => scored(first.service.runtime.models, ids), { what: 'all scored' });
    await first.stop();
    const mongo = await MongoClient.connect(stack().mongoUri);
    const meta = mongo
      .db(db)
      .collection<{ _id: string; generation?: number; format?: number }>('meta');
    try {
      expect(await meta.findOne({ _id: 'active' })).toMatchObject({
        generation: 1,
        format: READ_MODEL_FORMAT,
      });
      // As a version of layout 4 left them: the next generation is projected from the topic.
      await meta.updateOne({ _id: 'active' }, { $set: { format: 4 } });
      const second = await startScoring({ db, topics });
      try {
        expect(second.service.runtime.models.prefix).toBe('g2_');
        await eventually(() => scored(second.service.runtime.models, ids), {
          what: 'all scored in generation 2',
        });
      } finally {
        await second.stop();
      }
      expect(await meta.findOne({ _id: 'active' })).toMatchObject({
        generation: 2,
        format: READ_MODEL_FORMAT,
      });
      // Left by a later version: this one would misread them, so it does not start.
      await meta.updateOne({ _id: 'active' }, { $set: { format: READ_MODEL_FORMAT + 1 } });
      await expect(startScoring({ db, topics })).rejects.toThrow(
        `in layout ${READ_MODEL_FORMAT + 1}, and this version reads layout ${READ_MODEL_FORMAT} at most`,
      );
      expect(await meta.findOne({ _id: 'active' })).toMatchObject({
        generation: 2,
        format: READ_MODEL_FORMAT + 1,
      });
    } finally {
      await mongo.db(db).dropDatabase();
      await mongo.close();
    }
  });
});
