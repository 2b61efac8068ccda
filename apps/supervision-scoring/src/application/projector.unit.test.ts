import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { MODEL_V1 } from '../domain/scoring-model.js';
import { caseEvents } from '../test-support/events.js';
import { Projector, type Delivered } from './projector.js';
import type { CaseRecord, ProjectionStore, RollupShareWrite } from './ports.js';

class Conflict extends Error {}

/**
 * The projection store's contract in memory, with one fault a dying database
 * produces: a rollup write that lands but whose answer is lost.
 */
class MemoryStore implements ProjectionStore {
  readonly cases = new Map<string, CaseRecord>();
  readonly shares = new Map<string, { hw: number; inc: Record<string, number> }>();
  loseNextShareAnswer = false;

  async getCase(id: string) {
    const r = this.cases.get(id);
    return r ? structuredClone(r) : null;
  }

  async getCases(ids: readonly string[]) {
    const out = new Map<string, CaseRecord>();
    for (const id of ids) {
      const r = this.cases.get(id);
      if (r) out.set(id, structuredClone(r));
    }
    return out;
  }

  async insertCases(docs: readonly CaseRecord[]) {
    const next = docs.map((d) => ({ ...structuredClone(d), rev: 1 }));
    for (const d of next) {
      if (this.cases.has(d._id)) throw new Conflict(d._id);
      this.cases.set(d._id, d);
    }
    return next;
  }

  async saveCase(doc: CaseRecord) {
    const stored = this.cases.get(doc._id);
    if ((stored?.rev ?? 0) !== doc.rev) throw new Conflict(doc._id);
    const next = { ...structuredClone(doc), rev: doc.rev + 1 };
    this.cases.set(doc._id, next);
    return next;
  }

  async rollupShareMarks(shares: readonly { id: string }[]) {
    const out = new Map<string, number>();
    for (const { id } of shares) {
      const s = this.shares.get(id);
      if (s) out.set(id, s.hw);
    }
    return out;
  }

  async writeRollupShares(writes: readonly RollupShareWrite[]) {
    for (const w of writes) {
      const s = this.shares.get(w.id);
      // Guarded as the store guards it: a share that moved past fromMark is left alone.
      if (s && s.hw > w.fromMark) continue;
      const inc = { ...(s?.inc ?? {}) };
      for (const [k, n] of Object.entries(w.delta.inc)) inc[k] = (inc[k] ?? 0) + n;
      this.shares.set(w.id, { hw: w.toSeq, inc });
    }
    if (this.loseNextShareAnswer) {
      this.loseNextShareAnswer = false;
      throw new Error('connection closed before the answer');
    }
  }

  async upsertOrders() {}
  async setTimer() {}

  /** A rollup's value summed over its shares (one per partition). */
  rollup(rollupId: string, field: string): number {
    let sum = 0;
    for (const [id, s] of this.shares) if (id.startsWith(`${rollupId}|`)) sum += s.inc[field] ?? 0;
    return sum;
  }
}

const projector = (store: MemoryStore) =>
  new Projector({
    store,
    deadLetters: { send: async () => undefined },
    sink: { changed: () => undefined },
    model: MODEL_V1,
    isConflict: (e) => e instanceof Conflict,
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
