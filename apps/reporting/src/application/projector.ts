import { earliestRecordedMs, events, textWithNul } from '@enforcement/contracts';
import { cityParts } from '@enforcement/reference-data';
import { applyFact, emptyFacts, yearsOf, type CaseFacts, type HeldEvent } from '../domain/facts.js';
import type { DeadLetters, FactStore } from './ports.js';

/**
 * A case's bound on events waiting for an earlier version: a page holds a
 * month of a partition's cases, so a flood keyed to one case must not grow
 * it without end.
 */
export const WAITING_LIMIT_BYTES = 256 * 1024;

export interface Message {
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

/** `buffered`: ahead of a missing version of its case, it waits for it. */
export type Outcome = 'applied' | 'duplicate' | 'buffered' | 'poison';

interface PartitionState {
  /** Every case of the partition and the page that holds it. */
  readonly pageOf: Map<string, string>;
  /** Every page of the partition. */
  readonly pages: Set<string>;
  /** Pages held in memory, least recently used first. */
  readonly resident: Map<string, Map<string, CaseFacts>>;
  /** Recording time of the latest event applied. */
  recordedMs: number;
  /** Cases with held events, each with when its earliest held event was recorded (ms). */
  readonly waiting: Map<string, number>;
}

/** When the earliest of a case's held events was recorded (ms); undefined when none is held. */
const earliestHeld = (facts: CaseFacts): number | undefined => earliestRecordedMs(facts.held ?? []);

/** Cases whose later events wait for a missing version, over the partitions' stored progress. */
export interface Waiting {
  readonly cases: number;
  /** When intake recorded the earliest waiting event (ms); undefined when none waits. */
  readonly earliestMs: number | undefined;
}

const yearOf = (at: number) => cityParts(at).year;
const monthOf = (at: number) => {
  const p = cityParts(at);
  return `${p.year}-${String(p.month).padStart(2, '0')}`;
};

/**
 * Applies case events to the facts of one partition at a time. A partition's
 * index (case to page) is loaded from the store when first seen; the pages
 * of recent months stay in memory, older ones are read back when an event
 * needs them. The pages a chunk touched are written before its offsets are
 * committed. Versions make redelivery harmless: an event at or below a
 * case's version is a duplicate; one ahead of a missing version waits in the
 * case's facts until that version comes.
 */
export class FactsProjector {
  private readonly partitions = new Map<number, PartitionState>();

  constructor(
    private readonly store: FactStore,
    private readonly deadLetters: DeadLetters,
    private readonly log: (msg: string, err?: unknown) => void,
    /** Pages per partition kept in memory between chunks. */
    private readonly residentPages = 6,
    /** The most a case's facts hold of events waiting for an earlier version (bytes, as JSON). */
    private readonly waitingLimitBytes = WAITING_LIMIT_BYTES,
  ) {}

  /**
   * The cases whose later events wait for a missing version, as the
   * partitions' stored progress has them: every partition, whichever
   * instance applies it, and after a restart.
   */
  async waiting(): Promise<Waiting> {
    let cases = 0;
    let earliestMs: number | undefined;
    for (const p of await this.store.progress())
      for (const ms of Object.values(p.waiting ?? {})) {
        cases++;
        if (earliestMs === undefined || ms < earliestMs) earliestMs = ms;
      }
    return { cases, earliestMs };
  }

  /** Partitions may have moved: reload them from the store when next seen. */
  forget(): void {
    this.partitions.clear();
  }

  private async state(partition: number): Promise<PartitionState> {
    let s = this.partitions.get(partition);
    if (s) return s;
    const progress = (await this.store.progress()).find((p) => p.partition === partition);
    s = {
      pageOf: new Map(),
      pages: new Set(),
      resident: new Map(),
      recordedMs: progress?.recordedMs ?? 0,
      waiting: new Map(),
    };
    // Newest months last, so they are the ones that stay.
    const pages = (await this.store.loadPartition(partition)).sort((a, b) =>
      a.month.localeCompare(b.month),
    );
    for (const page of pages) {
      s.pages.add(page.id);
      for (const facts of page.cases) {
        s.pageOf.set(facts.id, page.id);
        const held = earliestHeld(facts);
        if (held !== undefined) s.waiting.set(facts.id, held);
      }
      s.resident.set(page.id, new Map(page.cases.map((f) => [f.id, f])));
    }
    this.evict(s, new Set());
    this.partitions.set(partition, s);
    return s;
  }

  /** The page's cases in memory, read back from the store if it was evicted. */
  private async resident(
    s: PartitionState,
    partition: number,
    page: string,
  ): Promise<Map<string, CaseFacts>> {
    let cases = s.resident.get(page);
    if (cases) {
      s.resident.delete(page);
    } else {
      const stored = s.pages.has(page) ? await this.store.loadPage(partition, page) : undefined;
      cases = new Map((stored?.cases ?? []).map((f) => [f.id, f]));
      s.pages.add(page);
    }
    s.resident.set(page, cases);
    return cases;
  }

  private evict(s: PartitionState, keep: Set<string>): void {
    for (const page of s.resident.keys()) {
      if (s.resident.size <= this.residentPages) return;
      if (!keep.has(page)) s.resident.delete(page);
    }
  }

