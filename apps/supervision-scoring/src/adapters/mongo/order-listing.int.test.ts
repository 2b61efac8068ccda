import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import type { Principal } from '@enforcement/auth';
import { events, scoring } from '@enforcement/contracts';
import { stack, uniqueName } from '@enforcement/testing';
import type { OrderView } from '../../domain/case-view.js';
import {
  listOrders,
  toSupervisionOrder,
  type ListedOrder,
  type OrderFilter,
  type ScoreReader,
} from '../../application/queries.js';
import { boundedId } from '../../domain/rules.js';
import { weekOf, ReadModels } from './read-models.js';

const R = events.SupervisionReason;
const S = scoring.OrderStatus;
const DAY = 86_400_000;
/** Moments around the turns of the months and weeks, where a week's orders meet the next's. */
const TURNS = [
  '2023-12-01',
  '2024-01-01',
  '2024-01-09',
  '2024-01-17',
  '2024-01-25',
  '2024-02-01',
  '2024-03-01',
].map((d) => Date.parse(d));
const NOW = new Date('2024-02-10T12:00:00.000Z');

const moment = fc.oneof(
  fc.integer({ min: Date.parse('2023-11-20'), max: Date.parse('2024-03-10') }),
  fc.tuple(fc.constantFrom(...TURNS), fc.constantFrom(-1, 0, 1)).map(([t, d]) => t + d),
  // Orders opened at the same moment: the order id breaks the tie.
  fc.constant(Date.parse('2024-01-15T08:00:00.000Z')),
);

/** A case belongs to one agency. */
const AGENCY_OF: Record<string, string> = { c1: 'a1', c2: 'a1', c3: 'a2', c4: 'a3', c5: 'a3' };

const anOrder = fc.record({
  caseId: fc.constantFrom('c1', 'c2', 'c3', 'c4', 'c5'),
  reason: fc.constantFrom(R.SUPERVISION_REASON_OVERDUE, R.SUPERVISION_REASON_DISCRETION_ANOMALY),
  openedAt: moment,
  dueIn: fc.integer({ min: 1, max: 40 }),
  answeredIn: fc.option(fc.integer({ min: 0, max: 30 })),
  escalated: fc.boolean(),
  /** Opened by a rule its case's history no longer calls for (late data). */
  unwarranted: fc.boolean(),
});

type Drawn = typeof anOrder extends fc.Arbitrary<infer T> ? T : never;

const aQuery = fc.record({
  status: fc.constantFrom(
    0,
    S.ORDER_STATUS_OPEN,
    S.ORDER_STATUS_ANSWERED,
    S.ORDER_STATUS_ESCALATED,
  ),
  reason: fc.constantFrom(0, R.SUPERVISION_REASON_OVERDUE, R.SUPERVISION_REASON_DISCRETION_ANOMALY),
  agencyId: fc.constantFrom('', 'a1', 'a2'),
  caseId: fc.constantFrom('', '', 'c1', 'c3'),
  overdueOnly: fc.boolean(),
  escalatedOnly: fc.boolean(),
  unwarrantedOnly: fc.boolean(),
  pageSize: fc.constantFrom(0, 1, 2, 3, 5, 8),
});

/** The drawn orders as the list holds them, at `caseVersion`, ids from `o<first>`. */
function listedOf(drawn: readonly Drawn[], first = 0, caseVersion = 1): ListedOrder[] {
  return drawn.map((d, n) => {
    const i = first + n;
    const ruleId = `rule-${String(i).padStart(2, '0')}`;
    const view: OrderView = {
      // A rule's order is named by its rule id.
      orderId: d.unwarranted ? boundedId('auto-', ruleId) : `o${String(i).padStart(2, '0')}`,
      reason: d.reason,
      openedAt: new Date(d.openedAt).toISOString(),
      responseDueAt: new Date(d.openedAt + d.dueIn * DAY).toISOString(),
      level: d.escalated ? 2 : 1,
      answeredAt:
        d.answeredIn === null ? null : new Date(d.openedAt + d.answeredIn * DAY).toISOString(),
      escalated: d.escalated,
      ruleId,
      openedEventId: `e-${i}`,
    };
    return {
      ...view,
      caseId: d.caseId,
      agencyId: AGENCY_OF[d.caseId] ?? '',
      caseVersion,
      ...(d.unwarranted ? { unwarrantedActions: [ruleId] } : {}),
    };
  });
}

