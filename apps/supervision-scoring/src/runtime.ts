import type { Db } from 'mongodb';
import type { Kafka, Producer } from 'kafkajs';
import type { KafkaScoreHub } from './adapters/kafka/score-hub.js';
import { KafkaDeadLetters, ProjectionConsumer } from './adapters/kafka/projection-consumer.js';
import { CaseConflict, ReadModels } from './adapters/mongo/read-models.js';
import type { Clock, History, IntakeCommands, ScoreSink } from './application/ports.js';
import { Projector } from './application/projector.js';
import type { RollupRow, ScoreReader } from './application/queries.js';
import { runRules } from './application/rule-runner.js';
import type { RuleConfig } from './domain/rules.js';
import type { ScoringModel } from './domain/scoring-model.js';

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
  readonly tickMs: number;
  /** What the rules judge deadlines by: the clock, or the event time the projection has reached. */
  readonly ruleClock: 'wall' | 'events';
  readonly log: (msg: string, err?: unknown) => void;
}

interface Generation {
  readonly n: number;
  readonly models: ReadModels;
  readonly projector: Projector;
  readonly consumer: ProjectionConsumer;
  active: boolean;
}

interface MetaDoc {
  _id: string;
  generation: number;
}

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
  readonly clock: Clock;
  readonly hub: KafkaScoreHub;

  constructor(private readonly o: RuntimeOptions) {
    this.clock = o.clock;
    this.hub = o.hub;
  }

  private get meta() {
    return this.o.db.collection<MetaDoc>('meta');
  }

  private current(): Generation {
    if (!this.gen) throw new Error('scoring runtime not started');
    return this.gen;
  }

  async start(): Promise<void> {
    const meta = await this.meta.findOne({ _id: 'active' });
    const gen = await this.generation(meta?.generation ?? 1, false);
    gen.active = true;
    this.gen = gen;
    if (!meta)
      await this.meta.updateOne(
        { _id: 'active' },
        { $set: { generation: gen.n } },
        { upsert: true },
      );
    await gen.consumer.start();
    if (this.o.tickMs > 0) {
      this.ticker = setInterval(() => void this.tick(), this.o.tickMs);
      this.ticker.unref();
    }
  }

  private async generation(n: number, fromBeginning: boolean): Promise<Generation> {
    const models = new ReadModels(this.o.db, `g${n}_`, this.o.buckets);
    await models.init();
    const holder: { gen?: Generation } = {};
    const sink: ScoreSink = { changed: (v, s) => holder.gen?.active && this.hub.changed(v, s) };
    const projector = new Projector({
      store: models,
      deadLetters: new KafkaDeadLetters(this.o.producer, this.o.topics.deadLetter),
      sink,
      model: this.o.model,
      history: this.o.intake,
      isConflict: (e) => e instanceof CaseConflict,
    });
    const consumer = new ProjectionConsumer(this.o.kafka, projector, {
      groupId: `${this.o.groupBase}.projection.g${n}`,
      topic: this.o.topics.caseEvents,
      fromBeginning: fromBeginning || n === 1,
      partitionsConsumedConcurrently: this.o.partitionsConsumedConcurrently,
    });
    holder.gen = { n, models, projector, consumer, active: false };
    return holder.gen;
  }

  private eventClock = 0;

  /**
   * The moment the rules judge deadlines at: the clock; or, with the event
   * clock (for loading history: a past year, a migration), the event time
   * every partition has been applied up to (the lowest of their latest
   * occurrence times, never going back), so a case is judged as it stood then
   * and what the rules open is dated then, not years after the facts.
   * Undefined when the event clock has not started (nothing applied yet).
   */
  private ruleTime(): Date | undefined {
    const wall = this.o.clock.now();
    if (this.o.ruleClock === 'wall') return wall;
    const applied = this.current().consumer.eventTime();
    if (applied !== undefined) this.eventClock = Math.max(this.eventClock, applied);
    return this.eventClock > 0 ? new Date(Math.min(this.eventClock, wall.getTime())) : undefined;
  }

  /** Runs the supervision rules once (the ticker calls it; tests call it with a moved clock). */
  tick(): Promise<number> {
    // One pass at a time: a tick that finds the last one still running joins it
    // rather than piling another scan of the watched cases onto the store.
    if (this.ticking) return this.ticking;
    const models = this.current().models;
    const now = this.ruleTime();
    if (!now) return Promise.resolve(0);
    const run = Promise.resolve()
      .then(() =>
        runRules({
          source: {
            watched: () => models.watch.find({}).toArray(),
            markFired: (caseId, ruleId) => models.markFired(caseId, ruleId),
          },
          intake: this.o.intake,
          clock: { now: () => now },
          rules: this.o.rules,
          model: this.o.model,
          log: this.o.log,
        }),
      )
      .catch((e: unknown) => {
        this.o.log('rule tick failed', e);
        return 0;
      });
    const ticking = run.finally(() => {
      this.ticking = undefined;
    });
    this.ticking = ticking;
    return ticking;
  }

  reader(): ScoreReader {
    const m = this.current().models;
    return {
      caseScore: async (caseId) => {
        const doc = await m.getCase(caseId);
        return doc ? { view: doc.view, score: doc.score } : null;
      },
      rollups: async (listKey) => {
        const sums = new Map<string, RollupRow & { indicators: Record<string, number> }>();
        for (const share of await m.listRollups(listKey)) {
          const row = sums.get(share.rollupId) ?? {
            key: share.key,
            agencyId: share.agencyId,
            district: share.district,
            domain: share.domain,
            scoreSum: 0,
            cases: 0,
            corrected: 0,
            indicators: {},
          };
          sums.set(share.rollupId, {
            ...row,
            scoreSum: row.scoreSum + (share.scoreSum ?? 0),
            cases: row.cases + (share.cases ?? 0),
            corrected: row.corrected + (share.corrected ?? 0),
          });
          const target = sums.get(share.rollupId)?.indicators ?? {};
          for (const [k, v] of Object.entries(share))
            if (k.startsWith('ind_') && typeof v === 'number')
              target[k.slice(4)] = (target[k.slice(4)] ?? 0) + v;
        }
        return [...sums.values()];
      },
      orders: (agencyId) => m.orders.find(agencyId ? { agencyId } : {}).toArray(),
    };
  }

  get models(): ReadModels {
    return this.current().models;
  }

  get consumer(): ProjectionConsumer {
    return this.current().consumer;
  }

  release(caseId: string): Promise<number> {
    return this.current().projector.release(caseId);
  }

  /** Replays the whole topic into the next generation, then switches to it. */
  async rebuild(timeoutMs = 30 * 60_000): Promise<{ eventsApplied: number; position: number }> {
    const old = this.current();
    const next = await this.generation(old.n + 1, true);
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
      { $set: { generation: next.n } },
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
    if (this.ticker) clearInterval(this.ticker);
    await this.ticking;
    await this.gen?.consumer.stop();
  }
}
