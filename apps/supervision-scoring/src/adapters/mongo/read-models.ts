import { Binary, type Collection, type Db } from 'mongodb';
import { earliestRecordedMs } from '@enforcement/contracts';
import {
  deflatedJson,
  ignoreDuplicates,
  inflatedJson,
  isDuplicateKey,
  onlyDuplicates,
  PartitionedCollection,
} from '@enforcement/mongo-kit';
import type {
  CaseOrders,
  CaseRecord,
  CorrectionPart,
  CorrectionRequest,
  RollupPage,
  RollupPageRow,
  RollupPageWrite,
  Refusal,
} from '../../application/ports.js';
import { correctionPageIdOf, pageKeyOf, pagesOfPartition } from '../../domain/rollups.js';
import { settled } from '../../application/settled.js';
import { listedOrderOf, orderStatusOf, type OrderFilter } from '../../application/queries.js';
import type { OrderView } from '../../domain/case-view.js';

/** The projection of one case. */
export type CaseDoc = CaseRecord & { updatedAt?: Date };

/** How many cases a page holds: new cases fill their partition's last page, then start the next. */
export const CASES_PER_PAGE = 32;
/** Each partition's case index is spread over this many pages, by a hash of the case id. */
export const INDEX_PAGES = 32;
/**
 * New cases' places ride in their partition's summary (one document for a
 * chunk's new cases) until there are more than this many; then they go to
 * the index pages together. Written to the index pages as they came, they
 * cost a page rewrite per new case: a fifth of what scoring wrote live.
 */
export const PLACED_IN_SUMMARY = 256;

/**
 * Case records packed into pages: one partition's cases, in the order they
 * first arrived, `CASES_PER_PAGE` to a page. Cases opened together are
 * worked on together, so a chunk of a partition's events touches few pages,
 * and each is written once per chunk, whole, with the page's revision
 * checked. Only the partition's consumer writes its pages. What the rules and
 * the operators filter on sits at the top: the earliest timer of the page's
 * unparked cases, and how many of them are parked.
 */
export interface StoredCasePage {
  _id: string;
  partition: number;
  rev: number;
  nextAt: Date | null;
  parked: number;
  /** Its cases whose later events wait for an earlier version, and when the earliest of them was recorded (absent: none). */
  waiting?: { cases: number; since: number };
  body: Binary;
}

/**
 * A partition's pages at a glance, for the rules and the operators: each
 * page's earliest timer (ms) and how many parked cases it holds, only pages
 * that have either. One small document per partition, written with the
 * pages, so finding what is due reads it and the due pages, never the rest.
 * It also names the pages of the partition's newest cases (`placed`, case id
 * → page, deflated JSON), up to `PLACED_IN_SUMMARY` of them, before they go
 * to the index pages: where a case is, is in one or the other.
 *
 * And it holds the partition's rolled marks (`rolled`, page key → the
 * summary's `rev` when a batch last wrote the partition's rollup or
 * correction pages of that key). Listings go by them: a listing reads the
 * partitions' summaries, one small document each, and reads again only the
 * pages of the partitions whose mark of its page key moved. A page key a
 * partition never wrote has no mark, and no pages there.
 */
export interface StoredSummary {
  _id: string;
  partition: number;
  rev: number;
  due: Record<string, number>;
  parked: Record<string, number>;
  /** Page id → its cases waiting for an earlier version, and when the earliest waiting event was recorded (ms). */
  waiting?: Record<string, { cases: number; since: number }>;
  placed?: Binary;
  rolled?: Record<string, number>;
}

interface Summary {
  readonly id: string;
  readonly partition: number;
  rev: number;
  due: Map<string, number>;
  parked: Map<string, number>;
  waiting: Map<string, { cases: number; since: number }>;
  placed: Map<string, string>;
  rolled: Map<string, number>;
  /** Whether `rolled` holds the partition's marks: false for a summary stored without them, or none stored. */
  marked: boolean;
}

/** A stored summary as its writer holds it (`d` absent: none stored yet). */
const summaryOfDoc = (partition: number, d: StoredSummary | null | undefined): Summary => ({
  id: summaryId(partition),
  partition,
  rev: d?.rev ?? 0,
  due: new Map(Object.entries(d?.due ?? {})),
  parked: new Map(Object.entries(d?.parked ?? {})),
  waiting: new Map(Object.entries(d?.waiting ?? {})),
  placed: placedIn(d),
  rolled: new Map(Object.entries(d?.rolled ?? {})),
  marked: d?.rolled !== undefined,
});

/** The places a stored summary names (none in a summary older than `placed`). */
const placedIn = (d: Pick<StoredSummary, 'placed'> | null | undefined): Map<string, string> =>
  new Map(d?.placed ? Object.entries(unzblob<Record<string, string>>(d.placed)) : []);
/** A summary without its places and marks: what the rules and operators read. */
const WITHOUT_PLACED = { projection: { placed: 0, rolled: 0 } } as const;

const summaryId = (partition: number) => `s${pad(partition, 4)}`;