/** Written a few cases' orders to a call, as chunks write them. */
async function write(models: ReadModels, all: readonly ListedOrder[], batches = 1): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const mine = all.filter((_, i) => i % batches === b);
    const cases = [...new Set(mine.map((o) => o.caseId))];
    if (cases.length === 0) continue;
    await models.upsertOrders(
      cases.map((caseId) => {
        const orders = mine.filter((o) => o.caseId === caseId);
        return {
          caseId,
          agencyId: orders[0]?.agencyId ?? '',
          caseVersion: Math.max(...orders.map((o) => o.caseVersion ?? 0)),
          orders: orders.map(
            ({ caseId: _c, agencyId: _a, caseVersion: _v, unwarrantedActions: _u, ...o }) => o,
          ),
          unwarranted: orders.flatMap((o) => o.unwarrantedActions ?? []),
        };
      }),
    );
  }
}

/** A reader of the store that counts the weeks it hands out. */
function counting(models: ReadModels): ScoreReader & { weeksRead: number } {
  const reader = {
    weeksRead: 0,
    caseScore: () => Promise.resolve(null),
    rollups: () => Promise.resolve([]),
    async *orderWeeks(filter: OrderFilter, openedThrough?: number) {
      for await (const week of models.ordersByWeek(filter, openedThrough)) {
        reader.weeksRead++;
        yield week;
      }
    },
    unansweredOrders: () => models.unansweredOrders(),
  };
  return reader;
}

/** The list's order: the latest opened first, then by order id. */
const newestFirst = (a: scoring.SupervisionOrder, b: scoring.SupervisionOrder) =>
  (b.openedAt?.getTime() ?? 0) - (a.openedAt?.getTime() ?? 0) || a.orderId.localeCompare(b.orderId);

const supervisor: Principal = { subject: 'sup', roles: ['supervisor'], agencies: [] };
const agencyA1: Principal = { subject: 'off', roles: ['agency'], agencies: ['a1'] };

