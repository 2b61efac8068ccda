import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Binary, MongoClient } from 'mongodb';
import { inflateRawSync } from 'node:zlib';
import { events } from '@enforcement/contracts';
import { generateYear, SyntheticHistory } from '@enforcement/generator';
import { createHash } from 'node:crypto';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { KafkaDeadLetters } from './adapters/kafka/facts-consumer.js';
import { MongoFactStore } from './adapters/mongo/fact-store.js';
import { FactsProjector, type Message } from './application/projector.js';
import { applyFact, emptyFacts, type CaseFacts } from './domain/facts.js';
import { digestOf, StatisticsFold } from './domain/statistics.js';

const PARTITIONS = 3;
const partitionOf = (caseId: string) =>
  createHash('sha1').update(caseId).digest().readUInt32BE(0) % PARTITIONS;

/** A generated year as the messages of each partition, and its statistics folded directly. */
function year() {
  const y = generateYear({ seed: 'projection-it', cases: 1_000, evaluate: true });
  const history = new SyntheticHistory();
  const byPartition: Message[][] = Array.from({ length: PARTITIONS }, () => []);
  const facts = new Map<string, CaseFacts>();
  for (const command of y.stream()) {
    const e = history.next(command);
    facts.set(e.caseId, applyFact(facts.get(e.caseId) ?? emptyFacts(e.caseId), e));
    const list = byPartition[partitionOf(e.caseId)] ?? [];
    list.push({
      offset: list.length,
      key: e.caseId,
      value: Buffer.from(events.CaseEvent.encode(e).finish()),
    });
  }
  const fold = new StatisticsFold(2021, Date.now());
  for (const f of facts.values()) fold.add(f);
  return { byPartition, expected: digestOf(fold.result(), 'ALL') };
}

