import { events, textWithNul } from '@enforcement/contracts';
import { DomainError } from '@enforcement/errors';
import { feedOf } from '@enforcement/messaging';
import { applyEvent, emptyView, type CaseView } from '../domain/case-view.js';
import {
  addToRows,
  contributionOf,
  pageIdOf,
  pageKeyOf,
  rollupDeltas,
  type Contribution,
  type RollupDelta,
} from '../domain/rollups.js';
import {
  DEFAULT_RULES,
  isDone,
  supervisionPlan,
  unwarrantedActions,
  unwarrantedOn,
  type RuleConfig,
} from '../domain/rules.js';
import { scoreCase, type CaseScoreResult, type ScoringModel } from '../domain/scoring-model.js';
import { KeyedLock } from './keyed-lock.js';
import { settled } from './settled.js';
import type {
  CaseOrders,
  CaseRecord,
  CorrectionPart,
  CorrectionRequest,
  DeadLetters,
  History,
  ProjectionStore,
  RollupPage,
  RollupPageRow,
  RollupPageWrite,
  ScoreSink,
} from './ports.js';

export interface Delivered {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

export type Outcome = 'applied' | 'duplicate' | 'buffered' | 'held' | 'poison';

/**
 * Where a message stands: its offset in the partition, or, for a release's
 * messages (which lost their place), `'version'`: its share counts by the
 * case's version, in the case's release part.
 */
type Seq = number | 'version';

export interface ProjectorDeps {
  readonly store: ProjectionStore;
  readonly deadLetters: DeadLetters;
  readonly sink: ScoreSink;
  readonly model: ScoringModel;
  readonly history?: History;
  readonly isConflict: (e: unknown) => boolean;
  /** The supervision rules: each case's next due action is indexed for the rule runner. */
  readonly rules?: RuleConfig;
  /**
   * After a partition's batch is written, before its offsets are committed:
   * how far each feed (`<agency>|<case type>`) is applied, for the rules'
   * watermark. Stored there, so a restart never loses what a batch taught.
   */
  readonly progress?: (partition: number, feeds: ReadonlyMap<string, number>) => Promise<void>;
  /** The case-events partition a case's events go to (Kafka's partitioner on the case id). */
  readonly partitionOf: (caseId: string) => number;
  /**
   * How often a partition's batches look for corrections another instance
   * left it (ms; default 1 s). Those this process leaves are looked for by
   * the partition's next batch, and an idle partition's empty batch always
   * looks.
   */
  readonly correctionsEveryMs?: number;
  /**
   * The end of a case-events partition now (Kafka's high watermark): every
   * offset any consumer has read of it lies below. Read at a release.
   */
  readonly endOffset: (partition: number) => Promise<number>;
  /** What went wrong off any caller's path (a left release tried again later). */
  readonly log?: (what: string, e: unknown) => void;
  /**
   * Rule actions a case's history, as it now stands, does not call for
   * (`unwarrantedActions`): told once each, when the record that first
   * holds them is written.
   */
  readonly unwarranted?: (view: CaseView, actions: readonly string[]) => void;
  /**
   * The most a case's record holds of events not applied yet (held behind a
   * poison, or waiting for an earlier version), in bytes as stored; default
   * WAITING_LIMIT_BYTES.
   */
  readonly waitingLimitBytes?: number;
}

/**
 * A case record's bound on events not applied yet: 32 records at the bound
 * fit a case page well inside a document's 16 MiB, however the flood that
 * fills them compresses.
 */
export const WAITING_LIMIT_BYTES = 256 * 1024;

/**
 * The key of a case's release part on its partition's correction pages:
 * the shares of its messages that counted by version, summed.
 */
export const releasePartIdOf = (caseId: string) => `released:${caseId}`;

/** The feed an event belongs to: its owning agency and case type (agencies' steps, reviews). */
export { feedOf };

class Poison extends Error {
  constructor(
    message: string,
    /** The case's version the message carried, where it names one: a version of the case's own that never applies. */
    readonly version?: number,
  ) {
    super(message);
  }
}

const fresh = (caseId: string): CaseRecord => ({
  _id: caseId,
  rev: 0,
  view: emptyView(caseId),
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
  if (!e.caseId || e.version < 1) throw new Poison('event without case id or version');
  // Intake refuses such text in commands, so no event it publishes has one;
  // the store cannot hold it (nor the driver a field name with it). A NUL
  // byte is in any message that has one, and in few others.
  const nul = value.includes(0) ? textWithNul(e) : undefined;
  if (nul !== undefined)
    throw new Poison(`v${e.version}: ${nul} contains a NUL character`, e.version);
  if (!e.payload)
    throw new Poison(
      `v${e.version} has no payload this version of scoring knows (an event type added since?)`,
      e.version,
    );
  return e;
}

/** A case's view without the corrections reviews made: what its own history alone gives. */
const uncorrected = (v: CaseView): CaseView =>
  v.correctedBy.length === 0 ? v : { ...v, correctedBy: [] };

/**
 * What a view gives under the model: its score (corrections counted), and
 * its contribution to the rollups, taken from its own history alone. Both
 * are worked out from the view whenever needed, never stored with it
 * (layout 12).
 */
interface Derived {
  readonly score: CaseScoreResult | null;
  readonly contrib: Contribution | null;
}

function derive(view: CaseView, model: ScoringModel): Derived {
  const score = scoreCase(view, model) ?? null;
  const own = uncorrected(view);
  const contrib = contributionOf(own, (own === view ? score : scoreCase(own, model)) ?? undefined);
  return { score, contrib };
}

/**
 * Deltas added up into rows, by rollup page key; a key's rows start from
 * `from`'s (a copy) where it has them.
 */
function rowsByPageKey(
  deltas: readonly RollupDelta[],
  from: Readonly<Record<string, readonly RollupPageRow[]>> = {},
): Map<string, Map<string, RollupPageRow>> {
  const out = new Map<string, Map<string, RollupPageRow>>();
  for (const d of deltas) {
    const pageKey = pageKeyOf(d.listKey);
    let page = out.get(pageKey);
    if (!page) {
      page = new Map((from[pageKey] ?? []).map((r) => [r.id, { ...r, values: { ...r.values } }]));
      out.set(pageKey, page);
    }
    addToRows(page, d);
  }
  return out;
}

/**
 * What the corrections of a case change in the rollups it counts in: its
 * contribution as corrected, less its contribution as its history alone
 * gives it (`d`, what the view gives). Nothing for a case nobody corrected,
 * or one not concluded.
 */
function correctionEffect(v: CaseView, d: Derived): RollupDelta[] {
  if (v.correctedBy.length === 0) return [];
  return rollupDeltas(d.contrib, contributionOf(v, d.score ?? undefined));
}

/**
 * One batch of messages from one partition (or one release), applied in
 * memory and then written: rollup shares first (each once, with the offset
 * it reached), then the orders derived from the cases, then the case
 * records with their rules' timers, packed in the partition's pages. A
 * crash between the writes replays the batch: records not written yet are
 * applied again, and shares skip the offsets they already hold.
 *
 * Skipping is right only if the replay works out each message's share as
 * the first try did, so a message's share is taken from the case's own
 * history alone, never from corrections, which another partition's reviews
 * hand in whenever a batch happens to look. What a case's corrections
 * change counts on its partition's correction pages
 * (`<pageKey>|p<n>|fix`), as the case's part as of a version of it,
 * replaced whenever a later version moves the case (see `correctionParts`).
 */
class Batch {
  private readonly records = new Map<string, CaseRecord>();
  private readonly dirty = new Set<string>();
  /** What each rollup page gains, message by message: settled against the page's mark at flush. */
  private readonly gains = new Map<
    string,
    { listKey: string; parts: { seq: number; delta: RollupDelta }[] }
  >();
  /** Per case, the orders this chunk opened or changed: written, and told to live watchers. */
  private readonly movedOrders = new Map<string, CaseOrders>();
  /** Corrections this batch's reviews made, for the partitions owning the corrected cases. */
  private readonly requests: CorrectionRequest[] = [];
  /** Requests this batch applied: removed once its records are written. */
  private readonly corrected: string[] = [];
  /** Latest occurrence time applied per feed in this batch. */
  readonly feeds = new Map<string, number>();
  private readonly scores = new Map<string, [CaseView, CaseScoreResult]>();
  /** What each view the batch holds gives (see `derive`): worked out once per view. */
  private readonly derived = new WeakMap<CaseView, Derived>();
  /**
   * Cases whose events this batch applied: their rules' timer is computed
   * once, from the view the batch writes (the whole plan is worked out for
   * it, so not after every event).
   */
  private readonly timed = new Set<string>();
  /**
   * Corrected cases this batch moved: the page keys whose rollups their
   * corrections changed anywhere along the way, each given the case's part
   * as of its latest version.
   */
  private readonly fixed = new Map<string, Set<string>>();
  /** Cases whose shares this batch counted by version: the page keys their release part moved on. */
  private readonly releasedMoved = new Map<string, Set<string>>();

  /** The writer of the partition's rollup pages: `p<n>`. */
  private readonly guard: string;

  constructor(
    private readonly p: Projector,
    private readonly deps: ProjectorDeps,
    /** The partition whose cases the batch writes (a release: its case's). */
    private readonly partition: number,
  ) {
    this.guard = `p${partition}`;
  }

  private async record(caseId: string): Promise<CaseRecord> {
    const have = this.records.get(caseId);
    if (have) return have;
    await this.prefetch([caseId]);
    return this.records.get(caseId) ?? fresh(caseId);
  }

  /** Loads, in one round, the records of these cases that are not in the batch yet. */
  async prefetch(caseIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(caseIds)].filter((id) => !this.records.has(id));
    if (missing.length === 0) return;
    const stored = await this.deps.store.casesForWrite(this.partition, missing);
    for (const id of missing) this.records.set(id, stored.get(id) ?? fresh(id));
  }

  /** What a view gives, worked out the first time the batch asks. */
  private derivedOf(view: CaseView): Derived {
    const known = this.derived.get(view);
    if (known) return known;
    const d = derive(view, this.deps.model);
    this.derived.set(view, d);
    return d;
  }

  private put(rec: CaseRecord): void {
    this.records.set(rec._id, rec);
    this.dirty.add(rec._id);
  }

  /** Notes what each rollup page gains from one message; whether the page already holds it is settled at flush. */
  private accumulate(deltas: readonly RollupDelta[], seq: number): void {
    for (const d of deltas) {
      const id = pageIdOf(d.listKey, this.guard);
      const pending = this.gains.get(id) ?? { listKey: pageKeyOf(d.listKey), parts: [] };
      pending.parts.push({ seq, delta: d });
      this.gains.set(id, pending);
    }
  }

  /**
   * Each page with the gains it does not hold yet added (a replayed chunk's
   * offsets at or below its mark are skipped), the pages not known yet read
   * in one round.
   */
  private async pageWrites(): Promise<RollupPageWrite[]> {
    const stored = await this.p.pages(
      [...this.gains].map(([id, g]) => ({ id, listKey: g.listKey })),
    );
    const out: RollupPageWrite[] = [];
    for (const [id, g] of this.gains) {
      const before = stored.get(id);
      const mark = before?.hw ?? -1;
      const parts = g.parts.filter((x) => x.seq > mark);
      if (parts.length === 0) continue;
      const rows = new Map(
        (before?.rows ?? []).map((r) => [r.id, { ...r, values: { ...r.values } }]),
      );
      for (const { delta } of parts) addToRows(rows, delta);
      out.push({
        page: {
          _id: id,
          listKey: g.listKey,
          hw: Math.max(...parts.map((x) => x.seq)),
          rows: [...rows.values()],
        },
        fromMark: mark,
      });
    }
    return out;
  }

  /**
   * Dead-letters a message and parks its case; `at`: the offset of an
   * undecodable one, noted on the case; `version`: the case's version the
   * message was, where it names one (the release fills it from intake's
   * history).
   */
  async park(
    key: string | null,
    value: Buffer | null,
    reason: string,
    at?: number,
    version?: number,
  ): Promise<void> {
    await this.deps.deadLetters.send(key, value, reason);
    if (!key) return; // no case to park: nothing else is held back
    const rec = await this.record(key);
    const noted = at !== undefined && !rec.deadLettered?.includes(at);
    const lacks = version !== undefined && version > (rec.lacks ?? 0);
    if (rec.parked && !noted && !lacks) return;
    this.put({
      ...rec,
      ...(rec.parked ? {} : { parked: true, parkReason: reason }),
      ...(noted ? { deadLettered: [...(rec.deadLettered ?? []), at] } : {}),
      ...(lacks ? { lacks: version } : {}),
    });
  }

  /**
   * Un-parks a case parked as stored, noting where its partition ended
   * (`end`): a try before the release may have held back any of its
   * messages below that offset and landed its pages, so those count by
   * version from now on (see `byVersion`). Returns its held messages and
   * the highest of its versions a poison was (`lacks`, 0 if none);
   * undefined for a case not parked as stored, which is left as it is.
   */
  async unpark(
    caseId: string,
    end: number,
  ): Promise<{ held: string[]; lacks: number } | undefined> {
    const rec = await this.record(caseId);
    if (!rec.parked) return undefined;
    const { lacks, ...rest } = rec;
    this.put({ ...rest, parked: false, parkReason: '', held: [], releasedBelow: end });
    return { held: rec.held, lacks: lacks ?? 0 };
  }

  /**
   * The case's version in this batch's record, and whether it lacks a
   * later one: later ones wait for the next, or a poison was a version
   * beyond it (`lacks`).
   */
  async versionOf(caseId: string, lacks = 0): Promise<{ version: number; gap: boolean }> {
    const rec = await this.record(caseId);
    return {
      version: rec.view.version,
      gap: rec.pending.length > 0 || lacks > rec.view.version,
    };
  }

  /**
   * Whether a message's share counts by version, in the case's release
   * part, rather than on the partition's pages by offset: a release's
   * message (it lost its place in the partition), or a released case's
   * message below the end its release noted. Every try routes a message
   * alike, so its share is counted once: tries before the release held it
   * back.
   */
  private byVersion(rec: CaseRecord, seq: Seq): boolean {
    return seq === 'version' || (rec.releasedBelow !== undefined && seq < rec.releasedBelow);
  }

  /**
   * Adds a message's shares to the case's release part, as of the event's
   * version. The part is the case's sum, replaced on the page by a later
   * version's, so a try that reaches a version writes the same part
   * whatever it replays.
   */
  private countByVersion(
    rec: CaseRecord,
    version: number,
    deltas: readonly RollupDelta[],
  ): CaseRecord['released'] {
    if (deltas.length === 0) return rec.released;
    const rows: Record<string, RollupPageRow[]> = { ...rec.released?.rows };
    const moved = this.releasedMoved.get(rec._id) ?? new Set<string>();
    for (const [pageKey, page] of rowsByPageKey(deltas, rows)) {
      rows[pageKey] = [...page.values()];
      moved.add(pageKey);
    }
    this.releasedMoved.set(rec._id, moved);
    return { v: version, rows };
  }

  async add(m: { key: string | null; value: Buffer | null }, seq: Seq): Promise<Outcome> {
    let e: events.CaseEvent;
    try {
      e = decode(m.value);
    } catch (err) {
      if (!(err instanceof Poison)) throw err;
      const at = typeof seq === 'number' ? seq : undefined;
      // A key with a NUL names no case the store could hold: only dead-lettered.
      if (m.key?.includes('\u0000')) {
        await this.deps.deadLetters.send(m.key, m.value, err.message);
        return 'poison';
      }
      // Sent already, at this offset: kafkajs delivers a chunk again until its offsets are committed.
      if (m.key && at !== undefined && (await this.record(m.key)).deadLettered?.includes(at))
        return 'duplicate';
      await this.park(m.key, m.value, err.message, at, err.version);
      return 'poison';
    }
    const rec = await this.record(e.caseId);
    const outcome = await this.apply(rec, e, m, seq);
    if (outcome === 'applied' || outcome === 'duplicate') this.reached(e);
    return outcome;
  }

  private get waitingLimit(): number {
    return this.deps.waitingLimitBytes ?? WAITING_LIMIT_BYTES;
  }

  /**
   * Whether `bytes` more would take what the case's record holds of events
   * not applied yet (held messages as base64, waiting events as JSON) past
   * the limit. A release's messages (`seq` 'version': what the case held,
   * and the fill from intake's history) are not bounded: the held ones fit
   * before, and the fill applies what waits.
   */
  private overflows(rec: CaseRecord, bytes: number, seq: Seq): boolean {
    if (seq === 'version') return false;
    let n = bytes;
    for (const h of rec.held) n += h.length;
    if (rec.pending.length > 0) n += JSON.stringify(rec.pending).length;
    return n > this.waitingLimit;
  }

  /**
   * An event beyond what its case's record may hold waiting: dead-lettered,
   * and the case parked lacking its version, so that the release fills it,
   * and whatever else did not fit, from intake's history.
   */
  private overflow(
    m: { key: string | null; value: Buffer | null },
    e: events.CaseEvent,
    rec: CaseRecord,
  ): Promise<void> {
    return this.park(
      m.key ?? e.caseId,
      m.value,
      `waiting beyond the case's limit (${this.waitingLimit} bytes) at v${e.version}: ${rec.held.length} held, ${rec.pending.length} waiting for v${rec.view.version + 1}`,
      undefined,
      e.version,
    );
  }

  /** Raises the event's feed to how far the event shows it stored: its stream's floor where intake recorded one. */
  private reached(e: events.CaseEvent): void {
    const feed = feedOf(e.agencyId, e.caseType);
    const t = (e.feedFloor ?? e.occurredAt)?.getTime() ?? 0;
    if (t > (this.feeds.get(feed) ?? -Infinity)) this.feeds.set(feed, t);
  }

  private async apply(
    rec: CaseRecord,
    e: events.CaseEvent,
    m: { key: string | null; value: Buffer | null },
    seq: Seq,
  ): Promise<Outcome> {
    if (rec.parked) {
      const b64 = (m.value ?? Buffer.alloc(0)).toString('base64');
      if (this.overflows(rec, b64.length, seq)) {
        await this.overflow(m, e, rec);
        return 'poison';
      }
      this.put({ ...rec, held: [...rec.held, b64] });
      return 'held';
    }
    if (e.version <= rec.view.version) return 'duplicate';
    const pending = rec.pending.map((x) => events.CaseEvent.fromJSON(x));
    if (e.version > rec.view.version + 1) {
      if (pending.some((x) => x.version === e.version)) return 'buffered';
      const json = events.CaseEvent.toJSON(e);
      if (this.overflows(rec, JSON.stringify(json).length, seq)) {
        await this.overflow(m, e, rec);
        return 'poison';
      }
      this.put({ ...rec, pending: [...rec.pending, json] });
      return 'buffered';
    }

    let view: CaseView = rec.view;
    let waiting = pending.sort((a, b) => a.version - b.version);
    /** Events that waited for this one, applied after it. */
    const drained: events.CaseEvent[] = [];
    try {
      view = applyEvent(view, e);
      for (const next of waiting)
        if (next.version === view.version + 1) {
          view = applyEvent(view, next);
          drained.push(next);
        }
      waiting = waiting.filter((x) => x.version > view.version);
    } catch (err) {
      await this.park(
        m.key ?? e.caseId,
        m.value,
        `cannot apply ${e.payload?.$case} v${e.version}: ${(err as Error).message}`,
        undefined,
        e.version,
      );
      return 'poison';
    }

    const before = this.derivedOf(rec.view);
    const { score, contrib } = this.derivedOf(view);
    const target = view.review?.enforcementCaseId ?? '';
    if (view.review?.corrected && !rec.view.review?.corrected && target && target !== view.caseId)
      this.requests.push({
        _id: view.caseId,
        target,
        partition: this.deps.partitionOf(target),
      });
    const deltas = rollupDeltas(before.contrib, contrib);
    const byVersion = this.byVersion(rec, seq);
    if (!byVersion && typeof seq === 'number') this.accumulate(deltas, seq);
    this.fix(rec.view, view);
    this.put({
      ...rec,
      view,
      pending: waiting.map((x) => events.CaseEvent.toJSON(x)),
      ...(byVersion ? { released: this.countByVersion(rec, view.version, deltas) } : {}),
    });
    // What waited is applied now: its feeds reach as far as it shows (the
    // agency's last events may be among them, after an intake failover).
    for (const x of drained) this.reached(x);
    this.timed.add(view.caseId);
    if (
      view.orders !== rec.view.orders &&
      JSON.stringify(view.orders) !== JSON.stringify(rec.view.orders)
    ) {
      const before = new Map(rec.view.orders.map((o) => [o.orderId, JSON.stringify(o)]));
      const moved = view.orders.filter((o) => before.get(o.orderId) !== JSON.stringify(o));
      const known = this.movedOrders.get(view.caseId)?.orders ?? [];
      const ids = new Set(moved.map((o) => o.orderId));
      this.movedOrders.set(view.caseId, {
        caseId: view.caseId,
        agencyId: view.agencyId,
        caseVersion: view.version,
        orders: [...known.filter((o) => !ids.has(o.orderId)), ...moved],
      });
    }
    if (score && JSON.stringify(score) !== JSON.stringify(before.score))
      this.scores.set(view.caseId, [view, score]);
    return 'applied';
  }

  /**
   * A reconsideration corrected a decision of a case this batch's partition
   * owns: deduct from its score, and count it on the case's correction
   * pages. Its own shares do not move: they are its history's.
   */
  async correct(r: CorrectionRequest): Promise<void> {
    this.corrected.push(r._id);
    const rec = await this.record(r.target);
    if (rec.view.correctedBy.includes(r._id)) return;
    const view = { ...rec.view, correctedBy: [...rec.view.correctedBy, r._id] };
    // Its contribution stays: it is taken from the case's own history.
    const { contrib } = this.derivedOf(rec.view);
    const score = scoreCase(view, this.deps.model) ?? null;
    this.derived.set(view, { score, contrib });
    this.fix(rec.view, view);
    this.put({ ...rec, view });
    if (score) this.scores.set(r.target, [view, score]);
  }

  /** Notes the page keys whose rollups a corrected case's corrections change, before or after its move. */
  private fix(before: CaseView, after: CaseView): void {
    if (after.correctedBy.length === 0) return;
    const keys = this.fixed.get(after.caseId) ?? new Set<string>();
    for (const d of [
      ...correctionEffect(before, this.derivedOf(before)),
      ...correctionEffect(after, this.derivedOf(after)),
    ])
      keys.add(pageKeyOf(d.listKey));
    this.fixed.set(after.caseId, keys);
  }

  /**
   * Each corrected case's parts, by page key, as of its latest version:
   * on every page key its corrections changed on the way, what they change
   * now (an empty part where they no longer change anything there). The
   * store keeps a case's part of a later version, so a writer that lost the
   * partition, or a replay of a shorter batch, cannot put back what an
   * earlier version changed; and as a version's view comes from its
   * history and corrections alone, every writer that reaches it writes the
   * same part.
   */
  private correctionParts(): Map<string, CorrectionPart[]> {
    const out = new Map<string, CorrectionPart[]>();
    for (const [caseId, keys] of this.fixed) {
      const view = this.records.get(caseId)?.view;
      if (!view) continue;
      const rows = rowsByPageKey(correctionEffect(view, this.derivedOf(view)));
      for (const pageKey of keys) {
        const part = {
          caseId,
          version: view.version,
          rows: [...(rows.get(pageKey)?.values() ?? [])],
        };
        out.set(pageKey, [...(out.get(pageKey) ?? []), part]);
      }
    }
    return out;
  }

  /**
   * Each case's release part, as of its latest version, on the page keys
   * it moved on in this batch (on the others, the part a page holds is
   * already the case's).
   */
  private releaseParts(into: Map<string, CorrectionPart[]>): void {
    for (const [caseId, keys] of this.releasedMoved) {
      const released = this.records.get(caseId)?.released;
      if (!released) continue;
      for (const pageKey of keys)
        into.set(pageKey, [
          ...(into.get(pageKey) ?? []),
          {
            caseId: releasePartIdOf(caseId),
            version: released.v,
            rows: released.rows[pageKey] ?? [],
          },
        ]);
    }
  }

  /**
   * Each case applied in this batch: its rules' timer (the plan's first
   * action not in its history yet) and the rules' actions its history no
   * longer calls for (`unwarrantedActions`), kept in its record. The orders
   * whose actions joined or left that list move with the batch's others.
   * Returns what was found that the records did not hold yet.
   */
  private judgeTimed(): { view: CaseView; actions: string[] }[] {
    const rules = this.deps.rules ?? DEFAULT_RULES;
    const { model } = this.deps;
    const found: { view: CaseView; actions: string[] }[] = [];
    for (const id of this.timed) {
      const rec = this.records.get(id);
      if (!rec) continue;
      const { view } = rec;
      // The plan once: the timer is its first action not in the history yet.
      const plan = view.kind === 'ENFORCEMENT' ? supervisionPlan(view, rules, model) : [];
      const timer = plan.find((a) => !isDone(view, a, model))?.at ?? null;
      const unwarranted = unwarrantedActions(view, rules, model, plan);
      const known = new Set(rec.unwarranted ?? []);
      const newly = unwarranted.filter((c) => !known.has(c));
      if (newly.length > 0) found.push({ view, actions: newly });
      this.records.set(id, {
        ...rec,
        timer,
        ...(unwarranted.length > 0 || rec.unwarranted ? { unwarranted } : {}),
      });
      // The actions that joined the list, and those that left it.
      const changed = [...newly, ...[...known].filter((c) => !unwarranted.includes(c))];
      const moved = this.movedOrders.get(id);
      if (!moved && changed.length === 0) continue;
      // The orders as the record holds them now, with the list they are flagged by.
      const ids = new Set(moved?.orders.map((o) => o.orderId));
      const orders = view.orders.filter(
        (o) => ids.has(o.orderId) || unwarrantedOn(o, changed).length > 0,
      );
      this.movedOrders.set(id, {
        caseId: id,
        agencyId: view.agencyId,
        caseVersion: view.version,
        orders,
        ...(unwarranted.length > 0 ? { unwarranted } : {}),
      });
    }
    return found;
  }

  async flush(): Promise<void> {
    const { store, sink } = this.deps;
    // The rules' timers are in the records, written with them, and so are
    // the rule actions a record's history no longer calls for: each is
    // reported once the record that first holds it is written, and the
    // orders it is on are written again with it.
    const found = this.judgeTimed();
    const pages = await this.pageWrites();
    const fixes = this.correctionParts();
    this.releaseParts(fixes);
    // What is derived from the case records goes before them: a record, once
    // written, makes a replay skip its events, so a crash between the writes
    // must not leave the rollups, the order list or the rules' timer behind
    // it. The derived writes go together.
    await settled([
      store.writeRollupPages(pages).then(() => {
        for (const w of pages) this.p.paged(w.page);
      }),
      ...(fixes.size > 0 ? [store.writeCorrections(this.partition, fixes)] : []),
      ...(this.movedOrders.size > 0 ? [store.upsertOrders([...this.movedOrders.values()])] : []),
      ...(this.requests.length > 0
        ? [
            store
              .requestCorrections(this.requests)
              .then(() => this.p.leftFor(this.requests.map((r) => r.partition))),
          ]
        : []),
    ]);
    // Every page key the batch's gains or parts fell on, written or found
    // already holding them: a replay after the pages landed and the records
    // did not still moves the mark readers go by.
    const rolled = new Set([...this.gains.values()].map((g) => g.listKey));
    for (const pageKey of fixes.keys()) rolled.add(pageKey);
    await store.writeCases(
      this.partition,
      [...this.dirty].map((id) => this.records.get(id) ?? fresh(id)),
      [...rolled],
    );
    if (this.corrected.length > 0) await store.correctionsDone(this.corrected);
    for (const { view, actions } of found) this.deps.unwarranted?.(view, actions);
    if (this.scores.size > 0) sink.changed([...this.scores.values()]);
    if (this.movedOrders.size > 0) sink.ordersChanged([...this.movedOrders.values()]);
  }
}

/**
 * Applies case events to the read models: in version order per case, each
 * exactly once. Redeliveries are dropped by version; an event ahead of a
 * missing one waits in the case's record; an event that cannot be decoded or
 * applied goes to the dead-letter topic and parks its case, whose later
 * events are held in order until it is released. Messages are applied a batch
 * at a time, so a busy case or rollup is written once per batch.
 */
export class Projector {
  private readonly partitions = new KeyedLock();
  /** Rollup pages this process wrote or read lately (it is their only writer while it holds their partition). */
  private readonly knownPages = new Map<string, RollupPage>();
  /** Pages found missing: new ones this process will create. */
  private readonly absentPages = new Set<string>();
  /** Partitions this process left corrections for since their batches last looked. */
  private readonly correctionsLeft = new Set<number>();
  /** When each partition's batches last looked for corrections (ms). */
  private readonly correctionsRead = new Map<number, number>();
  /** Left releases that failed on an outage: when each is tried again, and the wait after that. */
  private readonly releaseBackoff = new Map<string, { at: number; waitMs: number }>();

