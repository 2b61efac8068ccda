import { events } from '@enforcement/contracts';
import { applyEvent, emptyView, type CaseView } from '../domain/case-view.js';
import { contributionOf, rollupDeltas } from '../domain/rollups.js';
import { needsWatching } from '../domain/rules.js';
import { scoreCase, type ScoringModel } from '../domain/scoring-model.js';
import { KeyedLock } from './keyed-lock.js';
import type { CaseRecord, DeadLetters, History, ProjectionStore, ScoreSink } from './ports.js';

export interface Delivered {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

export type Outcome = 'applied' | 'duplicate' | 'buffered' | 'held' | 'poison';

export interface ProjectorDeps {
  readonly store: ProjectionStore;
  readonly deadLetters: DeadLetters;
  readonly sink: ScoreSink;
  readonly model: ScoringModel;
  readonly history?: History;
  readonly isConflict: (e: unknown) => boolean;
}

class Poison extends Error {}

/** Events that change what the supervision rules see; others leave the watched copy as it is. */
const RULE_FACTS = new Set([
  'caseRegistered',
  'deadlineExtended',
  'penaltyDecided',
  'caseConcluded',
  'supervisionOrderOpened',
  'supervisionOrderAnswered',
  'supervisionOrderEscalated',
  'caseEvaluated',
  'caseArchived',
]);

const fresh = (caseId: string): CaseRecord => ({
  _id: caseId,
  rev: 0,
  view: emptyView(caseId),
  score: null,
  contrib: null,
  pending: [],
  parked: false,
  parkReason: '',
  held: [],
});

function decode(value: Buffer | null): events.CaseEvent {
  if (!value || value.length === 0) throw new Poison('empty message');
  let e: events.CaseEvent;
  try {
    e = events.CaseEvent.decode(value);
  } catch (err) {
    throw new Poison(`cannot decode enforcement.events.v1.CaseEvent: ${(err as Error).message}`);
  }
  if (!e.caseId || e.version < 1 || !e.payload)
    throw new Poison('event without case id, version or payload');
  return e;
}

/**
 * Applies case events to the read models: in version order per case, each
 * exactly once. Redeliveries are dropped by version; an event ahead of a
 * missing one waits in the case's record; an event that cannot be decoded or
 * applied goes to the dead-letter topic and parks its case, whose later
 * events are held in order until it is released. Rollups move by the change
 * in what the case contributes, guarded per (partition, offset).
 */
export class Projector {
  private readonly locks = new KeyedLock();
  /**
   * Recently written case records. A partition has one consumer, so this
   * process is the only writer of its cases and its copy is current; a copy
   * gone stale after a rebalance fails the store's revision check, is dropped
   * and read again.
   */
  private readonly cache = new Map<string, CaseRecord>();

  constructor(
    private readonly deps: ProjectorDeps,
    private readonly cacheSize = 20_000,
  ) {}

  private async load(caseId: string): Promise<CaseRecord | null> {
    const hit = this.cache.get(caseId);
    if (hit) {
      this.cache.delete(caseId);
      this.cache.set(caseId, hit);
      return hit;
    }
    return this.deps.store.getCase(caseId);
  }

  private async save(doc: CaseRecord): Promise<CaseRecord> {
    try {
      const saved = await this.deps.store.saveCase(doc);
      this.cache.delete(doc._id);
      this.cache.set(doc._id, saved);
      if (this.cache.size > this.cacheSize) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      return saved;
    } catch (e) {
      this.cache.delete(doc._id);
      throw e;
    }
  }

