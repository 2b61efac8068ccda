import type { Db } from 'mongodb';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { isDuplicateKey } from '@enforcement/mongo-kit';
import { DomainError, withDeadline } from '@enforcement/errors';
import { ConfigError } from '@enforcement/config';
import { events } from '@enforcement/contracts';
import type { KafkaScoreHub } from './adapters/kafka/score-hub.js';
import { KafkaDeadLetters, ProjectionConsumer } from './adapters/kafka/projection-consumer.js';
import { CaseConflict, ReadModels, type DueCase } from './adapters/mongo/read-models.js';
import type {
  CaseRecord,
  Clock,
  History,
  IntakeCommands,
  RollupPage,
  ScoreSink,
} from './application/ports.js';
import { feedOf, Projector } from './application/projector.js';
import type { RollupRow, ScoreReader } from './application/queries.js';
import { coalesced } from './application/coalesced.js';
import { runRules, unwarrantedFound, type SentAction } from './application/rule-runner.js';
import { feedWatermarks, FeedClock, type PartitionEnd } from './application/watermark.js';
import type { RuleConfig } from './domain/rules.js';
import { scoreCase, type ScoringModel } from './domain/scoring-model.js';

export interface RuntimeOptions {
  readonly db: Db;
  readonly kafka: Kafka;
  readonly producer: Producer;
  readonly hub: KafkaScoreHub;
  readonly clock: Clock;
  readonly model: ScoringModel;
  readonly rules: RuleConfig;
  readonly intake: IntakeCommands & History;
  readonly topics: { caseEvents: string; deadLetter: string };
  readonly groupBase: string;
  readonly buckets: number;
  readonly partitionsConsumedConcurrently: number;
  /** How long (ms) a fetch of live events may wait for more (0: not at all). */
  readonly lingerMs: number;
  /** How long (ms) the projection may apply nothing while messages wait before readiness fails. */
  readonly stallMs: number;
  /** Intake's feed marks read so far: each feed's latest, as `FeedMark.before` (ms). */
  readonly marks: { snapshot(): ReadonlyMap<string, number> };
  /** The most a case's record holds of events not applied yet (bytes); the projector's default when unset. */
  readonly waitingLimitBytes?: number;
  readonly tickMs: number;
  /** What the rules judge deadlines by: the clock, or the event time the projection has reached. */
  readonly ruleClock: 'wall' | 'events';
  /** How late (ms) a feed's events may arrive after later ones of the same feed: the rules wait that long. */
  readonly lateness?: number;
  readonly log: (msg: string, err?: unknown) => void;
}

interface Generation {
  readonly n: number;
  readonly models: ReadModels;
  readonly projector: Projector;
  readonly consumer: ProjectionConsumer;
  readonly clock: FeedClock;
  active: boolean;
}

/**
 * The layout of the read models this version writes and reads: 13 keeps
 * with each order the rules' actions on it that its case's history no
 * longer calls for, and lists them apart (orders of a layout-12 generation
 * lack the flag, and a layout-12 writer would drop it: projected again); 12 stores
 * case records without their score and rollup contribution, which are
 * worked out from the view when needed (a layout-11 writer would take a
 * stored record's missing contribution for none, and count the case's
 * shares again on its next event: it refuses a layout-12 generation); 11 puts
 * every listing of a period (officers, units, agencies, districts and
 * domains) on one rollup page per partition, where 10 kept officers on two
 * pages of their own beside the others' (a layout-10 reader would look for
 * pages 11 does not write: projected again); 10 notes
 * in each partition's summary a rolled mark per page key, moved whenever a
 * batch writes the partition's rollup or correction pages of that key,
 * and listings go by those marks (a layout-9 writer would write pages
 * without moving them, and a listing would miss the write: projected
 * again); 9 counts
 * the shares of a released case's messages that lost their place (a
 * release's, and those below the partition's end the release noted) as the
 * case's release part on its partition's correction pages, not on pages of
 * its own that every listing read (a layout-8 generation's release pages
 * and a retried release could count them twice: projected again); 8 keeps
 * what reviews' corrections change on pages of each corrected case, as of
 * its version, and counts each case's own shares from its history alone (a
 * layout-7 generation counted corrections into the case's shares, and a
 * replay could count a share without its correction: projected again); 7
 * stores with each order the week it was opened in, its status and whether it awaits an
 * answer, and names the weeks that hold orders, so a listing reads the
 * weeks its page spans (orders of a layout-6 generation lack those fields,
 * and are projected again); 6 takes each
 * case's live score as of its latest event, so an order still in its
 * response window awaits its answer (docs/scoring.md); the scores a layout-5
 * generation holds were taken before, and are projected again; 5 names a
 * partition's newest cases' pages in its summary, not in the index pages (a
 * version of layout 4 would not see them, and would drop them when it wrote
 * the summary); 4 packs
 * case records into pages per partition, with the rules' timers in them; 3
 * stored a document per case and one per timer, case records and rollup
 * pages as JSON blobs under the fields writes filter on; 2 kept rollups in pages per listing and writer, nested; 1 a document
 * per rollup and writer.
 */
