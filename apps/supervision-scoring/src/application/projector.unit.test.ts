import { describe, expect, it, vi } from 'vitest';
import { precondition } from '@enforcement/errors';
import { events } from '@enforcement/contracts';
import { MODEL_V1, scoreCase } from '../domain/scoring-model.js';
import { caseEvents, correctingReview } from '../test-support/events.js';
import { Projector, type Delivered, type ProjectorDeps } from './projector.js';
import { Conflict, MemoryStore } from '../test-support/memory-store.js';
import type { CaseRecord } from './ports.js';

/** The score a stored record's view gives (what GetCaseScore answers). */
const scoreOf = (rec: CaseRecord | undefined) =>
  rec ? scoreCase(rec.view, MODEL_V1)?.score : undefined;

/** The partitions' end: every message these tests deliver lies below it. */
const endOffset = async () => 1_000;

const projector = (store: MemoryStore, correctionsEveryMs?: number) =>
  new Projector({
    store,
    deadLetters: { send: async () => undefined },
    sink: { changed: () => undefined, ordersChanged: () => undefined },
    model: MODEL_V1,
    isConflict: (e) => e instanceof Conflict,
    // Reviews on partition 1, the cases they correct on partition 0.
    partitionOf: (caseId) => (caseId.startsWith('review') ? 1 : 0),
    correctionsEveryMs,
    endOffset,
  });

const AGENCY_2021 = 'AGENCY|YEAR|2021|lz-eeb';

describe('rollups through a database that dies mid-write', () => {
  it('counts every case once when a rollup write landed but its answer was lost and kafkajs redelivers a longer batch', async () => {
    const store = new MemoryStore();
    const p = projector(store);
    let offset = 0;
    const deliveries = (caseId: string): Delivered[] =>
      caseEvents({ caseId }).map((e) => ({
        partition: 0,
        offset: offset++,
        key: caseId,
        value: Buffer.from(events.CaseEvent.encode(e).finish()),
      }));
    const a = deliveries('case-a');
    const b = deliveries('case-b');
    const c = deliveries('case-c');

    // The first batch's rollup write lands, then the connection dies: the batch fails.
    store.loseNextShareAnswer = true;
    await expect(p.handleBatch(0, [...a, ...b])).rejects.toThrow('connection closed');
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(2);

    // kafkajs delivers again from the last committed offset, this time with more.
    await p.handleBatch(0, [...a, ...b, ...c]);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(3);

    // And a redelivery of all of it changes nothing.
    await p.handleBatch(0, [...a, ...b, ...c]);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(3);
  });
});

/** A partition's messages as kafkajs hands them, from `from` on. */
const deliver = (partition: number, list: events.CaseEvent[], from = 0): Delivered[] =>
  list.map((e, i) => ({
    partition,
    offset: from + i,
    key: e.caseId,
    value: Buffer.from(events.CaseEvent.encode(e).finish()),
  }));

describe('a correction whatever the order partitions deliver in', () => {
  for (const order of ['case first', 'review first', 'review between', 'both at once'] as const)
    it(`deducts the correction once when the ${order}`, async () => {
      const store = new MemoryStore();
      const p = projector(store);
      const target = deliver(0, caseEvents({ caseId: 'case-t' }));
      const review = deliver(1, correctingReview('review-r', 'case-t'));
      if (order === 'case first') {
        await p.handleBatch(0, target);
        await p.handleBatch(1, review);
      } else if (order === 'review first') {
        await p.handleBatch(1, review);
        await p.handleBatch(0, target);
      } else if (order === 'both at once') {
        // Partitions consumed concurrently by one process, as kafkajs does.
        await Promise.all([p.handleBatch(0, target), p.handleBatch(1, review)]);
      } else {
        await p.handleBatch(0, target.slice(0, 3));
        await p.handleBatch(1, review);
        await p.handleBatch(0, target.slice(3));
      }
      // Partition 0 has nothing more to consume: the consumer's idle round applies what was left for it.
      await p.handleBatch(0, []);
      expect(store.cases.get('case-t')?.view.correctedBy).toEqual(['review-r']);
      expect(store.rollup(AGENCY_2021, 'corrected')).toBe(1);
      expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);
      expect(store.corrections.size).toBe(0);
      // Delivered again, nothing counts twice.
      await p.handleBatch(1, review);
      await p.handleBatch(0, target);
      await p.handleBatch(0, []);
      expect(store.rollup(AGENCY_2021, 'corrected')).toBe(1);
      expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);
    });
});

