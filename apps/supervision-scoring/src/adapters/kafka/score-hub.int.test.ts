import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Admin, type Producer } from 'kafkajs';
import { ensureTopics } from '@enforcement/messaging';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import type { scoring } from '@enforcement/contracts';
import { byTheBook, p, viewOf } from '../../domain/view.test-support.js';
import { scoreCase, MODEL_V1 } from '../../domain/scoring-model.js';
import { KafkaScoreHub, WATCH_GROUP_PREFIX } from './score-hub.js';

describe('the live score hub leaves no consumer group behind', () => {
  const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const topic = uniqueName('scores');
  let admin: Admin;
  let producer: Producer;
  const errors: unknown[] = [];
  const groups = async () =>
    (await admin.listGroups()).groups
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(WATCH_GROUP_PREFIX));

  beforeAll(async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    await producer.disconnect();
    await admin.disconnect();
  });

  it('deletes its own group when it stops, and those of hubs killed before they could', async () => {
    // What a hub killed with kill -9 leaves: a group with offsets and no member.
    const orphan = `${WATCH_GROUP_PREFIX}${uniqueName('killed')}`;
    await admin.setOffsets({ groupId: orphan, topic, partitions: [{ partition: 0, offset: '0' }] });
    expect(await groups()).toContain(orphan);

    const hub = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
    await hub.start();
    const during = await groups();
    expect(during).not.toContain(orphan);
    expect(during).toContain(hub.groupId);

    // A second hub running beside it keeps its group: it has a member.
    const other = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
    await other.start();
    expect(await groups()).toEqual(expect.arrayContaining([hub.groupId, other.groupId]));

    await hub.stop();
    await other.stop();
    const after = await groups();
    expect(after).not.toContain(hub.groupId);
    expect(after).not.toContain(other.groupId);
    expect(errors).toEqual([]);
  });
});

describe('the live score hub carries a chunk of thousands of updates', () => {
  const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const topic = uniqueName('scores-many');
  let producer: Producer;
  const hubs: KafkaScoreHub[] = [];
  const errors: unknown[] = [];
  beforeAll(async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 3 }]);
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    for (const h of hubs) await h.stop();
    await producer.disconnect();
  });

  it('delivers every score and order of a replayed chunk to a watcher on another instance, each once', async () => {
    const start = async () => {
      const hub = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
      hubs.push(hub);
      await hub.start();
      return hub;
    };
    const publisher = await start();
    const watcher = await start();
    const scores: scoring.CaseScore[] = [];
    const orders: scoring.SupervisionOrder[] = [];
    watcher.subscribe((s) => scores.push(s));
    watcher.subscribeOrders((o) => orders.push(o));
    // The publisher's own watchers are told at once, and not again when its
    // messages come back from the topic.
    const own: scoring.CaseScore[] = [];
    const ownOrders: scoring.SupervisionOrder[] = [];
    publisher.subscribe((s) => own.push(s));
    publisher.subscribeOrders((o) => ownOrders.push(o));

    // What a chunk replayed after a restart can hold: thousands of cases
    // scored at once, far more than one produce request may carry.
    const CASES = 3_000;
    const views = Array.from({ length: CASES }, (_, i) =>
      viewOf([...byTheBook(30), [p.order(`m-${i}`), 5]], `many-${i}`),
    );
    publisher.changed(
      views.map((v) => {
        const score = scoreCase(v, MODEL_V1);
        if (!score) throw new Error(`no score for ${v.caseId}`);
        return [v, score] as const;
      }),
    );
    publisher.ordersChanged(
      views.map((v) => ({
        caseId: v.caseId,
        agencyId: v.agencyId,
        caseVersion: v.version,
        orders: [...v.orders.values()],
      })),
    );
    await eventually(
      async () => (scores.length >= CASES && orders.length >= CASES ? true : undefined),
      { what: `${CASES} scores and ${CASES} orders on the watcher`, timeoutMs: 60_000 },
    );
    // A moment more: nothing arrives twice.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(new Set(scores.map((s) => s.caseId)).size).toBe(CASES);
    expect(scores).toHaveLength(CASES);
    expect(new Set(orders.map((o) => o.orderId)).size).toBe(CASES);
    expect(orders).toHaveLength(CASES);
    // The same updates, in the order published (the topic's partitions interleave them).
    const byCase = <T extends { caseId: string }>(xs: T[]) =>
      [...xs].sort((a, b) => a.caseId.localeCompare(b.caseId));
    expect(own.map((s) => s.caseId)).toEqual(views.map((v) => v.caseId));
    expect(byCase(own)).toEqual(byCase(scores));
    expect(byCase(ownOrders)).toEqual(byCase(orders));
    expect(errors).toEqual([]);
  });

  it('tells its own watchers what its projection applied while the topic refuses it, says so in readiness, and sends it once the topic takes it', async () => {
    const lost = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const failures: unknown[] = [];
    // A producer that is not connected: every publication fails.
    const cut = new KafkaScoreHub(kafka, lost, topic, (e) => failures.push(e));
    hubs.push(cut);
    await cut.start();
    const other = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
    hubs.push(other);
    await other.start();
    const own: scoring.CaseScore[] = [];
    const elsewhere: scoring.CaseScore[] = [];
    cut.subscribe((s) => own.push(s));
    other.subscribe((s) => elsewhere.push(s));
    const view = viewOf(byTheBook(30), 'cut-off');
    const score = scoreCase(view, MODEL_V1);
    if (!score) throw new Error('no score');
    cut.changed([[view, score]]);
    await eventually(async () => (own.length > 0 && failures.length > 0 ? true : undefined), {
      what: 'the score on the own watcher, and the failed publication reported',
    });
    await new Promise((r) => setTimeout(r, 1_000));
    expect(own.map((s) => [s.caseId, s.score])).toEqual([['cut-off', score.score]]);
    expect(elsewhere).toEqual([]);
    // Readiness says why: other instances' watchers see nothing of this one's updates.
    await expect(cut.health()).rejects.toThrow(/publishing live updates failed/);
    await expect(other.health()).resolves.toBe(true);

    // The producer comes back: what was refused is sent, once, and readiness is clear.
    await lost.connect();
    try {
      await eventually(async () => (elsewhere.length > 0 ? true : undefined), {
        what: 'the refused score on the other instance',
        timeoutMs: 30_000,
      });
      await eventually(async () => ((await cut.health().catch(() => false)) ? true : undefined), {
        what: 'the hub ready again',
      });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(elsewhere.map((s) => [s.caseId, s.score])).toEqual([['cut-off', score.score]]);
      expect(own).toHaveLength(1);
    } finally {
      await lost.disconnect();
    }
  });
});