  constructor(
    private readonly deps: ProjectorDeps,
    private readonly pageCacheSize = 2_000,
  ) {}

  /** Rollup pages as stored: known ones from memory, the rest read together. */
  async pages(ids: readonly { id: string; listKey: string }[]): Promise<Map<string, RollupPage>> {
    const out = new Map<string, RollupPage>();
    const unknown = ids.filter((x) => {
      const known = this.knownPages.get(x.id);
      if (known) out.set(x.id, known);
      return !known && !this.absentPages.has(x.id);
    });
    if (unknown.length === 0) return out;
    const stored = await this.deps.store.rollupPages(unknown);
    for (const { id } of unknown) {
      const page = stored.get(id);
      if (page) {
        out.set(id, page);
        this.paged(page);
      } else this.absentPages.add(id);
    }
    return out;
  }

  /** A page as written (or read): kept, the least recently used ones forgotten beyond `pageCacheSize`. */
  paged(page: RollupPage): void {
    this.absentPages.delete(page._id);
    this.knownPages.delete(page._id);
    this.knownPages.set(page._id, page);
    if (this.knownPages.size > this.pageCacheSize) {
      const oldest = this.knownPages.keys().next();
      if (!oldest.done) this.knownPages.delete(oldest.value);
    }
  }

  /** Partitions moved: what this process knew about them may be stale. */
  forget(): void {
    this.deps.store.forget();
    this.knownPages.clear();
    this.absentPages.clear();
    this.correctionsRead.clear();
  }