  async handle(m: Delivered): Promise<Outcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(m);
      } catch (e) {
        if (this.deps.isConflict(e) && attempt < 5) continue;
        throw e;
      }
    }
  }

  /** Un-parks a case and applies what was held, filling any gap from intake's history. */
  async release(caseId: string): Promise<number> {
    const held = await this.locks.run(caseId, async () => {
      const doc = await this.load(caseId);
      if (!doc) return [];
      await this.save({ ...doc, parked: false, parkReason: '', held: [] });
      return doc.held;
    });
    let applied = 0;
    // Released messages lost their place in the partition: guard them per case, in release order.
    const guard = `release-${caseId}`;
    let seq = Date.now() * 1000;
    for (const b64 of held) {
      const outcome = await this.handleGuarded(
        { key: caseId, value: Buffer.from(b64, 'base64') },
        guard,
        ++seq,
      );
      if (outcome === 'applied') applied++;
    }
    const after = await this.load(caseId);
    if (after && after.pending.length > 0 && this.deps.history) {
      const missing = await this.deps.history.read(caseId, after.view.version + 1);
      for (const e of missing) {
        const outcome = await this.handleGuarded(
          { key: caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) },
          guard,
          ++seq,
        );
        if (outcome === 'applied') applied++;
      }
    }
    return applied;
  }

  private handleGuarded(
    m: Pick<Delivered, 'key' | 'value'>,
    guard: string,
    seq: number,
  ): Promise<Outcome> {
    return this.apply(m, guard, seq);
  }

  private once(m: Delivered): Promise<Outcome> {
    return this.apply(m, m.partition, m.offset);
  }

  private async apply(
    m: Pick<Delivered, 'key' | 'value'>,
    guard: number | string,
    seq: number,
  ): Promise<Outcome> {
    const { store } = this.deps;
    let e: events.CaseEvent;
    try {
      e = decode(m.value);
    } catch (err) {
      if (!(err instanceof Poison)) throw err;
      await this.park(m, err.message);
      return 'poison';
    }
    const doc = (await this.load(e.caseId)) ?? fresh(e.caseId);
    if (doc.parked) {
      await this.save({
        ...doc,
        held: [...doc.held, (m.value ?? Buffer.alloc(0)).toString('base64')],
      });
      return 'held';
    }
    if (e.version <= doc.view.version) return 'duplicate';
    if (e.version > doc.view.version + 1) {
      const pending = doc.pending.map((p) => events.CaseEvent.fromJSON(p));
      if (!pending.some((p) => p.version === e.version)) pending.push(e);
      await this.save({ ...doc, pending: pending.map((p) => events.CaseEvent.toJSON(p)) });
      return 'buffered';
    }

    let view: CaseView = doc.view;
    let pending = doc.pending
      .map((p) => events.CaseEvent.fromJSON(p))
      .sort((a, b) => a.version - b.version);
    try {
      view = applyEvent(view, e);
      for (const next of pending)
        if (next.version === view.version + 1) view = applyEvent(view, next);
      pending = pending.filter((p) => p.version > view.version);
    } catch (err) {
      // Already holding this case's lock: park it directly.
      const reason = `cannot apply ${e.payload?.$case} v${e.version}: ${(err as Error).message}`;
      await this.deps.deadLetters.send(m.key, m.value, reason);
      await this.parkLocked(e.caseId, reason);
      return 'poison';
    }

    const score = scoreCase(view, this.deps.model) ?? null;
    const contrib = contributionOf(view, score ?? undefined);
    const target = view.review?.enforcementCaseId ?? '';
    if (view.review?.corrected && !doc.view.review?.corrected && target && target !== view.caseId) {
      await this.correct(target, view.caseId, guard, seq);
    }
    await store.applyRollups(rollupDeltas(doc.contrib, contrib), guard, seq);
    await this.save({
      ...doc,
      view,
      score,
      contrib,
      pending: pending.map((p) => events.CaseEvent.toJSON(p)),
    });
    // Derived views of the record just saved; independent of each other.
    const ordersChanged = JSON.stringify(view.orders) !== JSON.stringify(doc.view.orders);
    const watchChanged =
      view.kind === 'ENFORCEMENT' &&
      (RULE_FACTS.has(e.payload?.$case ?? '') || needsWatching(view) !== needsWatching(doc.view));
    await Promise.all([
      ordersChanged ? store.upsertOrders(view.caseId, view.agencyId, view.orders) : undefined,
      watchChanged ? store.setWatched(view, needsWatching(view)) : undefined,
    ]);
    if (score && JSON.stringify(score) !== JSON.stringify(doc.score))
      this.deps.sink.changed(view, score);
    return 'applied';
  }

  /** A reconsideration corrected a decision: deduct from that case's score and rollups. */
  private async correct(
    caseId: string,
    reviewId: string,
    guard: number | string,
    seq: number,
  ): Promise<void> {
    const { store, model } = this.deps;
    const doc = (await this.load(caseId)) ?? fresh(caseId);
    if (doc.view.correctedBy.includes(reviewId)) return;
    const view = { ...doc.view, correctedBy: [...doc.view.correctedBy, reviewId] };
    const score = scoreCase(view, model) ?? null;
    const contrib = contributionOf(view, score ?? undefined);
    await store.applyRollups(rollupDeltas(doc.contrib, contrib), guard, seq);
    await this.save({ ...doc, view, score, contrib });
    if (score) this.deps.sink.changed(view, score);
  }

  private async park(m: Pick<Delivered, 'key' | 'value'>, reason: string): Promise<void> {
    await this.deps.deadLetters.send(m.key, m.value, reason);
    const key = m.key;
    if (!key) return; // no case to park: nothing else is held back
    await this.locks.run(key, () => this.parkLocked(key, reason));
  }

  private async parkLocked(key: string, reason: string): Promise<void> {
    const doc = (await this.load(key)) ?? fresh(key);
    if (!doc.parked) await this.save({ ...doc, parked: true, parkReason: reason });
  }
}