describe('the live score hub never takes a watcher back in time', () => {
  const kafka = new Kafka({ brokers: stack().kafkaBrokers, logLevel: logLevel.NOTHING });
  const topic = uniqueName('scores-order');
  let producer: Producer;
  const hubs: KafkaScoreHub[] = [];
  const errors: unknown[] = [];
  beforeAll(async () => {
    await ensureTopics(kafka, [{ topic, numPartitions: 2 }]);
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });
  afterAll(async () => {
    for (const h of hubs) await h.stop();
    await producer.disconnect();
  });

  it('drops a case’s score or order older than one its watchers were told, from whichever instance', async () => {
    const start = async () => {
      const hub = new KafkaScoreHub(kafka, producer, topic, (e) => errors.push(e));
      hubs.push(hub);
      await hub.start();
      return hub;
    };
    // The new owner of a partition, a watcher's instance, and the instance
    // that lost the partition and publishes its last chunk late.
    const owner = await start();
    const watcher = await start();
    const late = await start();
    const told = { owner: [] as number[], watcher: [] as number[], orders: [] as string[] };
    owner.subscribe((s) => told.owner.push(s.caseVersion));
    watcher.subscribe((s) => told.watcher.push(s.caseVersion));
    watcher.subscribeOrders((o) => told.orders.push(`${o.caseVersion}:${o.ruleId}`));

    const base = viewOf([...byTheBook(30), [p.order('late-o'), 5]], 'late-case');
    const at = (version: number) => {
      const view = { ...base, version };
      const score = scoreCase(view, MODEL_V1);
      if (!score) throw new Error('no score');
      return [view, score] as const;
    };
    const orders = (caseVersion: number, ruleId: string) => [
      {
        caseId: base.caseId,
        agencyId: base.agencyId,
        caseVersion,
        orders: base.orders.map((o) => ({ ...o, ruleId })),
      },
    ];
    owner.changed([at(20)]);
    owner.ordersChanged(orders(20, 'answered'));
    await eventually(
      async () => (told.watcher.length > 0 && told.orders.length > 0 ? true : undefined),
      { what: 'version 20 on the watcher' },
    );
    // The late instance's chunk (version 18), then one of the same version,
    // then its next one (21): on one key, so they arrive in that order.
    late.changed([at(18)]);
    late.ordersChanged(orders(18, 'open'));
    late.changed([at(20)]);
    late.changed([at(21)]);
    late.ordersChanged(orders(21, 'reopened'));
    await eventually(
      async () =>
        told.watcher.includes(21) && told.owner.includes(21) && told.orders.length > 1
          ? true
          : undefined,
      { what: 'version 21 on both instances' },
    );
    expect(told.watcher).toEqual([20, 20, 21]);
    expect(told.owner).toEqual([20, 20, 21]);
    expect(told.orders).toEqual(['20:answered', '21:reopened']);
    expect(errors).toEqual([]);
  });
});
