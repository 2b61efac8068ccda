import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MongoClient, type Db } from 'mongodb';
import { events } from '@enforcement/contracts';
import { stack, uniqueName } from '@enforcement/testing';
import type { CaseOrders } from '../../application/ports.js';
import type { OrderView } from '../../domain/case-view.js';
import { ReadModels } from './read-models.js';

/** One order's state as a write carries it; `ruleId` names the write, so the test can tell which landed. */
const order = (orderId: string, label: string): OrderView => ({
  orderId,
  reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
  openedAt: '2024-03-01T00:00:00.000Z',
  responseDueAt: '2024-03-08T00:00:00.000Z',
  level: 1,
  answeredAt: null,
  escalated: false,
  ruleId: label,
  openedEventId: `opened-${orderId}`,
});

interface Write {
  caseId: string;
  caseVersion: number;
  orders: string[];
}

/** Writes of a few orders of a few cases, at any versions, repeated and out of order, a few to a call. */
const calls = fc.array(
  fc.array(
    fc.record({
      caseId: fc.constantFrom('c1', 'c2'),
      caseVersion: fc.integer({ min: 1, max: 6 }),
      orders: fc.uniqueArray(fc.constantFrom('o1', 'o2', 'o3'), { minLength: 1, maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  { minLength: 1, maxLength: 8 },
);

describe('the order list keeps each order at its latest case version', () => {
  let client: MongoClient;
  let db: Db;
  beforeAll(async () => {
    client = await MongoClient.connect(stack().mongoUri);
    db = client.db(uniqueName('orders').replace(/-/g, '_'));
  });
  afterAll(async () => {
    await db?.dropDatabase();
    await client?.close();
  });

  it('whatever writes come late (a writer that lost the partition, a replay), and alongside what', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(calls, async (batches) => {
        const models = new ReadModels(db, `o${run++}_`, 2, () => 0);
        await models.init();
        // The oracle: per order, the greatest version written, and of the
        // writes at that version the last.
        const expected = new Map<string, { version: number; label: string }>();
        let n = 0;
        for (const batch of batches) {
          const writes: CaseOrders[] = batch.map((w: Write) => ({
            caseId: w.caseId,
            agencyId: 'ag',
            caseVersion: w.caseVersion,
            orders: w.orders.map((o) => order(o, `w${n++}`)),
          }));
          await models.upsertOrders(writes);
          for (const w of writes)
            for (const o of w.orders) {
              const key = `${w.caseId}/${o.orderId}`;
              const was = expected.get(key);
              if (!was || w.caseVersion >= was.version)
                expected.set(key, { version: w.caseVersion, label: o.ruleId });
            }
        }
        const stored = await models.orders.find().toArray();
        expect(
          new Map(stored.map((d) => [d._id, { version: d.caseVersion, label: d.ruleId }] as const)),
        ).toEqual(expected);
        await models.drop();
      }),
      { numRuns: Number(process.env.ORDERS_RUNS ?? 25) },
    );
  });
});