export const READ_MODEL_FORMAT = 13;

interface MetaDoc {
  _id: string;
  generation?: number;
  /** The active generation's layout (READ_MODEL_FORMAT); absent: 1. */
  format?: number;
  /**
   * The rules' clock: in a partition's record (`clock.g<n>.p<partition>`),
   * feed → latest time applied; in the record of versions before, for all
   * partitions (`clock.g<n>`), partition → feed → time.
   */
  times?: Record<string, unknown>;
}

/** The record of a partition's feed times in generation `n`. */
const clockIdOf = (n: number, partition: number) => `clock.g${n}.p${partition}`;

/** Where the rules' clock stands: per feed (`<agency>|<case type>`), the time its facts are applied to. */
export interface RulesClockState {
  readonly feeds: ReadonlyMap<string, number>;
  readonly readAt: number;
}

export interface RulesStatus {
  readonly clock: 'wall' | 'events';
  readonly agencies: {
    agencyId: string;
    judgedUpTo: number;
    casesDue: number;
    ordersUnwarranted: number;
  }[];
  readonly casesDue: number;
  /** Orders holding a rule action their case's history no longer calls for (late data). */
  readonly ordersUnwarranted: number;
  /** When the last pass ran (ms); 0 before the first. */
  readonly lastPassAt: number;
  readonly actionsSent: number;
  readonly actionsRefused: number;
  readonly actionsFailed: number;
  /** When intake last accepted one of the rules' actions (ms); 0: not since this instance started. */
  readonly lastAcceptedAt: number;
  /**
   * The rules' last trouble since this instance started: a pass that failed,
   * or actions intake could not take (unreachable, scoring's token refused,
   * its store down, no answer). Version conflicts while the stream runs ahead
   * of the projection are routine and count only in `actionsFailed`. Trouble
   * no later than `lastAcceptedAt` has actions getting through since.
   */
  readonly trouble?: { readonly at: number; readonly what: string };
}

/** Where the projection stands, for operators (GetProjectionStatus). */
export interface ProjectionStatus {
  readonly generation: number;
  readonly lag: number;
  readonly partitions: { partition: number; lag: number }[];
  /** When the latest event this instance applied was recorded (ms; 0: none yet). */
  readonly lastRecordedAt: number;
  readonly parked: {
    caseId: string;
    agencyId: string;
    reason: string;
    heldEvents: number;
    parkedAt: Date;
  }[];
  readonly parkedTotal: number;
  readonly rebuild?: { generation: number; startedAt: number; eventsApplied: number };
}

/** How many parked cases a status lists, and how long a listing is reused (ms). */
const PARKED_LISTED = 500;
const PARKED_TTL_MS = 5_000;

const CASE_TYPE = events.CaseType;
const OFFSETS_DEADLINE_MS = 10_000;
const PASS_DEADLINE_MS = 120_000;
/**
 * The shortest time between the end of a pass and a pass the stream asked
 * for (a batch that raised the clock, or a pass whose actions will come
 * back): the rules follow the stream within about this, not a whole tick.
 */
const FOLLOW_GAP_MS = 500;
/** How long the rules' status may take to read before its callers are failed (it reads every due case). */
const STATUS_DEADLINE_MS = 20_000;
/** How long a release asked of another instance is waited for. */
const RELEASE_WAIT_MS = 15_000;