describe('the order list reads the weeks a page spans, and lists what reading every order would', () => {
  let client: MongoClient;
  let db: Db;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    db = client.db(uniqueName('order-listing').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  it('names a week by its first day: four weeks to a month, the last one to its end', () => {
    const weeks = ['01', '08', '09', '16', '17', '24', '25', '31'].map((d) =>
      weekOf(`2024-01-${d}T12:00:00.000Z`),
    );
    expect(weeks).toEqual(
      [1, 1, 9, 9, 17, 17, 25, 25].map((d) => `2024-01-${String(d).padStart(2, '0')}`),
    );
    expect([weekOf('2024-02-29T23:59:59.999Z'), weekOf('2024-03-01T00:00:00.000Z')]).toEqual([
      '2024-02-25',
      '2024-03-01',
    ]);
    // A moment with an offset falls in the week of its UTC day.
    expect(weekOf('2024-01-09T01:00:00+08:00')).toBe('2024-01-01');
  });

  it('for any orders, written in any batches, and any filter, caller and page size', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(anOrder, { maxLength: 30 }),
        fc.array(fc.record({ query: aQuery, own: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 1, max: 4 }),
        async (drawn, queries, batches) => {
          const models = new ReadModels(db, `l${run++}_`, 2, () => 0);
          await models.init();
          const all = listedOf(drawn);
          await write(models, all, batches);
          const reader = counting(models);

          expect((await reader.unansweredOrders()).map((o) => o.orderId).sort()).toEqual(
            all
              .filter((o) => !o.answeredAt)
              .map((o) => o.orderId)
              .sort(),
          );

          const weeks = [...new Set(all.map((o) => weekOf(o.openedAt)))].sort().reverse();
          for (const { query, own } of queries) {
            const caller = own ? agencyA1 : supervisor;
            const scope = own ? query.agencyId || 'a1' : query.agencyId;
            if (own && query.agencyId && query.agencyId !== 'a1') continue; // refused: tested elsewhere
            // The oracle: every order, filtered and sorted, as the list read it before weeks.
            const expected = all
              .filter((o) => !scope || o.agencyId === scope)
              .filter((o) => !query.caseId || o.caseId === query.caseId)
              .map((o) => toSupervisionOrder(o, NOW))
              .filter((x) => !query.status || x.status === query.status)
              .filter((x) => !query.reason || x.reason === query.reason)
              .filter((x) => !query.overdueOnly || x.overdue)
              .filter((x) => !query.escalatedOnly || x.escalated)
              .filter((x) => !query.unwarrantedOnly || x.unwarrantedActions.length > 0)
              .sort(newestFirst);
            const size = query.pageSize || 50;
            const pages: string[][] = [];
            let token = '';
            do {
              const offset = pages.length * size;
              reader.weeksRead = 0;
              const page = await listOrders(
                reader,
                caller,
                scoring.ListSupervisionOrdersRequest.fromPartial({ ...query, pageToken: token }),
                NOW,
              );
              pages.push(page.orders.map((o) => o.orderId));
              expect(page.orders).toEqual(expected.slice(offset, offset + size));
              token = page.nextPageToken;
              expect(token !== '').toBe(offset + size < expected.length);
              // Weeks are read from the one holding the page before's last
              // order (all, for the first page) until one order past the
              // page is held, and no further: the latest three alone, then
              // the earlier ones in one read.
              const before = expected[offset - 1]?.openedAt;
              const rest = expected.slice(offset);
              let held = 0;
              let needed = 0;
              for (const w of weeks) {
                if (before && w > weekOf(before.toISOString())) continue;
                if (held > size) break;
                needed++;
                held += rest.filter(
                  (x) => x.openedAt && weekOf(x.openedAt.toISOString()) === w,
                ).length;
              }
              expect(reader.weeksRead).toBe(Math.min(needed, 4));
            } while (token && pages.length < 40);
            expect(pages.flat()).toEqual(expected.map((o) => o.orderId));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
  it('refuses a page token it did not issue, naming page_token', async () => {
    const models = new ReadModels(db, 'tokens_', 2, () => 0);
    await models.init();
    for (const text of ['after:9000000000000000:o01', 'after:12:', 'x', '-3'])
      await expect(
        listOrders(
          counting(models),
          supervisor,
          scoring.ListSupervisionOrdersRequest.fromPartial({
            pageToken: Buffer.from(text).toString('base64url'),
          }),
          NOW,
        ),
        text,
      ).rejects.toMatchObject({ code: 'QUERY.PAGE_TOKEN', field: 'page_token' });
  });

  it('walks pages while orders open and are answered: each order once, in order, none of those that stayed missed', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(anOrder, { minLength: 1, maxLength: 25 }),
        fc.array(fc.record({ opened: fc.array(anOrder, { maxLength: 3 }), answer: fc.nat() }), {
          maxLength: 10,
        }),
        aQuery,
        async (drawn, changes, query) => {
          const models = new ReadModels(db, `w${run++}_`, 2, () => 0);
          await models.init();
          let all = listedOf(drawn);
          await write(models, all);
          const reader = counting(models);
          const matching = (orders: readonly ListedOrder[]) =>
            orders
              .filter((o) => !query.agencyId || o.agencyId === query.agencyId)
              .filter((o) => !query.caseId || o.caseId === query.caseId)
              .map((o) => toSupervisionOrder(o, NOW))
              .filter((x) => !query.status || x.status === query.status)
              .filter((x) => !query.reason || x.reason === query.reason)
              .filter((x) => !query.overdueOnly || x.overdue)
              .filter((x) => !query.escalatedOnly || x.escalated)
              .filter((x) => !query.unwarrantedOnly || x.unwarrantedActions.length > 0)
              .map((x) => x.orderId);
          const atStart = new Set(matching(all));
          const walked: scoring.SupervisionOrder[] = [];
          const changed = new Set<string>();
          let token = '';
          for (let page = 0; page < 60; page++) {
            const got = await listOrders(
              reader,
              supervisor,
              scoring.ListSupervisionOrdersRequest.fromPartial({ ...query, pageToken: token }),
              NOW,
            );
            walked.push(...got.orders);
            token = got.nextPageToken;
            if (!token) break;
            // Between pages: orders opened, and one answered.
            const step = changes[page];
            if (!step) continue;
            const opened = listedOf(step.opened, all.length);
            const open = all.filter((o) => !o.answeredAt);
            const target = open[step.answer % Math.max(open.length, 1)];
            const answered = target
              ? [{ ...target, answeredAt: NOW.toISOString(), caseVersion: 2 }]
              : [];
            for (const o of [...opened, ...answered]) changed.add(o.orderId);
            all = [...all.filter((o) => o.orderId !== target?.orderId), ...opened, ...answered];
            await write(models, [...opened, ...answered]);
          }
          expect(token).toBe('');
          // Each order once, in the list's order.
          walked.forEach((o, i) => {
            const before = walked[i - 1];
            if (before) expect(newestFirst(before, o)).toBeLessThan(0);
          });
          // What matched from start to end, untouched, is listed.
          const ids = new Set(walked.map((o) => o.orderId));
          const atEnd = new Set(matching(all));
          for (const id of atStart)
            if (atEnd.has(id) && !changed.has(id)) expect(ids, id).toContain(id);
        },
      ),
      { numRuns: 40 },
    );
  });
});