  /** This process left corrections for these partitions: their next batches look for them. */
  leftFor(partitions: Iterable<number>): void {
    for (const p of partitions) this.correctionsLeft.add(p);
  }

  /**
   * Whether a batch of the partition looks for the corrections waiting for
   * it: an idle one always, the others when this process left some, or a
   * while after the last look (another instance may have). A
   * query per batch was a sixth of a small chunk's calls.
   */
  private looksForCorrections(partition: number, idle: boolean): boolean {
    const last = this.correctionsRead.get(partition);
    const due =
      idle ||
      this.correctionsLeft.has(partition) ||
      last === undefined ||
      Date.now() - last >= (this.deps.correctionsEveryMs ?? 1_000);
    if (due) {
      this.correctionsLeft.delete(partition);
      this.correctionsRead.set(partition, Date.now());
    }
    return due;
  }

  /**
   * Applies messages of one partition, in order, after the corrections
   * waiting for it; retried whole on a write conflict. Batches of one
   * partition never overlap (an idle partition is handed an empty batch now
   * and then, to apply its corrections).
   */
  handleBatch(partition: number, messages: readonly Delivered[]): Promise<Outcome[]> {
    return this.partitions.run(String(partition), async () => {
      let written: Batch | undefined;
      let releases: CorrectionRequest[] = [];
      const looks = this.looksForCorrections(partition, messages.length === 0);
      const outcomes = await this.withRetry(partition, async (batch) => {
        written = batch;
        // The corrections waiting and the messages' records, read at once.
        const [requests] = await Promise.all([
          looks ? this.deps.store.correctionsFor(partition) : [],
          batch.prefetch(messages.flatMap((m) => (m.key ? [m.key] : []))),
        ]);
        releases = requests.filter((r) => r.release);
        const corrections = requests.filter((r) => !r.release);
        await batch.prefetch(corrections.map((c) => c.target));
        for (const c of corrections) await batch.correct(c);
        const out: Outcome[] = [];
        for (const m of messages) out.push(await batch.add(m, m.offset));
        return out;
      });
      if (written && written.feeds.size > 0) await this.deps.progress?.(partition, written.feeds);
      // Releases another instance was asked for: this one applies the partition.
      for (const r of releases) await this.releaseLeft(r);
      return outcomes;
    });
  }