describe('corrections left for a partition', () => {
  /** A store that counts the looks, and a projector that looks for others' corrections only when idle. */
  const counted = () => {
    const store = new MemoryStore();
    let looks = 0;
    const correctionsFor = store.correctionsFor.bind(store);
    store.correctionsFor = (partition: number) => {
      looks++;
      return correctionsFor(partition);
    };
    const p = projector(store, 3_600_000);
    return { store, p, looks: () => looks };
  };

  it('are looked for once, not by every batch, while the partition is busy', async () => {
    const { p, looks } = counted();
    const target = deliver(0, caseEvents({ caseId: 'case-t' }));
    for (const m of target) await p.handleBatch(0, [m]);
    expect(looks()).toBe(1);
  });

  it('left by this process, are applied by the partition’s next batch', async () => {
    const { store, p, looks } = counted();
    const target = deliver(0, caseEvents({ caseId: 'case-t' }));
    await p.handleBatch(0, target.slice(0, 3));
    await p.handleBatch(1, deliver(1, correctingReview('review-r', 'case-t')));
    await p.handleBatch(0, target.slice(3));
    expect(store.cases.get('case-t')?.view.correctedBy).toEqual(['review-r']);
    expect(store.rollup(AGENCY_2021, 'corrected')).toBe(1);
    expect(store.corrections.size).toBe(0);
    expect(looks()).toBe(3);
  });

  it('left by another instance, are applied by the idle round, and by a busy partition once the interval passes', async () => {
    const { store, p } = counted();
    const target = deliver(0, caseEvents({ caseId: 'case-t' }));
    await p.handleBatch(0, target.slice(0, 3));
    // Another instance applied the review and left its correction in the store.
    store.corrections.set('review-r', { _id: 'review-r', target: 'case-t', partition: 0 });
    await p.handleBatch(0, target.slice(3, 5));
    expect(store.cases.get('case-t')?.view.correctedBy).toEqual([]);
    await p.handleBatch(0, []);
    expect(store.cases.get('case-t')?.view.correctedBy).toEqual(['review-r']);
    expect(store.corrections.size).toBe(0);

    // A projector that looks every time finds one between two busy batches.
    const eager = projector(store, 0);
    const other = deliver(0, caseEvents({ caseId: 'case-u' }), 100);
    await eager.handleBatch(0, other.slice(0, 3));
    store.corrections.set('review-s', { _id: 'review-s', target: 'case-u', partition: 0 });
    await eager.handleBatch(0, other.slice(3));
    expect(store.cases.get('case-u')?.view.correctedBy).toEqual(['review-s']);
  });
});

/**
 * A projector whose every case is on partition 0, over one client of the
 * store (its writes can fail); `progress` hears each batch's feed times.
 */
const onOnePartition = (
  client: ReturnType<MemoryStore['client']> | MemoryStore,
  progress?: ProjectorDeps['progress'],
  deadLetters: ProjectorDeps['deadLetters'] = { send: async () => undefined },
  history?: ProjectorDeps['history'],
) =>
  onePartitionWith(client, {
    deadLetters,
    ...(progress ? { progress } : {}),
    ...(history ? { history } : {}),
  });

/** The same, with any of the projector's dependencies given. */
const onePartitionWith = (
  client: ReturnType<MemoryStore['client']> | MemoryStore,
  deps: Partial<ProjectorDeps>,
) =>
  new Projector({
    store: client,
    deadLetters: { send: async () => undefined },
    sink: { changed: () => undefined, ordersChanged: () => undefined },
    model: MODEL_V1,
    isConflict: (e) => e instanceof Conflict,
    partitionOf: () => 0,
    endOffset,
    ...deps,
  });

/** Delivers case-t's events with its version 5 of an event type added since (no payload): the case parks, the later ones held. */
async function parkBehindFifth(p: Projector, list: events.CaseEvent[]): Promise<void> {
  const fifth = list[4];
  if (!fifth) throw new Error('the test needs five events');
  const { payload: _unknown, ...unknown } = fifth;
  await p.handleBatch(0, [
    ...deliver(0, list.slice(0, 4)),
    {
      partition: 0,
      offset: 4,
      key: 'case-t',
      value: Buffer.from(events.CaseEvent.encode(unknown).finish()),
    },
    ...deliver(0, list.slice(5), 5),
  ]);
}

