import { events } from '@enforcement/contracts';
import { cityParts } from '@enforcement/reference-data';
import { applyFact, emptyFacts, yearsOf, type CaseFacts } from '../domain/facts.js';
import type { DeadLetters, FactStore } from './ports.js';

export interface Message {
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

export type Outcome = 'applied' | 'duplicate' | 'poison';

interface PartitionState {
  readonly cases: Map<string, { facts: CaseFacts; page: string }>;
  readonly pages: Map<string, Set<string>>;
  /** Recording time of the latest event applied. */
  recordedMs: number;
}

const yearOf = (at: number) => cityParts(at).year;
const monthOf = (at: number) => {
  const p = cityParts(at);
  return `${p.year}-${String(p.month).padStart(2, '0')}`;
};

/**
 * Applies case events to the facts of one partition at a time. A partition is
 * loaded from the store when first seen, changed in memory, and the pages a
 * chunk touched are written back before its offsets are committed. Versions
 * make redelivery harmless: an event at or below a case's version is a duplicate.
 */
export class FactsProjector {
  private readonly partitions = new Map<number, PartitionState>();

  constructor(
    private readonly store: FactStore,
    private readonly deadLetters: DeadLetters,
    private readonly log: (msg: string, err?: unknown) => void,
  ) {}

  /** Partitions may have moved: reload them from the store when next seen. */
  forget(): void {
    this.partitions.clear();
  }

  private async state(partition: number): Promise<PartitionState> {
    let s = this.partitions.get(partition);
    if (s) return s;
    const progress = (await this.store.progress()).find((p) => p.partition === partition);
    s = { cases: new Map(), pages: new Map(), recordedMs: progress?.recordedMs ?? 0 };
    for (const page of await this.store.loadPartition(partition)) {
      const ids = new Set<string>();
      for (const facts of page.cases) {
        s.cases.set(facts.id, { facts, page: page.id });
        ids.add(facts.id);
      }
      s.pages.set(page.id, ids);
    }
    this.partitions.set(partition, s);
    return s;
  }

  async handleChunk(partition: number, messages: readonly Message[]): Promise<Outcome[]> {
    const s = await this.state(partition);
    const dirty = new Set<string>();
    const outcomes: Outcome[] = [];
    for (const m of messages) outcomes.push(await this.apply(s, partition, m, dirty));
    if (dirty.size > 0)
      await this.store.writePages(
        partition,
        [...dirty].map((id) => {
          const cases = [...(s.pages.get(id) ?? [])].flatMap((c) => {
            const entry = s.cases.get(c);
            return entry ? [entry.facts] : [];
          });
          const years = new Set<number>();
          for (const c of cases) for (const y of yearsOf(c, yearOf)) years.add(y);
          return { id, month: id.split(':')[1] ?? '', years: [...years].sort(), cases };
        }),
      );
    const last = messages.at(-1);
    if (last)
      await this.store.saveProgress({ partition, offset: last.offset, recordedMs: s.recordedMs });
    return outcomes;
  }

  private async apply(
    s: PartitionState,
    partition: number,
    m: Message,
    dirty: Set<string>,
  ): Promise<Outcome> {
    let e: events.CaseEvent;
    try {
      if (!m.value) throw new Error('empty message');
      e = events.CaseEvent.decode(m.value);
      if (!e.caseId || !e.payload) throw new Error('event without case id or payload');
    } catch (err) {
      await this.poison(m, `undecodable: ${(err as Error).message}`);
      return 'poison';
    }
    const entry = s.cases.get(e.caseId);
    const facts = entry?.facts ?? emptyFacts(e.caseId);
    if (e.version <= facts.v) return 'duplicate';
    if (e.version !== facts.v + 1) {
      await this.poison(m, `version gap: case ${e.caseId} is at ${facts.v}, got ${e.version}`);
      return 'poison';
    }
    let next: CaseFacts;
    try {
      next = applyFact(facts, e);
    } catch (err) {
      await this.poison(m, `cannot apply: ${(err as Error).message}`);
      return 'poison';
    }
    const page = entry?.page ?? `p${partition}:${monthOf(e.occurredAt?.getTime() ?? 0)}`;
    if (!entry) {
      let ids = s.pages.get(page);
      if (!ids) s.pages.set(page, (ids = new Set()));
      ids.add(e.caseId);
    }
    s.cases.set(e.caseId, { facts: next, page });
    dirty.add(page);
    s.recordedMs = Math.max(s.recordedMs, e.recordedAt?.getTime() ?? 0);
    return 'applied';
  }

  private async poison(m: Message, reason: string): Promise<void> {
    this.log(`dead-lettered offset ${m.offset}: ${reason}`);
    await this.deadLetters.send(m.key, m.value, reason);
  }
}