  /**
   * A release another instance left for this partition. Its failure never
   * fails the batch (the partition's other cases flow): a refusal that
   * names a rule (intake cannot read the case's history) is noted on the
   * request for the asker to answer, and the request goes no further; any
   * other failure (intake or the store out of reach) leaves the request to
   * be tried again, after 5 s, then twice as long each time up to 5 min.
   */
  private async releaseLeft(r: CorrectionRequest): Promise<void> {
    const backoff = this.releaseBackoff.get(r._id);
    if (backoff && Date.now() < backoff.at) return;
    try {
      await this.releaseHere(r.target);
    } catch (e) {
      if (e instanceof DomainError) {
        await this.deps.store.correctionRefused(r._id, { code: e.code, message: e.message });
        this.releaseBackoff.delete(r._id);
        return;
      }
      const waitMs = Math.min((backoff?.waitMs ?? 2_500) * 2, 300_000);
      this.releaseBackoff.set(r._id, { at: Date.now() + waitMs, waitMs });
      this.deps.log?.(
        `release of ${r.target} left by another instance failed; tried again in ${waitMs} ms`,
        e,
      );
      return;
    }
    this.releaseBackoff.delete(r._id);
    await this.deps.store.correctionsDone([r._id]);
  }

  async handle(m: Delivered): Promise<Outcome> {
    const [outcome] = await this.handleBatch(m.partition, [m]);
    return outcome ?? 'duplicate';
  }