/** The case applied through its last version, nothing waiting, and counted once in its agency's year. */
function countedOnce(store: MemoryStore, caseId: string, versions: number): void {
  const rec = store.cases.get(caseId);
  expect(rec?.view.version).toBe(versions);
  expect(rec?.pending).toEqual([]);
  expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);
  expect(store.rollup(AGENCY_2021, 'scoreSum')).toBe(scoreOf(rec));
}

/** Intake's history of these cases, as a release reads it to fill a gap. */
const historyOf = (...lists: events.CaseEvent[][]): ProjectorDeps['history'] => ({
  read: async (caseId, from) =>
    lists.flat().filter((e) => e.caseId === caseId && e.version >= from),
});

/** A store whose client can fail, case-t's events, and a projector on one partition that reads them as intake's history. */
function withHistory() {
  const store = new MemoryStore();
  const client = store.client();
  const list = caseEvents({ caseId: 'case-t' });
  return { store, client, list, p: onOnePartition(client, undefined, undefined, historyOf(list)) };
}

describe('a release of a case not parked, whose gap a chunk closed and landed only its pages', () => {
  it('leaves the case to the chunk, which counts it once when kafkajs delivers it again', async () => {
    const { store, client, list, p } = withHistory();
    // Intake failed over: version 4 reached the partition before version 3.
    const [v3, v4] = [list[2], list[3]];
    if (!v3 || !v4) throw new Error('the test needs four events');
    await p.handleBatch(0, deliver(0, [...list.slice(0, 2), v4]));
    expect(store.cases.get('case-t')?.pending).toHaveLength(1);

    // Version 3 comes, with the rest: the chunk's rollup pages land, then
    // the process dies before the records.
    const chunk = deliver(0, [v3, ...list.slice(4)], 3);
    client.failAt(1);
    await expect(p.handleBatch(0, chunk)).rejects.toThrow('connection closed');
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);

    // An operator releases the case meanwhile. It is not parked: nothing is
    // filled from intake's history by version over what the pages hold by offset.
    expect(await p.release('case-t')).toBe(0);
    expect(store.cases.get('case-t')?.view.version).toBe(2);

    // kafkajs delivers the chunk again: the case is counted once.
    await p.handleBatch(0, chunk);
    countedOnce(store, 'case-t', list.length);
  });
});

describe('a release of a case whose poison took the place of a version', () => {
  it("fills the version from intake's history with the held events, counted once also when the first try's answer is lost", async () => {
    const { store, client, list, p } = withHistory();
    // Version 3's message reached the partition undecodable.
    const poison = { partition: 0, offset: 2, key: 'case-t', value: Buffer.from([0xff, 0xff]) };
    await p.handleBatch(0, [
      ...deliver(0, list.slice(0, 2)),
      poison,
      ...deliver(0, list.slice(3), 3),
    ]);
    expect(store.cases.get('case-t')?.parked).toBe(true);

    // The release's derived writes land, and an answer is lost: still parked.
    client.failAt(1);
    await expect(p.release('case-t')).rejects.toThrow('connection closed');
    expect(store.cases.get('case-t')?.parked).toBe(true);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);

    // Released again: version 3 comes from intake's history, the held ones follow it.
    expect(await p.release('case-t')).toBe(list.length - 2);
    expect(store.cases.get('case-t')?.parked).toBe(false);
    countedOnce(store, 'case-t', list.length);
  });
});

describe('a release of a case whose latest version was of an event type scoring did not know', () => {
  it("fills that version from intake's history, though nothing held waits for it", async () => {
    const { store, list, p } = withHistory();
    const last = list.at(-1);
    if (!last) throw new Error('no events');
    // The case's last version reaches the partition as an event type added
    // since this version of scoring: it decodes without a payload.
    const { payload: _unknown, ...unknown } = last;
    await p.handleBatch(0, [
      ...deliver(0, list.slice(0, -1)),
      {
        partition: 0,
        offset: list.length - 1,
        key: 'case-t',
        value: Buffer.from(events.CaseEvent.encode(unknown).finish()),
      },
    ]);
    expect(store.cases.get('case-t')).toMatchObject({ parked: true, held: [], pending: [] });
    expect(store.cases.get('case-t')?.parkReason).toContain(`v${list.length} has no payload`);

    // Scoring upgraded, the operator releases the case: it is whole.
    expect(await p.release('case-t')).toBe(1);
    expect(store.cases.get('case-t')?.parked).toBe(false);
    countedOnce(store, 'case-t', list.length);
  });

  it('stays parked while intake does not answer, and is filled by the release after', async () => {
    const store = new MemoryStore();
    const list = caseEvents({ caseId: 'case-t' });
    let answers = false;
    const p = onOnePartition(store, undefined, undefined, {
      read: async (caseId, from) => {
        if (!answers) throw new Error('14 UNAVAILABLE: case-intake did not answer');
        return list.filter((e) => e.caseId === caseId && e.version >= from);
      },
    });
    await parkBehindFifth(p, list);
    expect(store.cases.get('case-t')).toMatchObject({ parked: true });

    await expect(p.release('case-t')).rejects.toThrow('UNAVAILABLE');
    // Nothing moved: still parked, its events still held, nothing counted.
    expect(store.cases.get('case-t')).toMatchObject({ parked: true, held: expect.any(Array) });
    expect(store.cases.get('case-t')?.held).toHaveLength(list.length - 5);
    expect(store.cases.get('case-t')?.view.version).toBe(4);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(0);

    answers = true;
    expect(await p.release('case-t')).toBe(list.length - 4);
    countedOnce(store, 'case-t', list.length);
  });
});

