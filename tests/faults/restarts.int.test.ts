import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials } from '@grpc/grpc-js';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { events, scoring } from '@enforcement/contracts';
import { namespaced, type TopicNames } from '@enforcement/messaging';
import {
  createSupervisionScoring,
  loadScoringConfig,
  MODEL_V1,
  scoreCase,
  type SupervisionScoring,
} from '@enforcement/supervision-scoring';
import { eventually, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { PrivateStack } from '../support/private-stack.js';

function caseEvents(caseId: string, agencyId: string): events.CaseEvent[] {
  const start = Date.UTC(2021, 4, 1);
  const at = (d: number) => new Date(start + d * 86_400_000);
  const payloads: [NonNullable<events.CaseEvent['payload']>, number][] = [
    [
      {
        $case: 'caseRegistered',
        value: {
          agencyId,
          district: '柳北区',
          domain: 1,
          violationCode: 'ENV-AIR-001',
          legalBasis: '',
          source: 1,
          parties: [{ kind: 2, name: 'p', identifier: '' }],
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
          unitId: `${agencyId}-u`,
          officers: [
            { officerId: 'a', name: '', credentialNo: '1' },
            { officerId: 'b', name: '', credentialNo: '2' },
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
          sha256: 'b'.repeat(64),
          collectedBy: 'a',
          collectedAt: at(2),
          description: '',
        },
      },
      2,
    ],
    [
      {
        $case: 'caseConcluded',
        value: { conclusion: events.Conclusion.CONCLUSION_NO_PENALTY, summary: '' },
      },
      20,
    ],
  ];
  return payloads.map(([payload, d], i) => ({
    eventId: `${caseId}-${i}`,
    caseId,
    version: i + 1,
    position: 0,
    occurredAt: at(d),
    recordedAt: at(d),
    commandId: `${caseId}-${i}`,
    actor: 't',
    agencyId,
    caseType: 1,
    prevHash: '',
    hash: '',
    schemaVersion: 1,
    chainKeyId: '',
    payload,
  }));
}

describe('supervision-scoring through infrastructure restarts', () => {
  let stack: PrivateStack;
  let svc: SupervisionScoring;
  let topics: TopicNames;
  const brokers = ['127.0.0.1:29092'];

  beforeAll(async () => {
    stack = new PrivateStack(await mkdtemp(join(tmpdir(), 'enforcement-faults-')), {
      kafka: 29092,
      kafkaController: 29093,
      ferretdb: 27037,
      ferretdbDebug: 18098,
    });
    await stack.up();
    const runId = uniqueName('faults');
    topics = {
      ...namespaced(runId),
      caseEvents: `${runId}.case-events`,
      scores: `${runId}.scores`,
      scoringDeadLetter: `${runId}.dlq`,
    };
    svc = await createSupervisionScoring(
      loadScoringConfig({
        KAFKA_BROKERS: brokers.join(','),
        MONGODB_URI: 'mongodb://127.0.0.1:27037/',
        MONGODB_DB: 'faults',
        GRPC_PORT: '0',
        ENFORCEMENT_ENV: 'development',
        RULES_TICK_MS: '0',
        READ_MODEL_BUCKETS: '4',
        INTAKE_ADDRESS: '127.0.0.1:1',
        SCORING_GROUP: runId,
      }),
      { topics, log: () => undefined },
    );
  });

  afterAll(async () => {
    await svc?.kill();
    await stack?.down();
    await rm(stack.home, { recursive: true, force: true });
  });

  async function publish(caseIds: string[]): Promise<void> {
    const producer = new Kafka({
      clientId: 'faults',
      brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 20 },
    }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await producer.send({
      topic: topics.caseEvents,
      messages: caseIds
        .flatMap((id) => caseEvents(id, `ag-${id.length % 3}`))
        .map((e) => ({ key: e.caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) })),
    });
    await producer.disconnect();
  }

  const allScored = async (ids: string[]) => {
    for (const id of ids) {
      const doc = await svc.runtime.models.getCase(id).catch(() => null);
      if (!doc || !scoreCase(doc.view, MODEL_V1)) return undefined;
    }
    return true;
  };

  it('resumes after MongoDB and Kafka restarts without losing or double counting, equal to a rebuild', async () => {
    const batch = (n: string) => Array.from({ length: 8 }, (_, i) => uniqueName(`${n}${i}`));
    const first = batch('a');
    await publish(first);
    await eventually(() => allScored(first), { timeoutMs: 60_000, what: 'first batch' });

    // The database goes away while events keep arriving.
    await stack.stop('ferretdb');
    const second = batch('b');
    await publish(second);
    await new Promise((r) => setTimeout(r, 3_000));
    await stack.up();
    await eventually(() => allScored(second), {
      timeoutMs: 120_000,
      what: 'second batch after the database came back',
    });

    // Then the broker restarts.
    await stack.stop('kafka');
    await new Promise((r) => setTimeout(r, 2_000));
    await stack.up();
    const third = batch('c');
    await publish(third);
    await eventually(() => allScored(third), {
      timeoutMs: 120_000,
      what: 'third batch after the broker came back',
    });

    const supervisor = await tokenFor(['supervisor']);
    const client = new scoring.ScoringServiceClient(svc.address, credentials.createInsecure());
    const list = () =>
      unary<scoring.ListScoresResponse>((cb) =>
        client.listScores(
          {
            groupBy: scoring.GroupBy.GROUP_BY_DISTRICT,
            periodKind: scoring.PeriodKind.PERIOD_KIND_YEAR,
            period: '2021',
            agencyId: '',
            district: '',
            domain: 0,
            ascending: false,
            pageSize: 10,
            pageToken: '',
          },
          supervisor,
          cb,
        ),
      );
    const live = await list();
    expect(live.rows).toEqual([expect.objectContaining({ key: '柳北区', cases: 24 })]);
    await unary((cb) => client.rebuildReadModels({}, supervisor, cb));
    expect((await list()).rows).toEqual(live.rows);
    client.close();
    // As long as its phases may take: each recovery is given 60 to 120 s above.
  }, 330_000);
});
