import { MongoClient } from 'mongodb';
import { type events } from '@enforcement/contracts';
import { partitionOfKey } from '@enforcement/messaging';
import { DISTRICTS } from '@enforcement/reference-data';
import { AGENCIES } from './workload.js';
import {
  addToRows,
  applyEvent,
  contributionOf,
  emptyView,
  MODEL_V1,
  orderDocOf,
  pageIdOf,
  pageKeyOf,
  READ_MODEL_FORMAT,
  ReadModels,
  rollupDeltas,
  scoreCase,
  type CaseView,
  type CorrectionPart,
  type RollupPageRow,
} from '@enforcement/supervision-scoring';

function viewFor(i: number): CaseView {
  const caseId = `q-${i}`;
  const agencyId = AGENCIES[i % AGENCIES.length] ?? 'lz-eeb';
  const t0 = Date.UTC(2021, 0, 1) + (i % 300) * 86_400_000;
  const at = (d: number) => new Date(t0 + d * 86_400_000);
  const payloads: [NonNullable<events.CaseEvent['payload']>, number][] = [
    [
      {
        $case: 'caseRegistered',
        value: {
          agencyId,
          district: DISTRICTS[i % DISTRICTS.length] ?? '',
          domain: 1 + (i % 7),
          violationCode: 'ENV-AIR-001',
          legalBasis: '',
          source: 1,
          parties: [{ kind: 2, name: '', identifier: '' }],
          title: '',
          major: false,
          dueAt: at(90),
        },
      },
      0,
    ],
    [
      {
        $case: 'caseDispatched',
        value: {
          unitId: `${agencyId}-u${i % 6}`,
          officers: [
            { officerId: `${agencyId}-o${i % 40}`, name: '', credentialNo: '1' },
            { officerId: `${agencyId}-o${(i + 11) % 40}`, name: '', credentialNo: '2' },
          ],
        },
      },
      1,
    ],
    [
      {
        $case: 'evidenceRecorded',
        value: {
          evidenceId: 'e',
          kind: '',
          sha256: 'a'.repeat(64),
          collectedBy: '',
          collectedAt: at(2),
          description: '',
        },
      },
      2,
    ],
    [
      {
        $case: 'partyNotified',
        value: { facts: '', basis: '', hearingOffered: i % 3 === 0, proposedFineFen: 0 },
      },
      4,
    ],
    [
      {
        $case: 'penaltyDecided',
        value: {
          violationCode: 'ENV-AIR-001',
          grade: 2,
          fineFen: 300_000,
          benchmarkVersion: '',
          benchmarkMinFen: 0,
          benchmarkMaxFen: 0,
          grounds: '',
          discretionAnomaly: i % 17 === 0,
          anomalyReason: '',
          major: i % 5 === 0,
          otherMeasures: [],
        },
      },
      10,
    ],
    [{ $case: 'caseConcluded', value: { conclusion: 1, summary: '' } }, 30 + (i % 80)],
  ];
  return payloads.reduce<CaseView>(
    (v, [payload, d], k) =>
      applyEvent(v, {
        eventId: `${caseId}-${k}`,
        caseId,
        version: k + 1,
        position: 0,
        occurredAt: at(d),
        recordedAt: at(d),
        commandId: '',
        actor: '',
        agencyId,
        caseType: 1,
        prevHash: '',
        hash: '',
        schemaVersion: 1,
        chainKeyId: '',
        payload,
      }),
    emptyView(caseId),
  );
}

const DAY = 86_400_000;

/**
 * Case `i`'s supervision orders, spread over the year as a city's are: seven
 * cases in ten have one, one in ten a second; three in four are answered,
 * one in seven was escalated.
 */
function ordersFor(i: number, agencyId: string) {
  const t0 = Date.UTC(2021, 0, 1) + (i % 300) * DAY + (i % 24) * 3_600_000;
  const count = (i % 10 < 7 ? 1 : 0) + (i % 10 === 0 ? 1 : 0);
  return Array.from({ length: count }, (_, k) => {
    const openedAt = t0 + (20 + k * 15 + (i % 40)) * DAY;
    const escalated = (i + k) % 7 === 0;
    return {
      orderId: `SUP-q-${i}-${k}`,
      reason: 1 + ((i + k) % 7),
      openedAt: new Date(openedAt).toISOString(),
      responseDueAt: new Date(openedAt + (escalated ? 20 : 10) * DAY).toISOString(),
      level: escalated ? 2 : 1,
      answeredAt: (i + k) % 4 === 0 ? null : new Date(openedAt + 5 * DAY).toISOString(),
      escalated,
      ruleId: `rule:q-${i}:${k}`,
      openedEventId: `q-${i}-order-${k}`,
      caseId: `q-${i}`,
      agencyId,
    };
  });
}

/**
 * One case in this many had a decision corrected on reconsideration (81 of
 * Liuzhou's 2021 cases were): its score carries the deduction, and what the
 * correction changes in the rollups sits on its partition's correction pages.
 */
const CORRECTED_ONE_IN = 100;