describe('a release another instance left, while intake does not answer', () => {
  /** case-t parked behind its version 5 (a type added since), and a release of it left by another instance. */
  async function leftRelease(read: NonNullable<ProjectorDeps['history']>['read']) {
    const store = new MemoryStore();
    const list = caseEvents({ caseId: 'case-t' });
    const logged: string[] = [];
    const p = onePartitionWith(store, {
      history: { read },
      correctionsEveryMs: 0,
      log: (what) => logged.push(what),
    });
    await parkBehindFifth(p, list);
    expect(store.cases.get('case-t')?.parked).toBe(true);
    store.corrections.set('release/case-t', {
      _id: 'release/case-t',
      target: 'case-t',
      partition: 0,
      release: true,
    });
    return { store, list, p, logged };
  }

  it('does not stop the partition: its other cases flow, and the release is tried again once intake is back', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      let reads = 0;
      let answers = false;
      let list: events.CaseEvent[] = [];
      const t = await leftRelease(async (caseId, from) => {
        reads++;
        if (!answers) throw new Error('14 UNAVAILABLE: case-intake did not answer');
        return list.filter((e) => e.caseId === caseId && e.version >= from);
      });
      list = t.list;
      const other = deliver(0, caseEvents({ caseId: 'case-u' }), 100);
      // The batch with the left release is applied; the release waits.
      await t.p.handleBatch(0, other.slice(0, 3));
      expect(t.store.cases.get('case-u')?.view.version).toBe(3);
      expect(t.store.cases.get('case-t')?.parked).toBe(true);
      expect(t.store.corrections.has('release/case-t')).toBe(true);
      expect(t.logged).toEqual([
        expect.stringContaining('release of case-t left by another instance failed'),
      ]);
      // Within its wait, batches do not ask intake again.
      await t.p.handleBatch(0, other.slice(3));
      expect(t.store.cases.get('case-u')?.view.version).toBe(other.length);
      expect(reads).toBe(1);

      answers = true;
      vi.setSystemTime(Date.now() + 5_001);
      await t.p.handleBatch(0, []);
      expect(reads).toBe(2);
      expect(t.store.corrections.size).toBe(0);
      expect(t.store.cases.get('case-t')).toMatchObject({ parked: false, held: [], pending: [] });
      expect(t.store.cases.get('case-t')?.view.version).toBe(list.length);
    } finally {
      vi.useRealTimers();
    }
  });

  it('notes a refusal that names a rule on the request for the asker, and does not try it again', async () => {
    let reads = 0;
    const t = await leftRelease(async () => {
      reads++;
      throw precondition(
        'RELEASE.HISTORY_UNREADABLE',
        'intake cannot read the history of case case-t: broken',
      );
    });
    await t.p.handleBatch(0, []);
    expect(t.store.corrections.get('release/case-t')?.refused).toEqual({
      code: 'RELEASE.HISTORY_UNREADABLE',
      message: 'intake cannot read the history of case case-t: broken',
    });
    await t.p.handleBatch(0, []);
    expect(reads).toBe(1);
    expect(t.store.cases.get('case-t')?.parked).toBe(true);
  });
});