/**
 * The running projection: one generation of read models fed by one consumer
 * group. A rebuild fills the next generation from the topic's start with a
 * new group and switches queries to it once it has caught up; the pointer to
 * the active generation is stored, so every instance and every restart uses it.
 */
export class ScoringRuntime {
  private gen: Generation | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private ticking: Promise<number> | undefined;
  /** A pass the stream asked for, waiting for its gap; and whether one was asked for during a pass. */
  private following: NodeJS.Timeout | undefined;
  private followAsked = false;
  private lastPassEnd = 0;
  private admin: Promise<Admin> | undefined;
  /** Rule actions sent and not yet seen back (command id → until when). */
  private readonly sent = new Map<string, SentAction>();
  private lastClock: RulesClockState | undefined;
  private stopping = false;
  private readonly passes = {
    lastAt: 0,
    sent: 0,
    refused: 0,
    failed: 0,
    lastAcceptedAt: 0,
    trouble: undefined as { at: number; what: string } | undefined,
  };
  /** A rebuild running here: claimed before anything is awaited, so a second call sees it. */
  private rebuilding: { n: number; startedAt: number; gen?: Generation } | undefined;
  private parkedRead:
    | {
        at: number;
        generation: number;
        read: Promise<Awaited<ReturnType<ReadModels['parkedCases']>>>;
      }
    | undefined;
  readonly clock: Clock;
  readonly hub: KafkaScoreHub;

  constructor(private readonly o: RuntimeOptions) {
    this.clock = o.clock;
    this.hub = o.hub;
  }

  private get meta() {
    return this.o.db.collection<MetaDoc>('meta');
  }

  /** For readiness: whether the live read model's consumer is applying batches. */
  readonly consumerHealth = (): Promise<true> => this.current().consumer.health.check();

  private current(): Generation {
    if (!this.gen) throw new Error('scoring runtime not started');
    return this.gen;
  }

  async start(): Promise<void> {
    const meta = await this.meta.findOne({ _id: 'active' });
    // Read models of a later layout would be misread, and written wrongly, by this version.
    if ((meta?.format ?? 1) > READ_MODEL_FORMAT)
      throw new ConfigError([
        `the read models of generation ${meta?.generation ?? 1} are in layout ${meta?.format}, and this version reads layout ${READ_MODEL_FORMAT} at most: run a version that reads layout ${meta?.format}, or point MONGODB_DB at another database`,
      ]);
    // Read models kept in an older layout are not read: the next generation
    // is projected from the topic's start instead, and serves as it fills.
    const outdated = meta !== null && (meta.format ?? 1) < READ_MODEL_FORMAT;
    if (outdated)
      this.o.log(
        `read models of generation ${meta.generation ?? 1} are in layout ${meta.format ?? 1}, this version reads ${READ_MODEL_FORMAT}: projecting generation ${(meta.generation ?? 1) + 1} from the topic`,
      );
    const n = (meta?.generation ?? 1) + (outdated ? 1 : 0);
    const gen = await this.generation(n, outdated);
    gen.active = true;
    this.gen = gen;
    if (!meta || outdated)
      await this.meta.updateOne(
        { _id: 'active' },
        { $set: { generation: gen.n, format: READ_MODEL_FORMAT } },
        { upsert: true },
      );
    await gen.consumer.start();
    if (this.o.tickMs > 0) {
      this.ticker = setInterval(() => void this.tick(), this.o.tickMs);
      this.ticker.unref();
    }
  }