  async handleChunk(partition: number, messages: readonly Message[]): Promise<Outcome[]> {
    try {
      return await this.applyChunk(partition, messages);
    } catch (e) {
      // Memory may be ahead of the store now: start the partition again from what was written.
      this.partitions.delete(partition);
      throw e;
    }
  }

  private async applyChunk(partition: number, messages: readonly Message[]): Promise<Outcome[]> {
    const s = await this.state(partition);
    const dirty = new Set<string>();
    const outcomes: Outcome[] = [];
    for (const m of messages) outcomes.push(await this.apply(s, partition, m, dirty));
    if (dirty.size > 0)
      await this.store.writePages(
        partition,
        [...dirty].map((id) => {
          const cases = [...(s.resident.get(id)?.values() ?? [])];
          const years = new Set<number>();
          for (const c of cases) for (const y of yearsOf(c, yearOf)) years.add(y);
          return { id, month: id.split(':')[1] ?? '', years: [...years].sort(), cases };
        }),
      );
    const last = messages.at(-1);
    if (last)
      await this.store.saveProgress({
        partition,
        offset: last.offset,
        recordedMs: s.recordedMs,
        ...(s.waiting.size > 0 ? { waiting: Object.fromEntries(s.waiting) } : {}),
      });
    this.evict(s, dirty);
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
      // One without a payload this version knows (an event type added since)
      // is still a version of its case: it is dead-lettered where it applies,
      // and the case moves past it.
      if (!e.caseId || e.version < 1) throw new Error('event without case id or version');
    } catch (err) {
      await this.poison(m, `undecodable: ${(err as Error).message}`);
      return 'poison';
    }
    const page = s.pageOf.get(e.caseId) ?? `p${partition}:${monthOf(e.occurredAt?.getTime() ?? 0)}`;
    const cases = await this.resident(s, partition, page);
    const facts = cases.get(e.caseId) ?? emptyFacts(e.caseId);
    if (e.version <= facts.v) return 'duplicate';
    s.pageOf.set(e.caseId, page);
    dirty.add(page);
    if (e.version !== facts.v + 1) {
      // Ahead of a missing version (an instance of intake published it while a
      // crashed one's earlier commit waited for the sweep): it waits in the
      // case's facts, stored with them, until the gap fills.
      const held = facts.held ?? [];
      if (!held.some((x) => x.version === e.version)) {
        const json = events.CaseEvent.toJSON(e) as HeldEvent;
        if (JSON.stringify(held).length + JSON.stringify(json).length > this.waitingLimitBytes) {
          // A page holds a month of its partition's cases: one case's flood
          // would take it past a document's 16 MiB, and every write of it
          // would fail. What did not fit comes again with `store republish`.
          await this.poison(
            m,
            `waiting beyond the case's limit (${this.waitingLimitBytes} bytes) at v${e.version}: ${held.length} waiting for v${facts.v + 1}`,
          );
          return 'poison';
        }
        const next = {
          ...facts,
          held: [...held, json].sort((a, b) => a.version - b.version),
        };
        cases.set(e.caseId, next);
        s.waiting.set(e.caseId, earliestHeld(next) ?? 0);
      }
      return 'buffered';
    }
    const first = await this.applied(facts, e, m);
    let next = first.facts;
    // What waited for this version, in order, as far as it runs on.
    const waiting = next.held ?? [];
    for (const x of waiting) {
      if (x.version !== next.v + 1) continue;
      const later = events.CaseEvent.fromJSON(x);
      const value = Buffer.from(events.CaseEvent.encode(later).finish());
      next = (await this.applied(next, later, { offset: m.offset, key: e.caseId, value })).facts;
    }
    if (waiting.length > 0) {
      const still = waiting.filter((x) => x.version > next.v);
      const { held: _was, ...rest } = next;
      next = still.length > 0 ? { ...rest, held: still } : rest;
      const earliest = earliestHeld(next);
      if (earliest === undefined) s.waiting.delete(e.caseId);
      else s.waiting.set(e.caseId, earliest);
    }
    cases.set(e.caseId, next);
    s.recordedMs = Math.max(s.recordedMs, e.recordedAt?.getTime() ?? 0);
    return first.ok ? 'applied' : 'poison';
  }

  /**
   * The facts after one event of the next version. One that cannot be
   * applied goes to the dead-letter topic, and the case moves past it: its
   * later events still count.
   */
  private async applied(
    facts: CaseFacts,
    e: events.CaseEvent,
    m: Message,
  ): Promise<{ facts: CaseFacts; ok: boolean }> {
    try {
      if (!e.payload)
        throw new Error('no payload this version of reporting knows (an event type added since?)');
      // Intake refuses such text in commands, so no event it publishes has
      // one (scoring dead-letters it too). A NUL byte is in any message that
      // has one, and in few others.
      const nul = m.value?.includes(0) ? textWithNul(e) : undefined;
      if (nul !== undefined) throw new Error(`${nul} contains a NUL character`);
      return { facts: applyFact(facts, e), ok: true };
    } catch (err) {
      await this.poison(m, `cannot apply v${e.version}: ${(err as Error).message}`);
      return { facts: { ...facts, v: e.version }, ok: false };
    }
  }

  private async poison(m: Message, reason: string): Promise<void> {
    this.log(`dead-lettered offset ${m.offset}: ${reason}`);
    await this.deadLetters.send(m.key, m.value, reason);
  }
}