describe("a case's events beyond what its record may hold waiting", () => {
  /** A projector on one partition whose records hold at most `limit` bytes waiting, sending letters to `letters`. */
  function bounded(limit: number, list: events.CaseEvent[]) {
    const store = new MemoryStore();
    const letters: string[] = [];
    const p = onePartitionWith(store, {
      deadLetters: { send: async (_key, _value, reason) => void letters.push(reason) },
      history: historyOf(list),
      waitingLimitBytes: limit,
    });
    return { store, letters, p };
  }
  const b64 = (e: events.CaseEvent | undefined) =>
    e ? Buffer.from(events.CaseEvent.encode(e).finish()).toString('base64').length : 0;
  const heldBytes = (rec: CaseRecord | undefined) =>
    (rec?.held ?? []).reduce((n, h) => n + h.length, 0);

  it('are dead-lettered behind a poison once the held ones reach the bound, and the release fills them from intake', async () => {
    const list = caseEvents({ caseId: 'case-t' });
    // Room for versions 3 and 4 held, not 5.
    const limit = b64(list[2]) + b64(list[3]);
    const { store, letters, p } = bounded(limit, list);
    const poison = { partition: 0, offset: 2, key: 'case-t', value: Buffer.from([0xff, 0xff]) };
    await p.handleBatch(0, [
      ...deliver(0, list.slice(0, 2)),
      poison,
      ...deliver(0, list.slice(2), 3),
    ]);
    const rec = store.cases.get('case-t');
    expect(rec).toMatchObject({ parked: true, lacks: list.length });
    expect(rec?.held).toHaveLength(2);
    expect(heldBytes(rec)).toBeLessThanOrEqual(limit);
    expect(letters).toHaveLength(1 + list.length - 4);
    expect(letters.slice(1)).toEqual(
      list
        .slice(4)
        .map((e) =>
          expect.stringContaining(
            `waiting beyond the case's limit (${limit} bytes) at v${e.version}`,
          ),
        ),
    );

    expect(await p.release('case-t')).toBe(list.length - 2);
    countedOnce(store, 'case-t', list.length);
  });

  it('park their case when it waits for a missing version past the bound, and the release fills it from intake', async () => {
    const list = caseEvents({ caseId: 'case-t' });
    const { store, letters, p } = bounded(1_500, list);
    // Version 3 never reaches the partition; the later ones wait for it.
    await p.handleBatch(0, [...deliver(0, list.slice(0, 2)), ...deliver(0, list.slice(3), 3)]);
    const rec = store.cases.get('case-t');
    expect(rec).toMatchObject({ parked: true });
    expect(rec?.parkReason).toMatch(
      /^waiting beyond the case's limit \(1500 bytes\) at v\d+: 0 held, \d+ waiting for v3$/,
    );
    expect(JSON.stringify(rec?.pending).length).toBeLessThanOrEqual(1_500);
    expect(rec?.pending.length).toBeGreaterThan(0);
    expect(letters.length).toBe(list.length - 3 - (rec?.pending.length ?? 0));
    expect(rec?.view.version).toBe(2);

    expect(await p.release('case-t')).toBe(list.length - 2);
    countedOnce(store, 'case-t', list.length);
  });
});

describe('a release whose share lands but whose answer is lost', () => {
  it('counts the released events once when the operator releases the case again', async () => {
    const store = new MemoryStore();
    const client = store.client();
    const p = onOnePartition(client);
    const t = deliver(0, caseEvents({ caseId: 'case-t' }));
    // An undecodable message parks the case; its events are held behind it.
    await p.handleBatch(0, [
      ...t.slice(0, 2),
      { partition: 0, offset: 2, key: 'case-t', value: Buffer.from([0xff, 0xff]) },
      ...t.slice(2).map((m) => ({ ...m, offset: m.offset + 1 })),
    ]);
    expect(store.cases.get('case-t')?.parked).toBe(true);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(0);

    // The release's derived writes land (its share with them), and an answer is lost.
    client.failAt(1);
    await expect(p.release('case-t')).rejects.toThrow('connection closed');
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);
    expect(store.cases.get('case-t')?.parked).toBe(true);

    await p.release('case-t');
    expect(store.cases.get('case-t')?.parked).toBe(false);
    expect(store.cases.get('case-t')?.view.version).toBe(t.length);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);
    expect(store.rollup(AGENCY_2021, 'scoreSum')).toBe(scoreOf(store.cases.get('case-t')));
  });
});