  /**
   * Un-parks a case and applies what was held, filling any gap from intake's
   * history; in turn with its partition's batches, as their only writer does.
   */
  release(caseId: string): Promise<number> {
    return this.partitions.run(String(this.deps.partitionOf(caseId)), () =>
      this.releaseHere(caseId),
    );
  }

  /**
   * Un-parks a case parked as stored, applies what it held, and fills from
   * intake's history any gap its later events still wait on, or the version
   * its poison was and what follows it, in one batch:
   * the record lands released and filled, or still parked. Released
   * messages lost their place in the partition: they count by the case's
   * version, in its release part, which a retry or a later release of the
   * same events gives them again. A case not parked as stored is left
   * alone: a gap of its own closes when the missing version reaches the
   * partition (filling it here by version would count again what a try
   * that closed it by offset landed on the pages before its records).
   * Answers how many versions the case moved.
   */
  private async releaseHere(caseId: string): Promise<number> {
    const partition = this.deps.partitionOf(caseId);
    const end = await this.deps.endOffset(partition);
    return this.withRetry(partition, async (batch) => {
      const parked = await batch.unpark(caseId, end);
      if (!parked) return 0;
      const before = await batch.versionOf(caseId);
      for (const b64 of parked.held)
        await batch.add({ key: caseId, value: Buffer.from(b64, 'base64') }, 'version');
      const now = await batch.versionOf(caseId, parked.lacks);
      if (now.gap && this.deps.history)
        for (const e of await this.deps.history.read(caseId, now.version + 1))
          await batch.add(
            { key: caseId, value: Buffer.from(events.CaseEvent.encode(e).finish()) },
            'version',
          );
      // The versions the case moved, those that waited for a filled one among them.
      return (await batch.versionOf(caseId)).version - before.version;
    });
  }

  private async withRetry<T>(partition: number, run: (batch: Batch) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const batch = new Batch(this, this.deps, partition);
      try {
        const result = await run(batch);
        await batch.flush();
        return result;
      } catch (e) {
        // A failed flush may have landed writes whose answers were lost: what
        // this process remembers of records and rollup marks is no longer
        // known to be what the store holds. Forget it, so that the next try
        // (or kafkajs's redelivery, maybe of a longer batch) reads the store.
        this.forget();
        if (this.deps.isConflict(e) && attempt < 5) continue;
        throw e;
      }
    }
  }
}