  private async generation(n: number, fromBeginning: boolean): Promise<Generation> {
    const holder: { gen?: Generation; consumer?: ProjectionConsumer } = {};
    const partitionOf = (caseId: string) => {
      if (!holder.consumer) throw new Error('projection consumer not created');
      return holder.consumer.partitionOf(caseId);
    };
    const models = new ReadModels(this.o.db, `g${n}_`, this.o.buckets, partitionOf);
    await models.init();
    const clock = new FeedClock();
    if (!fromBeginning) await this.restoreClock(clock, n);
    const sink: ScoreSink = {
      changed: (scores) => holder.gen?.active && this.hub.changed(scores),
      ordersChanged: (changes) => holder.gen?.active && this.hub.ordersChanged(changes),
    };
    const projector = new Projector({
      store: models,
      deadLetters: new KafkaDeadLetters(this.o.producer, this.o.topics.deadLetter, (e) =>
        this.o.log('dead-letter topic refused a letter whole; sent it without its value', e),
      ),
      sink,
      model: this.o.model,
      history: this.o.intake,
      log: this.o.log,
      // Told by the generation that serves: one rebuilding finds again what was told.
      unwarranted: (view, actions) =>
        holder.gen?.active && unwarrantedFound(this.o.log, view, actions),
      ...(this.o.waitingLimitBytes ? { waitingLimitBytes: this.o.waitingLimitBytes } : {}),
      isConflict: (e) => e instanceof CaseConflict,
      rules: this.o.rules,
      partitionOf,
      endOffset: (partition) => this.endOffset(partition),
      progress: async (partition, feeds) => {
        clock.note(partition, feeds);
        if (holder.gen?.active) this.follow();
        // Each partition's times in a record of its own, written by the one
        // consumer applying it (see FeedClock.raiseOwn).
        const raise = () =>
          this.meta.updateOne(
            { _id: clockIdOf(n, partition) },
            { $max: FeedClock.raiseOwn(feeds) },
            { upsert: true },
          );
        // Two partitions' first batches may race to create the record: the loser raises it.
        await raise().catch((e: unknown) => (isDuplicateKey(e) ? raise() : Promise.reject(e)));
      },
    });
    const consumer = new ProjectionConsumer(this.o.kafka, projector, {
      groupId: `${this.o.groupBase}.projection.g${n}`,
      topic: this.o.topics.caseEvents,
      fromBeginning: fromBeginning || n === 1,
      partitionsConsumedConcurrently: this.o.partitionsConsumedConcurrently,
      lingerMs: this.o.lingerMs,
      stallMs: this.o.stallMs,
      clock,
      waiting: () => models.waiting(),
      log: this.o.log,
    });
    holder.consumer = consumer;
    holder.gen = { n, models, projector, consumer, clock, active: false };
    return holder.gen;
  }

  /**
   * Raises `clock` to the feed times every instance stored for generation
   * `n`: the partitions' own records (an `_id` range), and the single record
   * versions before 0.1 kept for all partitions.
   */
  private async restoreClock(clock: FeedClock, n: number): Promise<void> {
    const [legacy, own] = await Promise.all([
      this.meta.findOne({ _id: `clock.g${n}` }),
      this.meta.find({ _id: { $gte: `clock.g${n}.p`, $lt: `clock.g${n}.q` } }).toArray(),
    ]);
    clock.restore(legacy?.times as Record<string, Record<string, number>> | undefined);
    const saved: Record<string, Record<string, number>> = {};
    for (const d of own) {
      const partition = Number(d._id.slice(`clock.g${n}.p`.length));
      if (Number.isInteger(partition) && d.times)
        saved[String(partition)] = d.times as Record<string, number>;
    }
    clock.restore(saved);
  }

  private connectedAdmin(): Promise<Admin> {
    this.admin ??= (async () => {
      const admin = this.o.kafka.admin();
      await admin.connect();
      return admin;
    })().catch((e: unknown) => {
      this.admin = undefined;
      throw e;
    });
    return this.admin;
  }