describe('a release between a chunk whose pages landed without its records and its replay', () => {
  it('counts the case the chunk held back once, when the replay applies it after the release', async () => {
    const store = new MemoryStore();
    const client = store.client();
    const p = onOnePartition(client);
    const t = deliver(0, caseEvents({ caseId: 'case-t' }));
    const poison = { partition: 0, offset: 2, key: 'case-t', value: Buffer.from([0xff, 0xff]) };
    // The first chunk parks the case after two of its events.
    await p.handleBatch(0, [...t.slice(0, 2), poison]);
    expect(store.cases.get('case-t')?.parked).toBe(true);

    // The next chunk holds the case's other events back and counts another
    // case: its rollup pages land, then the process dies before the records.
    const rest = t.slice(2).map((m) => ({ ...m, offset: m.offset + 1 }));
    const u = deliver(0, caseEvents({ caseId: 'case-u' }), t.length + 1);
    client.failAt(1);
    await expect(p.handleBatch(0, [...rest, ...u])).rejects.toThrow('connection closed');
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);

    // The operator releases the case, still parked as stored, with nothing held.
    await p.release('case-t');
    expect(store.cases.get('case-t')?.parked).toBe(false);

    // kafkajs delivers the chunk again: now the case's events apply, and
    // count, though the partition's pages already hold their offsets.
    await p.handleBatch(0, [...rest, ...u]);
    expect(store.cases.get('case-t')?.view.version).toBe(t.length);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(2);
    const [st, su] = ['case-t', 'case-u'].map((id) => scoreOf(store.cases.get(id)) ?? NaN);
    expect(store.rollup(AGENCY_2021, 'scoreSum')).toBe((st ?? NaN) + (su ?? NaN));

    // A redelivery of the chunk changes nothing.
    await p.handleBatch(0, [...rest, ...u]);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(2);
  });
});

describe('an event that waited for an earlier version', () => {
  it("raises its feed's time once it is applied: the rules' clock reaches the agency's latest events", async () => {
    // Intake failed over: version 3 reached the topic only after version 4,
    // the agency's latest event. The clock the rules judge by must reach it.
    const times: Map<string, number>[] = [];
    const p = onOnePartition(
      new MemoryStore(),
      async (_partition, feeds) => void times.push(new Map(feeds)),
    );
    const list = caseEvents({ caseId: 'failed-over' });
    const [v3, v4] = [list[2], list[3]];
    if (!v3 || !v4) throw new Error('the test needs four events');
    const at = (e: events.CaseEvent) => e.occurredAt?.getTime() ?? 0;
    const feed = `${v4.agencyId}|${v4.caseType}`;

    await p.handleBatch(0, deliver(0, [...list.slice(0, 2), v4]));
    // Version 4 waits: the feed is known only as far as version 2.
    expect(times.at(-1)?.get(feed)).toBe(at(list[1] ?? v3));
    await p.handleBatch(0, deliver(0, [v3], 3));
    expect(times.at(-1)?.get(feed)).toBe(at(v4));
  });
});

describe('an undecodable message delivered again', () => {
  it('is dead-lettered and parks its case once, also when it comes again after the case was released', async () => {
    const store = new MemoryStore();
    const letters: (string | null)[] = [];
    const p = onOnePartition(store, undefined, {
      send: async (key) => void letters.push(key),
    });
    const t = deliver(0, caseEvents({ caseId: 'case-t' }));
    const poison = { partition: 0, offset: 2, key: 'case-t', value: Buffer.from([0xff, 0xff]) };
    const chunk = [
      ...t.slice(0, 2),
      poison,
      ...t.slice(2).map((m) => ({ ...m, offset: m.offset + 1 })),
    ];
    await p.handleBatch(0, chunk);
    expect(store.cases.get('case-t')?.parked).toBe(true);
    // kafkajs delivers the chunk again (its offsets were not committed).
    expect(await p.handleBatch(0, chunk)).toContain('duplicate');
    expect(letters).toEqual(['case-t']);

    await p.release('case-t');
    expect(store.cases.get('case-t')).toMatchObject({ parked: false, view: { version: t.length } });
    // And again after the release: the case stays released, counted once.
    const outcomes = await p.handleBatch(0, chunk);
    expect(outcomes[2]).toBe('duplicate');
    expect(store.cases.get('case-t')?.parked).toBe(false);
    expect(letters).toEqual(['case-t']);
    expect(store.rollup(AGENCY_2021, 'cases')).toBe(1);

    // Another undecodable message of the case is a poison of its own.
    await p.handleBatch(0, [{ ...poison, offset: 40 }]);
    expect(store.cases.get('case-t')?.parked).toBe(true);
    expect(letters).toEqual(['case-t', 'case-t']);
  });
});
