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
  type ScoreReader,
} from '../../application/queries.js';
import { monthOf, ReadModels } from './read-models.js';

const R = events.SupervisionReason;
const S = scoring.OrderStatus;
const DAY = 86_400_000;
/** Moments around the turns of the months, where a month's orders meet the next's. */
const TURNS = ['2023-12-01', '2024-01-01', '2024-02-01', '2024-03-01'].map((d) => Date.parse(d));
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
});

const aQuery = fc.record({
  status: fc.constantFrom(
    0,
    S.ORDER_STATUS_OPEN,
    S.ORDER_STATUS_ANSWERED,
    S.ORDER_STATUS_ESCALATED,
  ),
  reason: fc.constantFrom(0, R.SUPERVISION_REASON_OVERDUE, R.SUPERVISION_REASON_DISCRETION_ANOMALY),
  agencyId: fc.constantFrom('', 'a1', 'a2'),
  overdueOnly: fc.boolean(),
  escalatedOnly: fc.boolean(),
  pageSize: fc.constantFrom(0, 1, 2, 3, 5, 8),
});

const supervisor: Principal = { subject: 'sup', roles: ['supervisor'], agencies: [] };
const agencyA1: Principal = { subject: 'off', roles: ['agency'], agencies: ['a1'] };

describe('the order list reads the months a page spans, and lists what reading every order would', () => {
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
          const all: ListedOrder[] = drawn.map((d, i) => {
            const view: OrderView = {
              orderId: `o${String(i).padStart(2, '0')}`,
              reason: d.reason,
              openedAt: new Date(d.openedAt).toISOString(),
              responseDueAt: new Date(d.openedAt + d.dueIn * DAY).toISOString(),
              level: d.escalated ? 2 : 1,
              answeredAt:
                d.answeredIn === null
                  ? null
                  : new Date(d.openedAt + d.answeredIn * DAY).toISOString(),
              escalated: d.escalated,
              ruleId: `rule-${i}`,
              openedEventId: `e-${i}`,
            };
            return {
              ...view,
              caseId: d.caseId,
              agencyId: AGENCY_OF[d.caseId] ?? '',
              caseVersion: 1,
            };
          });
          // Written a few cases' orders to a call, as chunks write them.
          for (let b = 0; b < batches; b++) {
            const mine = all.filter((_, i) => i % batches === b);
            const cases = [...new Set(mine.map((o) => o.caseId))];
            await models.upsertOrders(
              cases.map((caseId) => {
                const orders = mine.filter((o) => o.caseId === caseId);
                return {
                  caseId,
                  agencyId: orders[0]?.agencyId ?? '',
                  caseVersion: 1,
                  orders: orders.map(({ caseId: _c, agencyId: _a, caseVersion: _v, ...o }) => o),
                };
              }),
            );
          }
          let monthsRead = 0;
          const reader: ScoreReader = {
            caseScore: () => Promise.resolve(null),
            rollups: () => Promise.resolve([]),
            async *orderMonths(filter) {
              for await (const month of models.ordersByMonth(filter)) {
                monthsRead++;
                yield month;
              }
            },
            unansweredOrders: () => models.unansweredOrders(),
          };

          expect((await reader.unansweredOrders()).map((o) => o.orderId).sort()).toEqual(
            all
              .filter((o) => !o.answeredAt)
              .map((o) => o.orderId)
              .sort(),
          );

          const months = [...new Set(all.map((o) => monthOf(o.openedAt)))].sort().reverse();
          for (const { query, own } of queries) {
            const caller = own ? agencyA1 : supervisor;
            const scope = own ? query.agencyId || 'a1' : query.agencyId;
            if (own && query.agencyId && query.agencyId !== 'a1') continue; // refused: tested elsewhere
            // The oracle: every order, filtered and sorted, as the list read it before months.
            const expected = all
              .filter((o) => !scope || o.agencyId === scope)
              .map((o) => toSupervisionOrder(o, NOW))
              .filter((x) => !query.status || x.status === query.status)
              .filter((x) => !query.reason || x.reason === query.reason)
              .filter((x) => !query.overdueOnly || x.overdue)
              .filter((x) => !query.escalatedOnly || x.escalated)
              .sort(
                (a, b) =>
                  (b.openedAt?.getTime() ?? 0) - (a.openedAt?.getTime() ?? 0) ||
                  a.orderId.localeCompare(b.orderId),
              );
            const size = query.pageSize || 50;
            const pages: string[][] = [];
            let token = '';
            do {
              const offset = pages.length * size;
              monthsRead = 0;
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
              // Months are read until one order past the page is held, and no
              // further: the latest three alone, then the earlier ones in one read.
              let held = 0;
              let needed = 0;
              for (const m of months) {
                if (held > offset + size) break;
                needed++;
                held += expected.filter(
                  (x) => x.openedAt && monthOf(x.openedAt.toISOString()) === m,
                ).length;
              }
              expect(monthsRead).toBe(Math.min(needed, 4));
            } while (token && pages.length < 40);
            expect(pages.flat()).toEqual(expected.map((o) => o.orderId));
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