describe('reporting projection into fact pages on the real MongoDB-wire server', () => {
  const run = uniqueName('rep-proj');
  const dlqTopic = `${run}.dlq`;
  let mongo: MongoClient;
  let store: MongoFactStore;
  let producer: Producer;
  let kafka: Kafka;
  const { byPartition, expected } = year();
  const log = () => undefined;

  const statistics = async () => {
    const fold = new StatisticsFold(2021, Date.now());
    await store.forEachCaseOfYear(2021, (f) => fold.add(f));
    return fold.result();
  };

  beforeAll(async () => {
    mongo = new MongoClient(stack().mongoUri, { retryWrites: false });
    await mongo.connect();
    store = new MongoFactStore(mongo.db(run.replace(/-/g, '_')));
    kafka = new Kafka({ brokers: stack().kafkaBrokers, clientId: run, logLevel: logLevel.NOTHING });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  afterAll(async () => {
    await store?.drop();
    await mongo?.close();
    await producer?.disconnect();
  });

  it('gives the statistics of the events it applied, keeping only two pages in memory', async () => {
    const projector = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log, 2);
    for (const [p, messages] of byPartition.entries())
      for (let i = 0; i < messages.length; i += 700)
        expect(await projector.handleChunk(p, messages.slice(i, i + 700))).not.toContain('poison');
    expect(digestOf(await statistics(), 'ALL')).toBe(expected);
    const progress = await store.progress();
    expect(progress.map((x) => x.offset).sort()).toEqual(
      byPartition.map((m) => m.length - 1).sort(),
    );
  });

  it('changes nothing when a restarted projector is given chunks it already applied', async () => {
    const restarted = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log, 1);
    const replay = byPartition[1]?.slice(1_000, 3_000) ?? [];
    expect(replay.length).toBeGreaterThan(0);
    const outcomes = await restarted.handleChunk(1, replay);
    expect(outcomes.every((o) => o === 'duplicate')).toBe(true);
    expect(digestOf(await statistics(), 'ALL')).toBe(expected);
  });

  it('stores pages deflated, and still reads pages an earlier version stored as plain JSON', async () => {
    const db = mongo.db(run.replace(/-/g, '_'));
    const pages = db.collection<{ _id: string; facts: Binary; enc?: string }>('facts_p00');
    const stored = await pages.find({}).toArray();
    expect(stored.length).toBeGreaterThan(0);
    let plain = 0;
    for (const page of stored) {
      expect(page.enc).toBe('deflate');
      const json = inflateRawSync(Buffer.from(page.facts.buffer));
      expect(page.facts.buffer.length * 3).toBeLessThan(json.length);
      plain += json.length;
      // As pages were written before they were deflated.
      await pages.replaceOne(
        { _id: page._id },
        { ...page, facts: new Binary(json), enc: undefined },
        { ignoreUndefined: true },
      );
    }
    expect(plain).toBeGreaterThan(0);
    expect(await pages.countDocuments({ enc: { $exists: true } })).toBe(0);
    expect(digestOf(await statistics(), 'ALL')).toBe(expected);
    // A restarted projector reads the plain pages to know what it applied.
    const projector = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log, 2);
    const replay = byPartition[0] ?? [];
    expect(await projector.handleChunk(0, replay.slice(-50))).toEqual(
      Array.from({ length: Math.min(50, replay.length) }, () => 'duplicate'),
    );
    expect(digestOf(await statistics(), 'ALL')).toBe(expected);
  });

  it('dead-letters an undecodable event, holds one ahead of a missing version until it comes, and goes on', async () => {
    const projector = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log);
    const caseId = `${run}-gap`;
    const at = new Date('2021-06-01T02:00:00Z');
    const event = (version: number) => encoded(caseId, version, 10_000_000, at, registered(at));
    const outcomes = await projector.handleChunk(2, [
      { offset: 900_000, key: 'junk', value: Buffer.from('not a protobuf event at all') },
      { offset: 900_001, key: caseId, value: event(3) },
      { offset: 900_002, key: caseId, value: event(1) },
    ]);
    expect(outcomes).toEqual(['poison', 'buffered', 'applied']);
    // Version 3 waits in the case's facts, stored with them, for version 2.
    const held = async () =>
      (await store.loadPartition(2)).flatMap((p) => p.cases).find((f) => f.id === caseId);
    expect(await held()).toMatchObject({ v: 1, held: [expect.objectContaining({ version: 3 })] });
    // A new process takes the partition; version 2 comes, and 3 with it.
    const restarted = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log);
    expect(
      await restarted.handleChunk(2, [{ offset: 900_003, key: caseId, value: event(2) }]),
    ).toEqual(['applied']);
    const after = await held();
    expect(after?.v).toBe(3);
    expect(after?.held).toBeUndefined();
    const reasons: string[] = [];
    const consumer = kafka.consumer({ groupId: `${run}.dlq-reader` });
    await consumer.connect();
    await consumer.subscribe({ topic: dlqTopic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        reasons.push(message.headers?.error?.toString() ?? '');
      },
    });
    await eventually(() => (reasons.length >= 1 ? true : undefined), { what: 'dead letters' });
    await consumer.disconnect();
    expect(reasons).toEqual([expect.stringMatching(/^undecodable/)]);
    expect((await statistics()).overall.casesRegistered).toBe(1_001);
  });

  it('dead-letters a version of an event type added since, and the case moves past it: its later events count', async () => {
    const projector = new FactsProjector(store, new KafkaDeadLetters(producer, dlqTopic), log);
    const caseId = `${run}-newer`;
    const at = new Date('2021-07-01T02:00:00Z');
    const event = (version: number, payload?: events.CaseEvent['payload']) =>
      encoded(caseId, version, 20_000_000, at, payload);
    const before = (await statistics()).overall;
    // Version 2 is of a type this version of reporting does not know: it
    // decodes without a payload. Version 3 came before it (a failover).
    const outcomes = await projector.handleChunk(1, [
      {
        offset: 950_000,
        key: caseId,
        value: event(1, registered(new Date('2021-09-29T02:00:00Z'))),
      },
      {
        offset: 950_001,
        key: caseId,
        value: event(3, {
          $case: 'caseConcluded',
          value: events.CaseConcluded.fromPartial({}),
        }),
      },
      { offset: 950_002, key: caseId, value: event(2) },
    ]);
    expect(outcomes).toEqual(['applied', 'buffered', 'poison']);
    const facts = (await store.loadPartition(1))
      .flatMap((p) => p.cases)
      .find((f) => f.id === caseId);
    expect(facts?.v).toBe(3);
    expect(facts?.held).toBeUndefined();
    const after = (await statistics()).overall;
    expect(after.casesRegistered).toBe(before.casesRegistered + 1);
    expect(after.casesConcluded).toBe(before.casesConcluded + 1);
  });
  it('dead-letters an event with a NUL character in its text, as scoring does, and the case moves past it', async () => {
    // Intake refuses such text, so no event it publishes has one.
    const letters: string[] = [];
    const projector = new FactsProjector(
      store,
      { send: async (_key, _value, reason) => void letters.push(reason) },
      log,
    );
    const caseId = `${run}-nul`;
    const at = new Date('2021-08-02T02:00:00Z');
    const before = (await statistics()).overall;
    const outcomes = await projector.handleChunk(0, [
      {
        offset: 960_000,
        key: caseId,
        value: encoded(caseId, 1, 30_000_000, at, {
          $case: 'caseRegistered',
          value: events.CaseRegistered.fromPartial({
            agencyId: 'lz-eeb',
            district: '城\u0000中区',
          }),
        }),
      },
      {
        offset: 960_001,
        key: caseId,
        value: encoded(caseId, 2, 30_000_000, at, {
          $case: 'caseConcluded',
          value: events.CaseConcluded.fromPartial({}),
        }),
      },
    ]);
    expect(outcomes).toEqual(['poison', 'applied']);
    expect(letters).toEqual([
      'cannot apply v1: payload.case_registered.district contains a NUL character',
    ]);
    const after = (await statistics()).overall;
    expect(after.casesRegistered).toBe(before.casesRegistered);
    expect(after.casesConcluded).toBe(before.casesConcluded);
  });

  it("dead-letters events past a case's waiting bound; sent again once the gap is mended, they all count", async () => {
    const letters: string[] = [];
    const LIMIT = 2_048;
    const projector = new FactsProjector(
      store,
      { send: async (_key, _value, reason) => void letters.push(reason) },
      log,
      undefined,
      LIMIT,
    );
    const caseId = `${run}-flood`;
    const at = new Date('2021-08-02T02:00:00Z');
    const evidence = (v: number): events.CaseEvent['payload'] => ({
      $case: 'evidenceRecorded',
      value: events.EvidenceRecorded.fromPartial({ evidenceId: `ev-${v}`, kind: 'photo' }),
    });
    const event = (v: number) =>
      v === 1
        ? encoded(caseId, 1, 30_000_000, at, registered(new Date('2021-10-31T02:00:00Z')))
        : v === 40
          ? encoded(caseId, 40, 30_000_000, at, {
              $case: 'caseConcluded',
              value: events.CaseConcluded.fromPartial({}),
            })
          : encoded(caseId, v, 30_000_000, at, evidence(v));
    const before = (await statistics()).overall;
    // Version 1 is missing (a failed-over intake's): the 39 after it wait for it.
    const waiting = Array.from({ length: 39 }, (_, i) => ({
      offset: 960_000 + i,
      key: caseId,
      value: event(i + 2),
    }));
    const outcomes = await projector.handleChunk(1, waiting);
    const kept = outcomes.filter((o) => o === 'buffered').length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(39);
    expect(outcomes).toEqual([
      ...Array.from({ length: kept }, () => 'buffered'),
      ...Array.from({ length: 39 - kept }, () => 'poison'),
    ]);
    expect(letters).toHaveLength(39 - kept);
    expect(letters[0]).toMatch(
      new RegExp(
        `^waiting beyond the case's limit \\(${LIMIT} bytes\\) at v${kept + 2}: ${kept} waiting for v1$`,
      ),
    );
    const facts = async () =>
      (await store.loadPartition(1)).flatMap((p) => p.cases).find((f) => f.id === caseId);
    expect(JSON.stringify((await facts())?.held).length).toBeLessThanOrEqual(LIMIT);

    // `store republish` sends the case's whole history again: every version counts once.
    const again = Array.from({ length: 40 }, (_, i) => ({
      offset: 961_000 + i,
      key: caseId,
      value: event(i + 1),
    }));
    const replayed = await projector.handleChunk(1, again);
    expect(replayed.filter((o) => o === 'applied')).toHaveLength(40 - kept);
    expect(replayed.filter((o) => o === 'duplicate')).toHaveLength(kept);
    expect(await facts()).toMatchObject({ v: 40 });
    expect((await facts())?.held).toBeUndefined();
    const after = (await statistics()).overall;
    expect(after.casesRegistered).toBe(before.casesRegistered + 1);
    expect(after.casesConcluded).toBe(before.casesConcluded + 1);
  });
});

/** A registration in 城中区, due at `dueAt`. */
const registered = (dueAt: Date): events.CaseEvent['payload'] => ({
  $case: 'caseRegistered',
  value: events.CaseRegistered.fromPartial({ agencyId: 'lz-eeb', district: '城中区', dueAt }),
});

/** A case's event as intake publishes it, at `base + version` in the position log; without a payload where none is given (a type added since). */
const encoded = (
  caseId: string,
  version: number,
  base: number,
  at: Date,
  payload?: events.CaseEvent['payload'],
) =>
  Buffer.from(
    events.CaseEvent.encode(
      events.CaseEvent.fromPartial({
        eventId: `${caseId}-${version}`,
        caseId,
        version,
        position: base + version,
        occurredAt: at,
        recordedAt: at,
        agencyId: 'lz-eeb',
        ...(payload ? { payload } : {}),
      }),
    ).finish(),
  );