/** Scored cases, their rollups and their orders, written as the projection would have left them. */
export async function loadQueryFixture(
  uri: string,
  db: string,
  n: number,
  buckets = 64,
  /** The case-events topic's partitions (scoring's own topic has 12). */
  partitions = 12,
): Promise<{ db: string; caseIds: string[]; orders: number }> {
  const client = await MongoClient.connect(uri);
  const partitionOf = (caseId: string) => partitionOfKey(caseId, partitions);
  const models = new ReadModels(client.db(db), 'g1_', buckets, partitionOf);
  await models.init();
  await client
    .db(db)
    .collection('meta')
    .updateOne(
      { _id: 'active' as never },
      { $set: { generation: 1, format: READ_MODEL_FORMAT } },
      { upsert: true },
    );
  const pages = new Map<
    string,
    {
      _id: string;
      listKey: string;
      hw: number;
      rows: Map<string, RollupPageRow>;
    }
  >();
  const caseIds: string[] = [];
  const orders: ReturnType<typeof orderDocOf>[] = [];
  let orderCount = 0;
  const batch: Parameters<typeof models.writeCases>[1][number][] = [];
  const flat: object[] = [];
  const flush = async (force: boolean) => {
    if (force || batch.length >= 2000) {
      // As each partition's consumer packs them: its cases in pages, in arrival order.
      const byPartition = new Map<number, typeof batch>();
      for (const d of batch.splice(0))
        byPartition.set(partitionOf(d._id), [...(byPartition.get(partitionOf(d._id)) ?? []), d]);
      for (const [partition, list] of byPartition) await models.writeCases(partition, list);
    }
    if (force || orders.length >= 2000) {
      const list = orders.splice(0);
      await models.nameWeeks(list.map((o) => o.week));
      if (list.length) await models.orders.insertMany(list);
    }
    if (force || flat.length >= 2000) {
      if (flat.length)
        await client
          .db(db)
          .collection('flat_cases')
          .insertMany(flat.splice(0) as never[]);
    }
  };
  /** Per partition, the corrected cases' parts by page key (see `writeCorrections`). */
  const corrections = new Map<number, Map<string, CorrectionPart[]>>();
  /** Per partition, the page keys its pages were written on: their rolled marks move. */
  const rolled = new Map<number, Set<string>>();
  const roll = (partition: number, pageKey: string) =>
    rolled.set(partition, (rolled.get(partition) ?? new Set()).add(pageKey));
  for (let i = 0; i < n; i++) {
    const own = viewFor(i);
    const ownScore = scoreCase(own, MODEL_V1) ?? null;
    // A case's shares come from its own history; a correction counts apart.
    const contrib = contributionOf(own, ownScore ?? undefined);
    const view =
      i % CORRECTED_ONE_IN === CORRECTED_ONE_IN / 2
        ? { ...own, correctedBy: [`q-review-${i}`] }
        : own;
    const score = view === own ? ownScore : (scoreCase(view, MODEL_V1) ?? null);
    if (view !== own) {
      const rows = new Map<string, Map<string, RollupPageRow>>();
      for (const d of rollupDeltas(contrib, contributionOf(view, score ?? undefined))) {
        const page = rows.get(pageKeyOf(d.listKey)) ?? new Map<string, RollupPageRow>();
        addToRows(page, d);
        rows.set(pageKeyOf(d.listKey), page);
      }
      const mine = corrections.get(partitionOf(view.caseId)) ?? new Map<string, CorrectionPart[]>();
      for (const [pageKey, page] of rows) {
        roll(partitionOf(view.caseId), pageKey);
        mine.set(pageKey, [
          ...(mine.get(pageKey) ?? []),
          { caseId: view.caseId, version: view.version, rows: [...page.values()] },
        ]);
      }
      corrections.set(partitionOf(view.caseId), mine);
    }
    const doc = {
      _id: view.caseId,
      rev: 1,
      view,
      pending: [],
      parked: false,
      parkReason: '',
      held: [],
      updatedAt: new Date(),
    };
    batch.push(doc);
    // The raw read's document: the case as a plain design would keep it, with its score.
    flat.push({ ...doc, score });
    caseIds.push(view.caseId);
    for (const o of ordersFor(i, view.agencyId)) {
      orders.push(
        orderDocOf({ caseId: o.caseId, agencyId: o.agencyId, caseVersion: view.version }, o),
      );
      orderCount++;
    }
    // As the case's partition's consumer would have written them: each
    // partition keeps its share of every listing, on its own pages.
    for (const d of rollupDeltas(null, contrib)) {
      const id = pageIdOf(d.listKey, `p${partitionOf(view.caseId)}`);
      const page = pages.get(id) ?? {
        _id: id,
        listKey: pageKeyOf(d.listKey),
        hw: i,
        rows: new Map(),
      };
      addToRows(page.rows, d);
      page.hw = i;
      pages.set(id, page);
      roll(partitionOf(view.caseId), page.listKey);
    }
    await flush(false);
  }
  await flush(true);
  await models.writeRollupPages(
    [...pages.values()].map((p) => ({ page: { ...p, rows: [...p.rows.values()] }, fromMark: -1 })),
  );
  for (const [partition, parts] of corrections) await models.writeCorrections(partition, parts);
  // Then each partition's rolled marks, as the consumer moves them after its pages.
  for (const [partition, keys] of rolled) await models.writeCases(partition, [], [...keys]);
  await client.close();
  return { db, caseIds, orders: orderCount };
}