  /** Each partition's end and this generation's committed position, read now. */
  private partitionEnds(gen: Generation): Promise<Map<number, PartitionEnd>> {
    return this.withAdmin('partition ends', async (admin) => {
      const [highs, committed] = await Promise.all([
        admin.fetchTopicOffsets(this.o.topics.caseEvents),
        admin.fetchOffsets({ groupId: gen.consumer.groupId, topics: [this.o.topics.caseEvents] }),
      ]);
      const done = new Map(
        (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
      );
      return new Map(
        highs.map((h) => [
          h.partition,
          { high: Number(h.high), committed: done.get(h.partition) ?? -1 },
        ]),
      );
    });
  }

  /** The end of a case-events partition (its high watermark), read now: a release notes it. */
  private endOffset(partition: number): Promise<number> {
    return this.withAdmin(`the end of partition ${partition}`, async (admin) => {
      const high = (await admin.fetchTopicOffsets(this.o.topics.caseEvents)).find(
        (h) => h.partition === partition,
      )?.high;
      if (high === undefined) throw new Error(`partition ${partition} has no end offset`);
      return Number(high);
    });
  }

  /** Asks the admin client, within a deadline; one that did not answer is dropped. */
  private async withAdmin<T>(what: string, ask: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await withDeadline(this.connectedAdmin().then(ask), OFFSETS_DEADLINE_MS, what);
    } catch (e) {
      // A broker that did not answer may have dropped the connection: start afresh next time.
      const admin = this.admin;
      this.admin = undefined;
      void admin?.then((a) => a.disconnect()).catch(() => undefined);
      throw e;
    }
  }

  /**
   * Where the rules' clock stands now: each feed's watermark (see
   * application/watermark.ts). With the wall clock, a feed with nothing
   * waiting is complete before now; with the event clock (loading history),
   * before its latest event. The times are stored, so a restart resumes them.
   */
  async rulesClock(): Promise<RulesClockState> {
    const gen = this.current();
    // Learn what the other instances applied (each batch stores its feed
    // times before its offsets are committed): every instance judges with
    // the times of every partition, whoever applied them.
    await this.restoreClock(gen.clock, gen.n);
    const snap = gen.clock.snapshot();
    // Read before the ends: what a mark covers was on the topic before it.
    const marks = this.o.marks.snapshot();
    const ends = await this.partitionEnds(gen);
    const wall = this.o.clock.now().getTime();
    const feeds = feedWatermarks(snap, ends, marks, (latest) =>
      this.o.ruleClock === 'events' ? latest : wall,
    );
    this.lastClock = { feeds, readAt: wall };
    return this.lastClock;
  }

  /** The clock as of the last pass (for status pages); undefined before the first. */
  get lastRulesClock(): RulesClockState | undefined {
    return this.lastClock;
  }

  /** The rules could not do their work: kept for the status, which says what and since when. */
  private troubled(what: string): void {
    this.passes.trouble = { at: this.o.clock.now().getTime(), what };
  }