/** Which page holds each case: a partition's cases spread over `INDEX_PAGES` pages by a hash of their ids. */
export interface StoredIndexPage {
  _id: string;
  rev: number;
  body: Binary;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
export const casePageId = (partition: number, seq: number) =>
  `c${pad(partition, 4)}-${pad(seq, 9)}`;
const seqOf = (pageId: string) => Number(pageId.slice(pageId.indexOf('-') + 1));

/** FNV-1a of the case id: which of its partition's index pages names it. */
function indexSlot(caseId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < caseId.length; i++) {
    h ^= caseId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % INDEX_PAGES;
}
export const indexPageId = (partition: number, caseId: string) =>
  `i${pad(partition, 4)}-${pad(indexSlot(caseId), 3)}`;

const blob = (value: unknown) => new Binary(Buffer.from(JSON.stringify(value)));
const unblob = <T>(b: Binary): T => JSON.parse(Buffer.from(b.buffer).toString('utf8')) as T;
/**
 * Pages compressed (raw deflate, fastest level): FerretDB's cost grows with
 * the bytes it converts, and JSON pages shrink about sixfold. A 32-case page
 * of 90 kB took 5 ms to read by `_id`; compressed, a fraction of that.
 */
const zblob = (value: unknown) => deflatedJson(JSON.stringify(value));
const unzblob = <T>(b: Binary): T => JSON.parse(inflated(b)) as T;
const inflated = inflatedJson;

/**
 * A case page as the writer holds it. Each record's JSON is kept as stored
 * (`lines`), so a write serializes only the records that changed; records
 * are parsed when asked for (`recordOf`), and their timers are known without
 * parsing them again (`due`). The writer keeps only the lines between
 * chunks: parsed records take two to three times their JSON.
 */
interface CasePage {
  readonly id: string;
  readonly partition: number;
  rev: number;
  /** Case id → its record's JSON as stored (without `_id` and `page`), in page order. */
  lines: Map<string, string>;
  /** Case id → its timer (ms), `null` without one, `'parked'` when parked. */
  due: Map<string, number | null | 'parked'>;
  /** Case id → when its earliest event waiting for an earlier version was recorded (ms), for those that have one. */
  waiting: Map<string, number>;
  /** Records parsed when the page was read (readers; the writer keeps none). */
  parsed: Map<string, CaseDoc>;
  /** Its stored size, to bound what the writer keeps. */
  bytes: number;
}

interface IndexPage {
  readonly id: string;
  rev: number;
  entries: Map<string, string>;
}

const dueOf = (r: CaseRecord): number | null | 'parked' =>
  r.parked ? 'parked' : (r.timer ?? null);

/** When the earliest of a record's events waiting for an earlier version was recorded (ms); undefined when none waits. */
const waitingSince = (r: CaseRecord): number | undefined => earliestRecordedMs(r.pending);

function parseRecord(pageId: string, id: string, line: string): CaseDoc {
  const r = JSON.parse(line) as CaseDoc & { updatedAt?: string };
  return {
    ...r,
    _id: id,
    page: pageId,
    ...(r.updatedAt ? { updatedAt: new Date(r.updatedAt) } : {}),
  };
}

/** A record of the page: as parsed when it was read, or parsed now. */
function recordOf(p: CasePage, id: string): CaseDoc | undefined {
  const known = p.parsed.get(id);
  if (known) return known;
  const line = p.lines.get(id);
  return line === undefined ? undefined : parseRecord(p.id, id, line);
}

const recordsOf = (p: CasePage): CaseDoc[] =>
  [...p.lines.keys()].flatMap((id) => recordOf(p, id) ?? []);

/**
 * A page's body splits into records without parsing it: it is written as
 * one JSON object with a record per line (`{`, `"id":{…},` …, `}`), and JSON
 * text holds no raw line break. Pages written whole on one line (before
 * 2026-12-03) are parsed whole.
 */
function splitBody(json: string): Map<string, string> {
  const lines = new Map<string, string>();
  if (!json.startsWith('{\n')) {
    for (const [id, r] of Object.entries(JSON.parse(json) as Record<string, unknown>))
      lines.set(id, JSON.stringify(r));
    return lines;
  }
  for (const line of json.split('\n')) {
    if (!line.startsWith('"')) continue;
    // The key is a JSON string: it ends at the first quote not escaped.
    let end = 1;
    while (end < line.length && line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
    if (line[end + 1] !== ':')
      throw new Error(`case page line without a key: ${line.slice(0, 80)}`);
    const id = JSON.parse(line.slice(0, end + 1)) as string;
    lines.set(id, line.slice(end + 2, line.endsWith(',') ? -1 : undefined));
  }
  return lines;
}

/**
 * A stored page as the writer holds it; `only`: just those cases' records
 * are parsed (readers), where the writer learns every record's timer.
 */
function readCasePage(s: StoredCasePage, only?: ReadonlySet<string>): CasePage {
  const json = inflated(s.body);
  const lines = splitBody(json);
  const page: CasePage = {
    id: s._id,
    partition: s.partition,
    rev: s.rev,
    lines,
    due: new Map(),
    waiting: new Map(),
    parsed: new Map(),
    bytes: json.length,
  };
  for (const [id, line] of lines) {
    if (only && !only.has(id)) continue;
    const r = parseRecord(page.id, id, line);
    page.parsed.set(id, r);
    if (only) continue;
    page.due.set(id, dueOf(r));
    const since = waitingSince(r);
    if (since !== undefined) page.waiting.set(id, since);
  }
  return page;
}

/** Records stored in a page's body, one per line (see `splitBody`). */
const bodyOf = (lines: ReadonlyMap<string, string>): string =>
  `{\n${[...lines].map(([id, line]) => `${JSON.stringify(id)}:${line}`).join(',\n')}\n}`;

/** A page as stored, and the length of its JSON (what the writer's cache counts). */
function storeCasePage(p: CasePage, rev: number): { stored: StoredCasePage; bytes: number } {
  let nextAt: number | null = null;
  let parked = 0;
  for (const d of p.due.values()) {
    if (d === 'parked') parked++;
    else if (d !== null && (nextAt === null || d < nextAt)) nextAt = d;
  }
  const json = bodyOf(p.lines);
  const since = p.waiting.size > 0 ? Math.min(...p.waiting.values()) : undefined;
  return {
    stored: {
      _id: p.id,
      partition: p.partition,
      rev,
      nextAt: nextAt === null ? null : new Date(nextAt),
      parked,
      ...(since !== undefined ? { waiting: { cases: p.waiting.size, since } } : {}),
      body: deflatedJson(json),
    },
    bytes: json.length,
  };
}

const readIndexPage = (s: StoredIndexPage): IndexPage => ({
  id: s._id,
  rev: s.rev,
  entries: new Map(Object.entries(unblob<Record<string, string>>(s.body))),
});

/**
 * How many bytes of pages (as JSON) a writer keeps between chunks (it is
 * their only writer while it holds their partition). It keeps them as their
 * records' JSON, about that in the heap (parsed, they took two to three
 * times that).
 */
const WRITER_CACHE_BYTES = 24 * 1024 * 1024;
/** Rollup pages readers keep parsed, in bytes of their JSON (see `listingPages`). */
const READ_PAGES_BYTES = 16 * 1024 * 1024;
/** How many cases' pages readers remember (about 100 bytes each). */
const LOCATIONS_KEPT = 200_000;
/** Folded listings readers keep (see `listing`), in bytes of their JSON. */
const LISTINGS_BYTES = 16 * 1024 * 1024;
/** Partitions' slices of page keys a reader remembers the marks of (a few dozen bytes each). */
const SLICES = 20_000;

/**
 * About how many bytes `rows` take as JSON, from up to 16 of them spread
 * over the list: a listing's rows are alike, and a listing of tens of
 * thousands is sized without writing it out.
 */
function jsonBytes(rows: readonly unknown[]): number {
  const step = Math.max(1, Math.floor(rows.length / 16));
  let sampled = 0;
  let bytes = 0;
  for (let i = 0; i < rows.length; i += step) {
    bytes += JSON.stringify(rows[i]).length + 1;
    sampled++;
  }
  return sampled === 0 ? 2 : Math.ceil((bytes / sampled) * rows.length) + 2;
}

/**
 * A rollup page as stored: its rows as one JSON blob, for the same reason.
 * A correction page also holds each corrected case's part (`cases`, case
 * id → its version and rows), which its writers merge; readers read `rows`,
 * the parts added up.
 */
export interface StoredPage {
  _id: string;
  listKey: string;
  hw: number;
  rows: Binary;
  cases?: Binary;
}

type StoredParts = Record<string, { v: number; rows: RollupPageRow[] }>;

const packPage = (p: RollupPage): StoredPage => ({ ...p, rows: zblob(p.rows) });
export const unpackPage = (s: StoredPage): RollupPage => ({
  _id: s._id,
  listKey: s.listKey,
  hw: s.hw,
  rows: unzblob(s.rows),
});
/** What readers take of a page: not the parts a correction page keeps for its writers. */
const WITHOUT_PARTS = { projection: { cases: 0 } } as const;

/** The parts' rows added up, a row per rollup. */
function addedUp(parts: StoredParts): RollupPageRow[] {
  const rows = new Map<string, RollupPageRow>();
  for (const part of Object.values(parts))
    for (const r of part.rows) {
      const sum = rows.get(r.id) ?? { ...r, values: {} };
      for (const [k, n] of Object.entries(r.values)) sum.values[k] = (sum.values[k] ?? 0) + n;
      rows.set(r.id, sum);
    }
  return [...rows.values()];
}

export interface OrderDoc extends OrderView {
  _id: string;
  caseId: string;
  agencyId: string;
  /** The case's version this state stands at. */
  caseVersion: number;
  /** Its actions the case's history no longer calls for (`unwarrantedOn`); absent: none. */
  unwarrantedActions?: readonly string[];
  /**
   * What listings filter on, each by equality (FerretDB hands an equality
   * to PostgreSQL, where a range or a sort makes it decode every document):
   * the UTC week the order was opened in (`weekOf`), where it stands (the
   * contract's OrderStatus), whether it awaits an answer, and whether it
   * has an action its case's history no longer calls for.
   */
  week: string;
  status: number;
  unanswered: boolean;
  unwarranted: boolean;
}

/** How many of the latest weeks a listing reads one at a time before reading the rest together. */
const WEEKS_ALONE = 3;

/** A week holding orders: listings read the orders a week at a time, the latest first. */
interface OrderWeekDoc {
  _id: string;
}

/**
 * The week of its month an ISO moment falls in (UTC), named by its first
 * day: days 1 to 8, 9 to 16, 17 to 24, and 25 to the month's end, so
 * `2024-03-17` holds 17 to 24 March. Names sort as the weeks do.
 */
export function weekOf(iso: string): string {
  const day = new Date(iso).toISOString().slice(0, 10);
  const first = 1 + 8 * Math.floor((Number(day.slice(8)) - 1) / 8);
  return `${day.slice(0, 8)}${String(first).padStart(2, '0')}`;
}

/** An order as the order list stores it, with the fields listings filter on. */
export function orderDocOf(c: Omit<CaseOrders, 'orders'>, o: OrderView): OrderDoc {
  const listed = listedOrderOf(c, o);
  return {
    ...listed,
    _id: `${c.caseId}/${o.orderId}`,
    caseVersion: c.caseVersion,
    week: weekOf(o.openedAt),
    status: orderStatusOf(o),
    unanswered: !o.answeredAt,
    unwarranted: listed.unwarrantedActions !== undefined,
  };
}

/** A case with an action due, as the rules read it: its record, and the moment its next action falls due. */
export interface DueCase {
  readonly record: CaseDoc;
  readonly at: number;
}

export class CaseConflict extends Error {}

/** Sizes a deployment never changes; tests make them small to reach their edges. */
export interface ReadModelLimits {
  readonly casesPerPage?: number;
  readonly placedInSummary?: number;
  /** Rollup pages a reader keeps parsed, in bytes of their JSON. */
  readonly readPagesBytes?: number;
  /** Folded listings a reader keeps, in bytes of their JSON. */
  readonly listingsBytes?: number;
}

/**
 * The scoring read models on MongoDB / FerretDB. `prefix` names one
 * generation of them: a rebuild fills a new prefix and then becomes active.
 * `partitionOf` is the case-events partition a case's events go to (whose
 * consumer alone writes its record).
 */
export class ReadModels {
  readonly casePages: Collection<StoredCasePage>;
  readonly caseIndex: Collection<StoredIndexPage>;
  readonly summaries: Collection<StoredSummary>;
  readonly rollups: PartitionedCollection<StoredPage>;
  /**
   * Through layout 8, pages that releases wrote, listed for readers; a
   * layout-9 generation has none (released shares ride on the correction
   * pages). Kept by name so that dropping an older generation drops it.
   */
  private readonly extraPages: Collection;
  readonly orders: Collection<OrderDoc>;
  readonly orderWeekNames: Collection<OrderWeekDoc>;
  /** Weeks this process knows hold orders (a week, once named, stays). */
  private readonly weeksNamed = new Set<string>();
  /** Corrections waiting for their case's partition: few, and gone once applied. */
  readonly corrections: Collection<CorrectionRequest>;
  /** The writer's pages as it last wrote or read them, least recently used first. */
  private readonly written = new Map<string, CasePage>();
  private writtenBytes = 0;
  private readonly indexes = new Map<string, IndexPage>();
  private readonly summaryOf = new Map<number, Summary>();
  /** Where readers found cases (case id → page): a case never moves. */
  private readonly located = new Map<string, string>();
  /** Each partition's last page, which new cases fill. */
  private readonly lastPage = new Map<number, string>();
  /** Rollup pages listings read, with the mark each was read at (see `listingPages`). */
  private readonly readPages = new Map<string, { page: RollupPage; bytes: number }>();
  private readPagesBytes = 0;
  /** Listings as the caller folded them, with the marks of the pages they were folded from. */
  private readonly listings = new Map<
    string,
    { marks: string; rows: readonly unknown[]; bytes: number }
  >();
  private listingsBytes = 0;
  /**
   * Each partition's pages of a page key as a listing last read them
   * (`<pageKey>|p<n>`): the rolled mark they were read at, and each page's
   * own mark then (-1: absent), in pagesOfPartition's order.
   */
  private readonly slices = new Map<string, { mark: number; hw: number[] }>();
  /** The whole index, read once from `init` (see `getCases`). */
  private learning: Promise<void> | undefined;
  private readonly casesPerPage: number;
  private readonly placedMax: number;
  private readonly readPagesMax: number;
  private readonly listingsMax: number;

  constructor(
    db: Db,
    readonly prefix: string,
    buckets: number,
    private readonly partitionOf: (caseId: string) => number,
    limits: ReadModelLimits = {},
  ) {
    this.casesPerPage = limits.casesPerPage ?? CASES_PER_PAGE;
    this.placedMax = limits.placedInSummary ?? PLACED_IN_SUMMARY;
    this.readPagesMax = limits.readPagesBytes ?? READ_PAGES_BYTES;
    this.listingsMax = limits.listingsBytes ?? LISTINGS_BYTES;
    this.casePages = db.collection<StoredCasePage>(`${prefix}case_pages`);
    this.caseIndex = db.collection<StoredIndexPage>(`${prefix}case_index`);
    this.summaries = db.collection<StoredSummary>(`${prefix}case_summaries`);
    this.rollups = new PartitionedCollection<StoredPage>(
      db,
      `${prefix}rollup_pages`,
      Math.max(1, Math.floor(buckets / 2)),
    );
    this.extraPages = db.collection(`${prefix}rollup_extra_pages`);
    this.orders = db.collection<OrderDoc>(`${prefix}orders`);
    this.orderWeekNames = db.collection<OrderWeekDoc>(`${prefix}order_weeks`);
    this.corrections = db.collection<CorrectionRequest>(`${prefix}corrections`);
  }

  async init(): Promise<void> {
    await this.orders.createIndex({ week: 1, agencyId: 1 });
    await this.corrections.createIndex({ partition: 1 });
    // Where the cases stored so far are, learned while the service starts.
    this.learning ??= this.learnIndex();
  }

  async drop(): Promise<void> {
    await this.casePages.drop().catch(() => undefined);
    await this.caseIndex.drop().catch(() => undefined);
    await this.summaries.drop().catch(() => undefined);
    await this.rollups.drop();
    await this.extraPages.drop().catch(() => undefined);
    await this.orders.drop().catch(() => undefined);
    await this.orderWeekNames.drop().catch(() => undefined);
    this.weeksNamed.clear();
    await this.corrections.drop().catch(() => undefined);
  }

  async requestCorrections(requests: readonly CorrectionRequest[]): Promise<void> {
    await this.corrections
      .insertMany(
        requests.map((r) => ({ ...r })),
        { ordered: false },
      )
      // Asked before (a replayed batch): the request stands, or was applied already.
      .catch(ignoreDuplicates);
  }

  correctionsFor(partition: number): Promise<CorrectionRequest[]> {
    return this.corrections.find({ partition, refused: { $exists: false } }).toArray();
  }

  async correctionsDone(reviewIds: readonly string[]): Promise<void> {
    await this.corrections.deleteMany({ _id: { $in: [...reviewIds] } });
  }

  async correctionRefused(id: string, refusal: Refusal): Promise<void> {
    await this.corrections.updateOne({ _id: id }, { $set: { refused: refusal } });
  }

  /** A left request as stored: asked, refused, or gone (null) once applied. */
  correctionRequest(id: string): Promise<CorrectionRequest | null> {
    return this.corrections.findOne({ _id: id });
  }

  /**
   * The cases whose later events wait for an earlier version, and when the
   * earliest waiting event was recorded: every partition's, as its summary
   * has them, whichever instance applies it, and after a restart.
   */
  async waiting(): Promise<{ cases: number; earliestMs: number | undefined }> {
    let cases = 0;
    let earliestMs: number | undefined;
    for (const d of await this.summaries.find({}, { projection: { waiting: 1 } }).toArray())
      for (const w of Object.values(d.waiting ?? {})) {
        cases += w.cases;
        if (earliestMs === undefined || w.since < earliestMs) earliestMs = w.since;
      }
    return { cases, earliestMs };
  }

  /**
   * Parked cases, oldest first, at most `limit`, and how many in all: the
   * pages the partitions' summaries say hold any (parking is rare; callers
   * keep the answer a while).
   */
  async parkedCases(limit: number): Promise<{ cases: CaseDoc[]; total: number }> {
    const pageIds = (await this.summaries.find({}, WITHOUT_PLACED).toArray()).flatMap((d) =>
      Object.keys(d.parked),
    );
    const pages =
      pageIds.length === 0 ? [] : await this.casePages.find({ _id: { $in: pageIds } }).toArray();
    const found = pages
      .flatMap((p) => recordsOf(readCasePage(p)))
      .filter((r) => r.parked)
      .sort((a, b) => (a.updatedAt?.getTime() ?? 0) - (b.updatedAt?.getTime() ?? 0));
    return { cases: found.slice(0, limit), total: found.length };
  }

  async getCase(caseId: string): Promise<CaseDoc | null> {
    return (await this.getCases([caseId])).get(caseId) ?? null;
  }

  /**
   * The stored records of these cases, as they are now: their pages, each
   * read once by `_id`. A case never moves from the page the index first
   * names, so where cases are stays known (up to `LOCATIONS_KEPT` cases): the
   * whole index is read once, in the background, from `init`; the index
   * pages written here and those read for a case not yet known add theirs.
   * A known case costs one read.
   */
  async getCases(caseIds: readonly string[]): Promise<Map<string, CaseDoc>> {
    const ids = [...new Set(caseIds)];
    const unknown = ids.filter((id) => !this.located.has(id));
    if (unknown.length > 0) {
      const indexIds = [...new Set(unknown.map((id) => indexPageId(this.partitionOf(id), id)))];
      const summaryIds = [...new Set(unknown.map((id) => summaryId(this.partitionOf(id))))];
      const [index, summaries] = await Promise.all([
        this.caseIndex.find({ _id: { $in: indexIds } }).toArray(),
        this.summaries.find({ _id: { $in: summaryIds } }, { projection: { placed: 1 } }).toArray(),
      ]);
      for (const p of index)
        for (const [id, page] of readIndexPage(p).entries) this.locate(id, page);
      for (const d of summaries) for (const [id, page] of placedIn(d)) this.locate(id, page);
    }
    const pageIds = [...new Set(ids.flatMap((id) => this.located.get(id) ?? []))];
    const found = new Map<string, CaseDoc>();
    if (pageIds.length === 0) return found;
    const wanted = new Set(ids);
    for (const p of await this.casePages.find({ _id: { $in: pageIds } }).toArray()) {
      const page = readCasePage(p, wanted);
      for (const id of wanted) {
        const r = page.parsed.get(id);
        if (r) found.set(id, r);
      }
    }
    return found;
  }

  /** Settles once the index read from `init` is done. */
  learned(): Promise<void> {
    return this.learning ?? Promise.resolve();
  }

  /** Every index page, read once a page at a time: where each case stored so far is. */
  private async learnIndex(): Promise<void> {
    try {
      // The summaries' places first: a writer that lost its partition may
      // have named a case in an index page since, which they outrank.
      for (const d of await this.summaries.find({}, { projection: { placed: 1 } }).toArray())
        for (const [id, page] of placedIn(d)) if (!this.located.has(id)) this.locate(id, page);
      for await (const p of this.caseIndex.find({}, { batchSize: 16 }))
        for (const [id, page] of readIndexPage(p).entries)
          if (!this.located.has(id)) this.locate(id, page);
    } catch {
      // Only a head start: cases not learned here are found through their index page.
    }
  }

  private locate(caseId: string, page: string): void {
    this.located.delete(caseId);
    this.located.set(caseId, page);
    if (this.located.size > LOCATIONS_KEPT) {
      const oldest = this.located.keys().next();
      if (!oldest.done) this.located.delete(oldest.value);
    }
  }

  /**
   * The writer's view of its partition's cases: from the pages it holds, the
   * rest read as `getCases` does (their pages kept for the write).
   */
  async casesForWrite(
    partition: number,
    caseIds: readonly string[],
  ): Promise<Map<string, CaseDoc>> {
    const found = new Map<string, CaseDoc>();
    const [index, summary] = await Promise.all([
      this.indexPages(caseIds.map((id) => indexPageId(partition, id))),
      this.summaryFor(partition),
    ]);
    const where = new Map<string, string>();
    for (const id of caseIds) {
      const page = summary.placed.get(id) ?? index.get(indexPageId(partition, id))?.entries.get(id);
      if (page) where.set(id, page);
    }
    const pages = await this.pagesForWrite(partition, [...new Set(where.values())]);
    for (const [id, pageId] of where) {
      const page = pages.get(pageId);
      const r = page && recordOf(page, id);
      if (r) found.set(id, r);
    }
    return found;
  }

  private async indexPages(ids: readonly string[]): Promise<Map<string, IndexPage>> {
    const out = new Map<string, IndexPage>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const known = this.indexes.get(id);
      if (known) out.set(id, known);
      else missing.push(id);
    }
    if (missing.length > 0) {
      for (const p of await this.caseIndex.find({ _id: { $in: missing } }).toArray()) {
        const page = readIndexPage(p);
        this.indexes.set(page.id, page);
        out.set(page.id, page);
      }
      for (const id of missing)
        if (!out.has(id)) {
          const page = { id, rev: 0, entries: new Map<string, string>() };
          this.indexes.set(id, page);
          out.set(id, page);
        }
    }
    return out;
  }

  private async pagesForWrite(
    partition: number,
    ids: readonly string[],
  ): Promise<Map<string, CasePage>> {
    const out = new Map<string, CasePage>();
    const missing: string[] = [];
    for (const id of ids) {
      const known = this.written.get(id);
      if (known) out.set(id, known);
      else missing.push(id);
    }
    if (missing.length > 0)
      for (const p of await this.casePages.find({ _id: { $in: missing } }).toArray()) {
        const page = readCasePage(p);
        // Kept as lines: the records the writer asks for are parsed again.
        page.parsed = new Map();
        this.keep(page);
        out.set(page.id, page);
      }
    for (const id of ids)
      if (!out.has(id)) {
        // Named by the index, not written yet (a crash between the two writes): it starts empty.
        const page: CasePage = {
          id,
          partition,
          rev: 0,
          lines: new Map(),
          due: new Map(),
          waiting: new Map(),
          parsed: new Map(),
          bytes: 0,
        };
        out.set(id, page);
      }
    return out;
  }

  private keep(page: CasePage): void {
    const before = this.written.get(page.id);
    if (before) this.writtenBytes -= before.bytes;
    this.written.delete(page.id);
    this.written.set(page.id, page);
    this.writtenBytes += page.bytes;
    while (this.writtenBytes > WRITER_CACHE_BYTES && this.written.size > 1) {
      const [oldest, p] = this.written.entries().next().value as [string, CasePage];
      this.written.delete(oldest);
      this.writtenBytes -= p.bytes;
    }
  }

  /** The partition's last page, which new cases fill: remembered, or found by an `_id` range. */
  private async lastPageOf(partition: number): Promise<string | undefined> {
    const known = this.lastPage.get(partition);
    if (known) return known;
    const [last] = await this.casePages
      .find(
        { _id: { $gte: casePageId(partition, 0), $lte: casePageId(partition, 999_999_999) } },
        { projection: { _id: 1 } },
      )
      .sort({ _id: -1 })
      .limit(1)
      .toArray();
    if (last) this.lastPage.set(partition, last._id);
    return last?._id;
  }

  /**
   * Writes a partition's changed case records: each page they are on once,
   * whole, provided it is still at the revision it was read at. New cases
   * fill the partition's last page and then new ones, and the index names
   * them first: a crash in between leaves a case named on a page that lacks
   * it, which reads as a case not seen yet. A page that moved meanwhile (a
   * writer that lost the partition, or a write whose answer was lost) is a
   * CaseConflict: the caller forgets what it knew and applies its batch again.
   */
  async writeCases(
    partition: number,
    records: readonly CaseDoc[],
    rolled: readonly string[] = [],
  ): Promise<void> {
    if (records.length === 0 && rolled.length === 0) return;
    try {
      await this.writeCasesOnce(partition, records, rolled);
    } catch (e) {
      this.forget();
      throw e;
    }
  }

  private async writeCasesOnce(
    partition: number,
    records: readonly CaseDoc[],
    rolled: readonly string[],
  ): Promise<void> {
    const now = new Date();
    const summary = await this.summaryFor(partition);
    // New cases' places go into the summary; past `placedMax`, to the index pages.
    const placedNext = new Map(summary.placed);
    const fresh = records.filter((r) => !r.page);
    const placed = new Map<string, string>();
    if (fresh.length > 0) {
      const index = await this.indexPages(fresh.map((r) => indexPageId(partition, r._id)));
      // A case named already (its page write was lost): it stays there.
      const unplaced: CaseDoc[] = [];
      for (const r of fresh) {
        const named =
          placedNext.get(r._id) ?? index.get(indexPageId(partition, r._id))?.entries.get(r._id);
        if (named) placed.set(r._id, named);
        else unplaced.push(r);
      }
      let last = await this.lastPageOf(partition);
      let room = 0;
      if (last) {
        const [page] = (await this.pagesForWrite(partition, [last])).values();
        room = this.casesPerPage - (page?.lines.size ?? 0);
      }
      for (const r of unplaced) {
        if (!last || room <= 0) {
          last = casePageId(partition, last ? seqOf(last) + 1 : 0);
          room = this.casesPerPage;
        }
        room--;
        placed.set(r._id, last);
        placedNext.set(r._id, last);
      }
      if (last) this.lastPage.set(partition, last);
    }
    if (placedNext.size > this.placedMax) {
      // The index pages first: until the summary that drops the places is
      // written, both name them (the same pages).
      await this.writeIndex(await this.indexed(partition, placedNext));
      placedNext.clear();
    }
    const byPage = new Map<string, CaseDoc[]>();
    for (const r of records) {
      const page = r.page ?? placed.get(r._id);
      if (!page) throw new Error(`no page for case ${r._id}`);
      const list = byPage.get(page);
      if (list) list.push(r);
      else byPage.set(page, [r]);
    }
    const pages = await this.pagesForWrite(partition, [...byPage.keys()]);
    const writes = [...byPage].map(([pageId, list]) => {
      const page = pages.get(pageId);
      if (!page) throw new Error(`page ${pageId} not read`);
      const next: CasePage = {
        ...page,
        rev: page.rev + 1,
        lines: new Map(page.lines),
        due: new Map(page.due),
        waiting: new Map(page.waiting),
        parsed: new Map(),
      };
      for (const r of list) {
        const record: CaseDoc = { ...r, page: pageId, updatedAt: now };
        const { _id: _omitId, page: _omitPage, ...rest } = record;
        next.lines.set(r._id, JSON.stringify(rest));
        next.due.set(r._id, dueOf(record));
        const since = waitingSince(record);
        if (since === undefined) next.waiting.delete(r._id);
        else next.waiting.set(r._id, since);
      }
      const { stored, bytes } = storeCasePage(next, next.rev);
      next.bytes = bytes;
      return { page, next, stored };
    });
    // The summary goes first: a crash before the pages are written replays
    // the batch, which writes them, and the summary again, as it says; a new
    // case it names on a page that lacks it reads as a case not seen yet.
    await this.writeSummary(
      summary,
      writes.map((w) => w.stored),
      placedNext,
      rolled,
    );
    let conflict: string | undefined;
    await settled(
      writes.map(async ({ page, next, stored }) => {
        const pageId = page.id;
        if (page.rev === 0) {
          try {
            await this.casePages.insertOne(stored);
          } catch (e) {
            if (!isDuplicateKey(e)) throw e;
            conflict = pageId;
            return;
          }
        } else {
          const r = await this.casePages.replaceOne({ _id: pageId, rev: page.rev }, stored);
          if (r.matchedCount === 0) {
            conflict = pageId;
            return;
          }
        }
        this.keep(next);
      }),
    );
    if (conflict !== undefined) throw new CaseConflict(conflict);
  }

  /** The index pages that change when these places (case id → page) are added to them. */
  private async indexed(
    partition: number,
    places: ReadonlyMap<string, string>,
  ): Promise<IndexPage[]> {
    const index = await this.indexPages([...places.keys()].map((id) => indexPageId(partition, id)));
    const changed = new Map<string, IndexPage>();
    for (const [id, page] of places) {
      const ip = index.get(indexPageId(partition, id));
      if (!ip) throw new Error(`index page of ${id} not read`);
      if (ip.entries.get(id) === page) continue;
      ip.entries.set(id, page);
      changed.set(ip.id, ip);
    }
    return [...changed.values()];
  }

  /** The partition's summary as its writer holds it: read once, then kept with each write. */
  private async summaryFor(partition: number): Promise<Summary> {
    const [summary] = await this.summariesFor([partition]);
    if (!summary) throw new Error(`summary of partition ${partition} not read`);
    return summary;
  }

  /**
   * These partitions' summaries as their writer holds them, the ones not
   * held read together. One read meanwhile (a batch's, a listing's) does
   * not replace what the other kept: the first kept stays, with whatever
   * the writer wrote since.
   */
  private async summariesFor(partitions: readonly number[]): Promise<Summary[]> {
    const missing = partitions.filter((p) => !this.summaryOf.has(p));
    if (missing.length > 0) {
      const docs = new Map(
        (await this.summaries.find({ _id: { $in: missing.map(summaryId) } }).toArray()).map((d) => [
          d._id,
          d,
        ]),
      );
      for (const p of missing)
        if (!this.summaryOf.has(p)) this.summaryOf.set(p, summaryOfDoc(p, docs.get(summaryId(p))));
    }
    return partitions.map((p) => {
      const summary = this.summaryOf.get(p);
      if (!summary) throw new Error(`summary of partition ${p} not read`);
      return summary;
    });
  }

  /**
   * Notes the pages' due and parked counts, the new cases' places and the
   * page keys rolled, in their partition's summary, written if it changed.
   */
  private async writeSummary(
    summary: Summary,
    pages: readonly StoredCasePage[],
    placed: ReadonlyMap<string, string>,
    rolled: readonly string[],
  ): Promise<void> {
    let changed =
      rolled.length > 0 ||
      placed.size !== summary.placed.size ||
      [...placed].some(([id, page]) => summary.placed.get(id) !== page);
    const set = (m: Map<string, number>, id: string, v: number | null) => {
      if ((m.get(id) ?? null) === v) return;
      changed = true;
      if (v === null) m.delete(id);
      else m.set(id, v);
    };
    for (const p of pages) {
      set(summary.due, p._id, p.nextAt ? p.nextAt.getTime() : null);
      set(summary.parked, p._id, p.parked > 0 ? p.parked : null);
      const was = summary.waiting.get(p._id);
      if (was?.cases !== p.waiting?.cases || was?.since !== p.waiting?.since) {
        changed = true;
        if (p.waiting) summary.waiting.set(p._id, p.waiting);
        else summary.waiting.delete(p._id);
      }
    }
    if (!changed) return;
    summary.placed = new Map(placed);
    for (const pageKey of rolled) summary.rolled.set(pageKey, summary.rev + 1);
    summary.marked = true;
    const stored: StoredSummary = {
      _id: summary.id,
      partition: summary.partition,
      rev: summary.rev + 1,
      due: Object.fromEntries(summary.due),
      parked: Object.fromEntries(summary.parked),
      ...(summary.waiting.size > 0 ? { waiting: Object.fromEntries(summary.waiting) } : {}),
      ...(placed.size > 0 ? { placed: zblob(Object.fromEntries(placed)) } : {}),
      rolled: Object.fromEntries(summary.rolled),
    };
    if (summary.rev === 0) {
      try {
        await this.summaries.insertOne(stored);
      } catch (e) {
        if (!isDuplicateKey(e)) throw e;
        throw new CaseConflict(summary.id);
      }
    } else if (
      (await this.summaries.replaceOne({ _id: summary.id, rev: summary.rev }, stored))
        .matchedCount === 0
    )
      throw new CaseConflict(summary.id);
    summary.rev++;
  }

  private async writeIndex(pages: readonly IndexPage[]): Promise<void> {
    let conflict: string | undefined;
    await settled(
      pages.map(async (p) => {
        const stored = { _id: p.id, rev: p.rev + 1, body: blob(Object.fromEntries(p.entries)) };
        if (p.rev === 0) {
          try {
            await this.caseIndex.insertOne(stored);
          } catch (e) {
            if (!isDuplicateKey(e)) throw e;
            conflict = p.id;
            return;
          }
        } else if (
          (await this.caseIndex.replaceOne({ _id: p.id, rev: p.rev }, stored)).matchedCount === 0
        ) {
          conflict = p.id;
          return;
        }
        p.rev++;
        for (const [id, page] of p.entries) if (!this.located.has(id)) this.locate(id, page);
      }),
    );
    if (conflict !== undefined) throw new CaseConflict(conflict);
  }

  /** What the writer held may be stale (its partitions moved, or a write failed): read the store again. */
  forget(): void {
    this.written.clear();
    this.writtenBytes = 0;
    this.indexes.clear();
    this.summaryOf.clear();
    this.lastPage.clear();
  }

  /**
   * The cases with an action due by `until`, earliest first: the partitions'
   * summaries name the pages whose earliest timer is due, and those pages,
   * read by `_id`, their due, unparked cases. `partitions` keeps only those
   * partitions' pages.
   */
  async dueCases(until: number, partitions?: readonly number[]): Promise<DueCase[]> {
    const summaries = await this.summaries
      .find(partitions ? { _id: { $in: partitions.map(summaryId) } } : {}, WITHOUT_PLACED)
      .toArray();
    const pageIds = summaries.flatMap((d) =>
      Object.entries(d.due).flatMap(([id, at]) => (at <= until ? [id] : [])),
    );
    const due: DueCase[] = [];
    if (pageIds.length === 0) return due;
    // Pages this writer holds are as it stored them, each record's timer
    // known: only the due records are parsed, and nothing is read.
    const unheld: string[] = [];
    for (const id of pageIds) {
      const page = this.written.get(id);
      if (!page) {
        unheld.push(id);
        continue;
      }
      for (const [caseId, at] of page.due) {
        if (at === null || at === 'parked' || at > until) continue;
        const r = recordOf(page, caseId);
        if (r) due.push({ record: r, at });
      }
    }
    if (unheld.length > 0)
      for (const p of await this.casePages.find({ _id: { $in: unheld } }).toArray())
        for (const r of recordsOf(readCasePage(p)))
          if (!r.parked && r.timer !== undefined && r.timer !== null && r.timer <= until)
            due.push({ record: r, at: r.timer });
    return due.sort((a, b) => a.at - b.at || a.record._id.localeCompare(b.record._id));
  }

  /** These rollup pages as stored, read together (a query per bucket). */
  private async storedPages(
    ids: readonly { id: string; listKey: string }[],
  ): Promise<Map<string, StoredPage>> {
    const out = new Map<string, StoredPage>();
    await Promise.all(
      [...this.rollups.group(ids, (x) => x.listKey)].map(async ([bucket, list]) => {
        for (const d of await this.rollups
          .at(bucket)
          .find({ _id: { $in: list.map((x) => x.id) } })
          .toArray())
          out.set(d._id, d);
      }),
    );
    return out;
  }

  async rollupPages(
    ids: readonly { id: string; listKey: string }[],
  ): Promise<Map<string, RollupPage>> {
    const out = new Map<string, RollupPage>();
    for (const [id, d] of await this.storedPages(ids)) out.set(id, unpackPage(d));
    return out;
  }

  /**
   * Writes pages whole: new ones together (one insert per bucket), the
   * others each replaced provided it still holds the mark it was read with.
   * A page that moved meanwhile (a writer that lost its partition, or this
   * one's earlier write whose answer was lost) is a CaseConflict: the batch
   * is read again and retried.
   */
  async writeRollupPages(writes: readonly RollupPageWrite[]): Promise<void> {
    const fresh = writes.filter((w) => w.fromMark < 0).map((w) => w.page);
    let conflict: string | undefined;
    await settled([
      ...[...this.rollups.group(fresh, (p) => p.listKey)].map(async ([bucket, list]) => {
        try {
          await this.rollups.at(bucket).insertMany(list.map(packPage), { ordered: false });
        } catch (e) {
          if (!onlyDuplicates(e)) throw e;
          conflict = list[0]?._id;
        }
      }),
      ...writes
        .filter((w) => w.fromMark >= 0)
        .map(async ({ page, fromMark }) => {
          const r = await this.rollups
            .for(page.listKey)
            .replaceOne({ _id: page._id, hw: fromMark }, packPage(page));
          if (r.matchedCount === 0) conflict = page._id;
        }),
    ]);
    if (conflict !== undefined) throw new CaseConflict(conflict);
  }

  /**
   * Puts corrected cases' parts on the partition's correction pages: reads
   * the pages, merges (a case's part replaced by a later version's only),
   * and writes each page whole over the mark it was read at, the parts
   * added up beside them for readers. A page that moved meanwhile (a writer
   * that lost the partition) is a CaseConflict: the batch is read again and
   * retried.
   */
  async writeCorrections(
    partition: number,
    parts: ReadonlyMap<string, readonly CorrectionPart[]>,
  ): Promise<void> {
    const ids = [...parts.keys()].map((pageKey) => ({
      id: correctionPageIdOf(pageKey, partition),
      listKey: pageKey,
    }));
    const stored = new Map<string, { hw: number; parts: StoredParts }>();
    for (const [id, d] of await this.storedPages(ids))
      stored.set(id, { hw: d.hw, parts: d.cases ? unzblob<StoredParts>(d.cases) : {} });
    let conflict: string | undefined;
    await settled(
      ids.map(async ({ id, listKey }) => {
        const before = stored.get(id);
        const merged: StoredParts = { ...before?.parts };
        let moved = false;
        for (const part of parts.get(listKey) ?? []) {
          if ((merged[part.caseId]?.v ?? -1) >= part.version) continue;
          merged[part.caseId] = { v: part.version, rows: [...part.rows] };
          moved = true;
        }
        if (!moved) return;
        const doc: StoredPage = {
          _id: id,
          listKey,
          hw: (before?.hw ?? 0) + 1,
          rows: zblob(addedUp(merged)),
          cases: zblob(merged),
        };
        const pages = this.rollups.for(listKey);
        if (!before) {
          await pages.insertOne(doc).catch((e: unknown) => {
            if (!isDuplicateKey(e)) throw e;
            conflict = id;
          });
          return;
        }
        const r = await pages.replaceOne({ _id: id, hw: before.hw }, doc);
        if (r.matchedCount === 0) conflict = id;
      }),
    );
    if (conflict !== undefined) throw new CaseConflict(conflict);
  }

  /**
   * Every page holding a listing's rows, with only that listing's rows (pages
   * are shared by listings of one period, see pageKeyOf): each partition's
   * pages of it, its correction page among them, by `_id`. A partition's
   * pages are read again only when its rolled mark of the page key moved
   * (StoredSummary); a partition whose summary has no marks (written by
   * hand, or not written yet) has its pages' own marks read (`hw`, which
   * every rewrite moves on), and a page this reader parsed at the same mark
   * is not read again.
   *
   * `owned` names the partitions this process applies now: their only
   * writer is this one, so their marks are taken from what it holds of
   * their summaries (read once), and only the others' summaries are read.
   */
  async listingPages(
    listKey: string,
    partitions: number,
    owned: readonly number[] = [],
  ): Promise<RollupPage[]> {
    return (await this.listingSource(listKey, partitions, owned)).pages();
  }

  /**
   * A listing as `fold` makes it of its pages (listingPages), kept with the
   * marks it was read at: while none of them moves, the next call answers
   * from it without reading a page or folding again (a listing of officers
   * folds tens of thousands of rows). Kept for the most recently read
   * listings, within LISTINGS_BYTES of their JSON.
   */
  async listing<T>(
    listKey: string,
    partitions: number,
    fold: (pages: RollupPage[]) => readonly T[],
    owned: readonly number[] = [],
  ): Promise<readonly T[]> {
    const source = await this.listingSource(listKey, partitions, owned);
    const known = this.listings.get(listKey);
    if (known) {
      this.listings.delete(listKey);
      this.listingsBytes -= known.bytes;
    }
    let kept = known;
    if (kept?.marks !== source.marks) {
      const rows = fold(await source.pages());
      kept = { marks: source.marks, rows, bytes: jsonBytes(rows) };
    }
    if (kept.bytes <= this.listingsMax) {
      this.listings.set(listKey, kept);
      this.listingsBytes += kept.bytes;
    }
    for (const [key, old] of this.listings) {
      if (this.listingsBytes <= this.listingsMax) break;
      this.listings.delete(key);
      this.listingsBytes -= old.bytes;
    }
    return kept.rows as readonly T[];
  }

  /**
   * A listing's marks, and its pages (see listingPages), read when asked.
   * The marks name each partition by its rolled mark where its summary has
   * them, and by its pages' own marks where it does not.
   */
  private async listingSource(
    listKey: string,
    partitions: number,
    owned: readonly number[],
  ): Promise<{ marks: string; pages: () => Promise<RollupPage[]> }> {
    const pageKey = pageKeyOf(listKey);
    const pages = this.rollups.for(pageKey);
    const all = Array.from({ length: partitions }, (_, p) => p);
    const mine = new Set(owned.filter((p) => p < partitions));
    const others = all.filter((p) => !mine.has(p));
    const [held, stored] = await Promise.all([
      this.summariesFor([...mine]),
      others.length === 0
        ? []
        : this.summaries
            .find({ _id: { $in: others.map(summaryId) } }, { projection: { rolled: 1 } })
            .toArray(),
    ]);
    /** Each partition's mark of the page key (0: none written), undefined where it has no marks. */
    const markOf = new Map<number, number | undefined>();
    for (const h of held)
      markOf.set(h.partition, h.marked ? (h.rolled.get(pageKey) ?? 0) : undefined);
    const storedOf = new Map(stored.map((d) => [d._id, d.rolled]));
    for (const p of others) {
      const marks = storedOf.get(summaryId(p));
      markOf.set(p, marks ? (marks[pageKey] ?? 0) : undefined);
    }
    const rolled = new Map<number, number>();
    const unmarked: string[] = [];
    for (const p of all) {
      const m = markOf.get(p);
      if (m !== undefined) rolled.set(p, m);
      else unmarked.push(...pagesOfPartition(pageKey, p));
    }
    const hw =
      unmarked.length === 0
        ? []
        : await pages.find({ _id: { $in: unmarked } }, { projection: { hw: 1 } }).toArray();
    const marks = [
      ...[...rolled].map(([p, m]) => `p${p}#${m}`),
      ...hw.map((m) => `${m._id}@${m.hw}`),
    ].join(',');
    const prefix = `${listKey}|`;
    return {
      marks,
      pages: async () => {
        // The pages parsed already and unmoved, held here: reading the
        // others may push them out of readPages before the listing is made.
        const held = new Map<string, RollupPage>();
        const wanted: string[] = [];
        const slices: { slice: string; mark: number; ids: string[] }[] = [];
        for (const [p, m] of rolled) {
          if (m === 0) continue;
          const ids = pagesOfPartition(pageKey, p);
          const slice = `${pageKey}|p${p}`;
          const seen = this.slices.get(slice);
          const kept = seen?.mark === m ? ids.map((id) => this.readPages.get(id)?.page) : [];
          if (seen?.mark === m && kept.every((page, i) => (page?.hw ?? -1) === seen.hw[i])) {
            for (const page of kept) if (page) held.set(page._id, page);
          } else {
            wanted.push(...ids);
            slices.push({ slice, mark: m, ids });
          }
        }
        for (const m of hw) {
          const known = this.readPages.get(m._id)?.page;
          if (known?.hw === m.hw) held.set(m._id, known);
          else wanted.push(m._id);
        }
        const fetched = new Map<string, RollupPage>();
        if (wanted.length > 0)
          for (const s of await pages.find({ _id: { $in: wanted } }, WITHOUT_PARTS).toArray()) {
            const json = inflated(s.rows);
            const page: RollupPage = {
              _id: s._id,
              listKey: s.listKey,
              hw: s.hw,
              rows: JSON.parse(json) as RollupPage['rows'],
            };
            fetched.set(s._id, page);
            this.rememberRead(page, json.length);
          }
        // Each partition read whole is known at its mark: the pages it has
        // (at least as new as the mark), and those it has not.
        for (const { slice, mark, ids } of slices)
          this.noteSlice(slice, { mark, hw: ids.map((id) => fetched.get(id)?.hw ?? -1) });
        return [...fetched.values(), ...held.values()]
          .sort((a, b) => a._id.localeCompare(b._id))
          .map((page) => ({ ...page, rows: page.rows.filter((r) => r.id.startsWith(prefix)) }));
      },
    };
  }

  /** Remembers what a partition's pages of a page key were at its rolled mark, the most recent `SLICES` of them. */
  private noteSlice(slice: string, seen: { mark: number; hw: number[] }): void {
    this.slices.delete(slice);
    this.slices.set(slice, seen);
    if (this.slices.size > SLICES) {
      const oldest = this.slices.keys().next();
      if (!oldest.done) this.slices.delete(oldest.value);
    }
  }

  /** Keeps a page a listing read, within `readPagesMax` bytes of JSON, least recently read first out. */
  private rememberRead(page: RollupPage, bytes: number): void {
    const known = this.readPages.get(page._id);
    if (known) {
      this.readPagesBytes -= known.bytes;
      this.readPages.delete(page._id);
    }
    if (bytes > this.readPagesMax) return;
    this.readPages.set(page._id, { page, bytes });
    this.readPagesBytes += bytes;
    while (this.readPagesBytes > this.readPagesMax) {
      const oldest = this.readPages.entries().next();
      if (oldest.done) break;
      this.readPagesBytes -= oldest.value[1].bytes;
      this.readPages.delete(oldest.value[0]);
    }
  }

  async upsertOrders(writes: readonly CaseOrders[]): Promise<void> {
    const ops = writes.flatMap((w) =>
      w.orders.map((o) => {
        const { _id, ...replacement } = orderDocOf(w, o);
        // Replaces a state of an earlier (or the same) version of the case;
        // a later one stays, and the insert the upsert falls back to fails
        // on its _id. (Every order of layout 7 carries its version.)
        const filter = { _id, caseVersion: { $lte: w.caseVersion } };
        return { filter, replacement };
      }),
    );
    if (ops.length === 0) return;
    // A week is named before its first order lands, so a listing never misses one.
    await this.nameWeeks(ops.map((op) => op.replacement.week));
    try {
      await this.orders.bulkWrite(
        ops.map((replaceOne) => ({ replaceOne: { ...replaceOne, upsert: true } })),
        { ordered: false },
      );
    } catch (e) {
      if (!onlyDuplicates(e)) throw e;
      // Some order is stored from a later version. FerretDB ends an unordered
      // bulk update at its first failure, so each one is written again
      // alone: none replaces a later state, so writing twice changes nothing.
      for (const op of ops)
        await this.orders
          .replaceOne(op.filter, op.replacement, { upsert: true })
          .catch((err: unknown) => {
            if (!isDuplicateKey(err)) throw err;
          });
    }
  }

  /** Names weeks as holding orders (before their first order is written). */
  async nameWeeks(weeks: readonly string[]): Promise<void> {
    const fresh = [...new Set(weeks)].filter((w) => !this.weeksNamed.has(w));
    if (fresh.length === 0) return;
    await this.orderWeekNames
      .insertMany(
        fresh.map((_id) => ({ _id })),
        { ordered: false },
      )
      // Named before, by this writer or another.
      .catch(ignoreDuplicates);
    for (const m of fresh) this.weeksNamed.add(m);
  }

  /**
   * The orders matching `filter`, the latest week first: the first `alone`
   * weeks one at a time, then every earlier week together. Each query is of
   * equalities, which FerretDB has PostgreSQL answer while it scans the
   * table once: a page costs the weeks it spans, and a filter that few
   * orders match costs at most `alone + 1` scans, however many weeks there
   * are. With `openedThrough` (ms), weeks after the one holding that moment
   * are left out: a later page starts at its cursor's week.
   */
  async *ordersByWeek(
    filter: OrderFilter,
    openedThrough?: number,
    alone = WEEKS_ALONE,
  ): AsyncGenerator<OrderDoc[]> {
    const last =
      openedThrough === undefined ? undefined : weekOf(new Date(openedThrough).toISOString());
    const weeks = (await this.orderWeekNames.find({}).toArray())
      .map((d) => d._id)
      .filter((w) => last === undefined || w <= last)
      .sort()
      .reverse();
    for (const [i, week] of weeks.entries()) {
      if (i === alone && weeks.length > alone + 1) {
        const earlier = new Set(weeks.slice(alone));
        yield (await this.orders.find({ ...filter }).toArray()).filter((o) => earlier.has(o.week));
        return;
      }
      yield await this.orders.find({ week, ...filter }).toArray();
    }
  }

  /** The agency of each order holding a rule action its case's history no longer calls for. */
  async unwarrantedOrderAgencies(): Promise<string[]> {
    const docs = await this.orders.find({ unwarranted: true }).toArray();
    return docs.map((d) => d.agencyId);
  }

  /** Orders awaiting an answer (open or escalated). */
  unansweredOrders(): Promise<OrderDoc[]> {
    return this.orders.find({ unanswered: true }).toArray();
  }
}