  /** Runs the supervision rules once (the ticker calls it; tests call it to run them now). */
  tick(): Promise<number> {
    // One pass at a time: a tick that finds the last one still running joins it.
    if (this.ticking) return this.ticking;
    const gen = this.current();
    const run = this.rulesClock()
      .then(async ({ feeds }) => {
        const wall = this.o.clock.now().getTime();
        const lateness = this.o.lateness ?? 0;
        const timeFor = (agencyId: string): number | undefined => {
          const own = feeds.get(feedOf(agencyId, CASE_TYPE.CASE_TYPE_ENFORCEMENT));
          return own === undefined ? undefined : Math.min(wall, own - lateness);
        };
        const until = Math.min(wall, Math.max(...feeds.values()) - lateness);
        if (!Number.isFinite(until)) return 0;
        // The due cases of this instance's partitions, read once a pass and handed out a page at a time.
        let due: Promise<DueCase[]> | undefined;
        const records = new Map<string, CaseRecord>();
        const r = await runRules({
          timers: async (to, limit, after) => {
            due ??= gen.models.dueCases(to, gen.consumer.ownedPartitions);
            const list = await due;
            const from = after
              ? list.findIndex(
                  (d) =>
                    d.at > after.at.getTime() ||
                    (d.at === after.at.getTime() && d.record._id > after.id),
                )
              : 0;
            if (from < 0) return [];
            return list.slice(from, from + limit).map((d) => {
              records.set(d.record._id, d.record);
              return {
                _id: d.record._id,
                agencyId: d.record.view.agencyId,
                nextAt: new Date(d.at),
                version: d.record.view.version,
              };
            });
          },
          cases: async (ids) =>
            new Map(
              ids.flatMap((id) => {
                const rec = records.get(id);
                return rec ? [[id, rec] as const] : [];
              }),
            ),
          // Each case judged by the instance applying its partition (the
          // others would only send intake the same actions again).
          owns: (caseId) => gen.consumer.owns(caseId),
          timeFor,
          until,
          intake: this.o.intake,
          rules: this.o.rules,
          model: this.o.model,
          sent: this.sent,
          now: () => Date.now(),
          log: this.o.log,
        });
        this.passes.lastAt = wall;
        // What it sent comes back through the projection, and may make the
        // case's next action due (an evaluation after the last order's answer).
        if (r.sent > 0) this.followAsked = true;
        this.passes.sent += r.sent;
        this.passes.refused += r.refused;
        this.passes.failed += r.failed;
        // A pass that got some actions through is not stuck: accepted is noted last.
        if (r.trouble) this.troubled(r.trouble);
        if (r.sent > 0) this.passes.lastAcceptedAt = this.o.clock.now().getTime();
        return r.sent;
      })
      .catch((e: unknown) => {
        this.o.log('rule pass failed', e);
        this.troubled(`the rule pass failed: ${(e as Error).message ?? String(e)}`);
        return 0;
      });
    // Every call inside a pass has its own deadline; this one bounds the pass,
    // so a pass that hangs anyway cannot stop the rules for good.
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      run,
      new Promise<number>((resolve) => {
        timer = setTimeout(() => {
          this.o.log(`rule pass still running after ${PASS_DEADLINE_MS} ms; the next one starts`);
          this.troubled(`a rule pass was still running after ${PASS_DEADLINE_MS} ms`);
          resolve(0);
        }, PASS_DEADLINE_MS);
        timer.unref();
      }),
    ]);
    const ticking = bounded.finally(() => {
      clearTimeout(timer);
      this.ticking = undefined;
      this.lastPassEnd = Date.now();
      if (this.followAsked) this.follow();
    });
    this.ticking = ticking;
    return ticking;
  }

  /**
   * Asks for a pass soon: the projection raised the rules' clock, or a pass
   * sent actions. Passes stay at least FOLLOW_GAP_MS apart (each reads the
   * offsets and the due timers), and one asked for during a pass runs after
   * it; the ticker still runs a pass every tick when the stream is quiet.
   */
  private follow(): void {
    if (this.o.tickMs <= 0 || this.stopping) return;
    if (this.ticking) {
      this.followAsked = true;
      return;
    }
    if (this.following) return;
    this.followAsked = false;
    const wait = Math.max(
      0,
      this.lastPassEnd + Math.min(FOLLOW_GAP_MS, this.o.tickMs) - Date.now(),
    );
    this.following = setTimeout(() => {
      this.following = undefined;
      void this.tick();
    }, wait);
    this.following.unref();
  }

  /**
   * Where the rules stand, per agency: judged up to when, and how many cases
   * have an action due not in their history yet. It reads every case with an
   * action due, so callers share reads (see application/coalesced.ts): a
   * console refreshed by many operators during a backlog costs one read at a
   * time, and each answer is read after its call.
   */
  readonly rulesStatus: () => Promise<RulesStatus> = coalesced(() => this.readRulesStatus(), {
    what: "the rules' status",
    deadlineMs: STATUS_DEADLINE_MS,
  });

  private async readRulesStatus(): Promise<RulesStatus> {
    const { feeds } = await this.rulesClock();
    const wall = this.o.clock.now().getTime();
    const lateness = this.o.lateness ?? 0;
    const suffix = `|${CASE_TYPE.CASE_TYPE_ENFORCEMENT}`;
    const judged = [...feeds]
      .filter(([feed]) => feed.endsWith(suffix))
      .map(([feed, t]) => ({
        agencyId: feed.slice(0, -suffix.length),
        judgedUpTo: Math.min(wall, t - lateness),
      }));
    // Every partition's cases, whichever instance judges them.
    const { models } = this.current();
    const [due, unwarranted] = await Promise.all([
      models.dueCases(Math.max(...judged.map((j) => j.judgedUpTo), -Infinity)),
      models.unwarrantedOrderAgencies(),
    ]);
    const agencies = judged.map((j) => ({
      ...j,
      casesDue: due.filter((d) => d.record.view.agencyId === j.agencyId && d.at < j.judgedUpTo)
        .length,
      ordersUnwarranted: unwarranted.filter((a) => a === j.agencyId).length,
    }));
    return {
      clock: this.o.ruleClock,
      agencies: agencies.sort((a, b) => a.agencyId.localeCompare(b.agencyId)),
      casesDue: agencies.reduce((n, a) => n + a.casesDue, 0),
      ordersUnwarranted: unwarranted.length,
      lastPassAt: this.passes.lastAt,
      actionsSent: this.passes.sent,
      actionsRefused: this.passes.refused,
      actionsFailed: this.passes.failed,
      lastAcceptedAt: this.passes.lastAcceptedAt,
      ...(this.passes.trouble ? { trouble: this.passes.trouble } : {}),
    };
  }

  reader(): ScoreReader {
    const gen = this.current();
    const m = gen.models;
    return {
      caseScore: async (caseId) => {
        const doc = await m.getCase(caseId);
        return doc ? { view: doc.view, score: scoreCase(doc.view, this.o.model) ?? null } : null;
      },
      rollups: (listKey) =>
        m.listing(listKey, gen.consumer.partitions, sumRows, gen.consumer.ownedPartitions),
      orderWeeks: (filter, openedThrough) => m.ordersByWeek(filter, openedThrough),
      unansweredOrders: () => m.unansweredOrders(),
    };
  }

  get models(): ReadModels {
    return this.current().models;
  }

  get consumer(): ProjectionConsumer {
    return this.current().consumer;
  }

  /**
   * Releases a parked case, answering how many versions it moved (0 for a
   * case not parked). Only the consumer of its partition writes its
   * record, so an instance that does not apply that partition leaves the
   * release for the one that does, and waits for it.
   */
  async release(caseId: string): Promise<number> {
    // The next status reads the parked cases again, without the released one.
    this.parkedRead = undefined;
    const gen = this.current();
    if (gen.consumer.owns(caseId)) return gen.projector.release(caseId);
    const before = await gen.models.getCase(caseId);
    if (!before?.parked) return 0;
    const id = `release/${caseId}`;
    // A refusal no asker answered (it had stopped waiting) is not this call's.
    if ((await gen.models.correctionRequest(id))?.refused) await gen.models.correctionsDone([id]);
    await gen.models.requestCorrections([
      {
        _id: id,
        target: caseId,
        partition: gen.consumer.partitionOf(caseId),
        release: true,
      },
    ]);
    const deadline = Date.now() + RELEASE_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await gen.models.getCase(caseId);
      // As the owner answers: the versions the case moved.
      if (now && !now.parked) return now.view.version - before.view.version;
      // The owner refused it for a reason it named (intake cannot read the
      // case's history): answered here, and the request goes, so that a
      // release asked again is tried again.
      const refused = (await gen.models.correctionRequest(id))?.refused;
      if (refused) {
        await gen.models.correctionsDone([id]);
        throw new DomainError(refused.code, 'PRECONDITION', refused.message);
      }
    }
    throw new DomainError(
      'RELEASE.PENDING',
      'PRECONDITION',
      `case ${caseId}: the instance applying its partition has not released it within ${RELEASE_WAIT_MS} ms; the release stays asked for and is applied when that instance runs`,
    );
  }

  /** Replays the whole topic into the next generation, then switches to it. */
  async rebuild(timeoutMs = 30 * 60_000): Promise<{ eventsApplied: number; position: number }> {
    const old = this.current();
    if (this.rebuilding)
      throw new DomainError(
        'REBUILD.RUNNING',
        'PRECONDITION',
        `generation ${this.rebuilding.n} is being rebuilt since ${new Date(this.rebuilding.startedAt).toISOString()}`,
      );
    const claim: { n: number; startedAt: number; gen?: Generation } = {
      n: old.n + 1,
      startedAt: Date.now(),
    };
    this.rebuilding = claim;
    try {
      claim.gen = await this.generation(claim.n, true);
      return await this.fill(old, claim.gen, timeoutMs);
    } finally {
      this.rebuilding = undefined;
    }
  }

  /** Where the projection stands: lag per partition, parked cases, a rebuild running here. */
  async projectionStatus(): Promise<ProjectionStatus> {
    const gen = this.current();
    const ends = await this.partitionEnds(gen);
    const partitions = [...ends]
      .map(([partition, e]) => ({
        partition,
        lag: Math.max(0, e.high - Math.max(0, e.committed)),
      }))
      .sort((a, b) => a.partition - b.partition);
    const now = Date.now();
    if (
      !this.parkedRead ||
      this.parkedRead.generation !== gen.n ||
      now - this.parkedRead.at > PARKED_TTL_MS
    ) {
      const read = gen.models.parkedCases(PARKED_LISTED);
      this.parkedRead = { at: now, generation: gen.n, read };
      read.catch(() => {
        if (this.parkedRead?.read === read) this.parkedRead = undefined;
      });
    }
    const parked = await this.parkedRead.read;
    const r = this.rebuilding;
    return {
      generation: gen.n,
      lag: partitions.reduce((sum, p) => sum + p.lag, 0),
      partitions,
      lastRecordedAt: gen.consumer.lastRecordedAt,
      parked: parked.cases.map((c) => ({
        caseId: c._id,
        agencyId: c.view.agencyId,
        reason: c.parkReason,
        heldEvents: c.held.length,
        parkedAt: c.updatedAt ?? new Date(0),
      })),
      parkedTotal: parked.total,
      ...(r
        ? {
            rebuild: {
              generation: r.n,
              startedAt: r.startedAt,
              eventsApplied: r.gen
                ? r.gen.consumer.stats.applied + r.gen.consumer.stats.duplicates
                : 0,
            },
          }
        : {}),
    };
  }

  private async fill(
    old: Generation,
    next: Generation,
    timeoutMs: number,
  ): Promise<{ eventsApplied: number; position: number }> {
    await next.models.drop();
    await next.models.init();
    const admin = this.o.kafka.admin();
    await admin.connect();
    const highs = await admin.fetchTopicOffsets(this.o.topics.caseEvents);
    await admin.disconnect();
    await next.consumer.start();
    const deadline = Date.now() + timeoutMs;
    const caughtUp = () =>
      highs.every(
        (h) =>
          Number(h.high) === 0 ||
          (next.consumer.stats.positions.get(h.partition) ?? -1) >= Number(h.high) - 1,
      );
    while (!caughtUp()) {
      if (Date.now() > deadline) {
        await next.consumer.stop();
        throw new Error('rebuild did not catch up in time');
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.meta.updateOne(
      { _id: 'active' },
      { $set: { generation: next.n, format: READ_MODEL_FORMAT } },
      { upsert: true },
    );
    next.active = true;
    old.active = false;
    this.gen = next;
    await old.consumer.stop();
    await old.models.drop();
    const s = next.consumer.stats;
    return {
      eventsApplied: s.applied + s.duplicates,
      position: highs.reduce((sum, h) => sum + Number(h.high), 0),
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    clearTimeout(this.following);
    await this.ticking;
    await this.gen?.consumer.stop();
    const admin = this.admin;
    this.admin = undefined;
    await admin?.then((a) => a.disconnect()).catch(() => undefined);
  }
}

/** A listing's rows summed across the pages that hold them (every writer keeps its share). */
function sumRows(pages: readonly RollupPage[]): RollupRow[] {
  const sums = new Map<
    string,
    { -readonly [K in keyof RollupRow]: RollupRow[K] } & { indicators: Record<string, number> }
  >();
  for (const page of pages)
    for (const r of page.rows) {
      const row = sums.get(r.id) ?? {
        key: r.key,
        agencyId: r.agencyId,
        district: r.district,
        domain: r.domain,
        scoreSum: 0,
        cases: 0,
        corrected: 0,
        indicators: {},
      };
      for (const [k, v] of Object.entries(r.values)) {
        if (k === 'scoreSum') row.scoreSum += v;
        else if (k === 'cases') row.cases += v;
        else if (k === 'corrected') row.corrected += v;
        else if (k.startsWith('ind_'))
          row.indicators[k.slice(4)] = (row.indicators[k.slice(4)] ?? 0) + v;
      }
      sums.set(r.id, row);
    }
  return [...sums.values()];
}
