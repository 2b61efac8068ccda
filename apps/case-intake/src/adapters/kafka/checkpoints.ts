import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Message, Producer } from 'kafkajs';
import { metrics, type Counter } from '@opentelemetry/api';
import { NeedsRestart } from '@enforcement/errors';
import { DeliveryCheck } from '@enforcement/messaging';
import { checkpointMac, sameHex, type Checkpoint } from '../../application/chain.js';
import type { ChainKeys } from '../../application/chain-keys.js';
import type { Checkpoints } from '../../application/ports.js';

interface CheckpointMessage {
  caseId: string;
  version: number;
  headHash: string;
  keyId: string;
  mac: string;
}

export interface CheckpointOptions {
  readonly topic: string;
  /** Consumer group prefix; each instance reads the whole topic under its own group. */
  readonly groupBase: string;
  readonly catchUpTimeoutMs?: number;
  readonly log: (msg: string, err?: unknown) => void;
}

/** A case's highest head known here, and what its records on the topic said. */
interface Known extends Checkpoint {
  /** The highest version read from the topic (0: none yet). */
  read: number;
  /** The version of the case's last record read from the topic. */
  last: number;
}

/** How soon a failed republishing is tried again (ms). */
const RETRY_MS = 5_000;

let republishedCounter: Counter | undefined;
const republished = () =>
  (republishedCounter ??= metrics
    .getMeter('case-intake')
    .createCounter('enforcement.intake.checkpoints.republished', {
      description:
        "Heads republished because a case's last record on the checkpoints topic fell below its highest (an older head published late)",
    }));

/**
 * The head of every case as intake published it, kept on a compacted Kafka
 * topic (key = case id) that whoever can write the database cannot rewrite.
 * Each instance reads the whole topic into memory at start, before it serves,
 * and follows it; its own relay notes what it publishes at once. Only the
 * highest version seen per case counts, and only with a valid MAC, so an old
 * or forged record cannot lower a case's checkpoint here.
 *
 * Compaction keeps only each case's last record, though, and an instance may
 * publish an older head after a newer one (a crashed instance's commit swept
 * after its successors, by an instance that had not read their heads yet).
 * Whoever reads a valid record below the highest it read for that case
 * publishes the highest again, so the record compaction keeps is the
 * highest; at start, once read to the end, it does so for every case whose
 * last record is below its highest.
 */
export class KafkaCheckpoints implements Checkpoints {
  private readonly heads = new Map<string, Known>();
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  /** What each send reached, checked against what it was for. */
  private readonly delivery = new DeliveryCheck();
  private connected: Promise<void> | undefined;
  /** Read to the end once: a lower record is answered at once from then on. */
  private following = false;
  /** Cases whose republishing failed: tried again every few seconds while still lowered. */
  private readonly unanswered = new Set<string>();
  private retry: NodeJS.Timeout | undefined;
  private rejected = 0;
  /** Why the consumer that follows the topic stopped for good (kafkajs will not restart it). */
  private givenUp: string | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly keys: ChainKeys,
    private readonly opts: CheckpointOptions,
  ) {
    // Never commits offsets, so the group leaves nothing behind once the instance stops.
    this.consumer = kafka.consumer({ groupId: `${opts.groupBase}.${randomUUID()}` });
    this.producer = kafka.producer({ createPartitioner: this.delivery.createPartitioner });
    // A crash kafkajs restarts from (a broker outage) passes: the consumer
    // rejoins within about half a minute of the broker's return, and the
    // instance serves meanwhile. One it will not restart from stops the
    // instance hearing other instances' heads until it is restarted.
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) return;
      this.givenUp = `the consumer that follows ${opts.topic} stopped for good after: ${payload.error.message}; restart the process`;
      opts.log(this.givenUp, payload.error);
    });
  }

  /**
   * For readiness: rejects once kafkajs gave up the consumer that follows
   * the topic, which a restart mends.
   */
  readonly health = async (): Promise<true> => {
    if (this.givenUp) throw new NeedsRestart(this.givenUp);
    return true;
  };

  get(caseId: string): Checkpoint | undefined {
    return this.heads.get(caseId);
  }

  all(): Iterable<Checkpoint> {
    return this.heads.values();
  }

  get size(): number {
    return this.heads.size;
  }

  /** Records that failed their MAC (forged, or made with a key this instance lacks). */
  get rejectedRecords(): number {
    return this.rejected;
  }

  note(c: Checkpoint): void {
    const known = this.heads.get(c.caseId);
    if (!known || known.version < c.version)
      this.heads.set(c.caseId, {
        caseId: c.caseId,
        version: c.version,
        headHash: c.headHash,
        read: known?.read ?? 0,
        last: known?.last ?? 0,
      });
  }

  message(c: Checkpoint): Message {
    const body: CheckpointMessage = {
      caseId: c.caseId,
      version: c.version,
      headHash: c.headHash,
      keyId: this.keys.current,
      mac: checkpointMac(c, this.keys.current, this.keys),
    };
    return { key: c.caseId, value: JSON.stringify(body) };
  }

  /** Reads the topic up to its end as of now, then keeps following it. */
  async start(): Promise<void> {
    const timeoutMs = this.opts.catchUpTimeoutMs ?? 60_000;
    const ends = await this.topicEnds(Date.now() + timeoutMs);
    const pending = new Map(
      ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high)]),
    );
    let caughtUp!: () => void;
    const done = new Promise<void>((r) => (caughtUp = r));
    if (pending.size === 0) {
      this.following = true;
      caughtUp();
    }
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const lowered = this.apply(message.value);
        if (this.following) {
          if (lowered) await this.republish([lowered]);
          return;
        }
        const end = pending.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) {
          pending.delete(partition);
          if (pending.size === 0) {
            // What the topic's end left below its highest, before anything is served.
            this.following = true;
            await this.republish([...this.heads.values()].filter((k) => k.last < k.read));
            caughtUp();
          }
        }
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`checkpoints: not read to the end within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Where each partition ends now; a topic just created may not answer at once. */
  private async topicEnds(deadline: number) {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (;;) {
        try {
          return await admin.fetchTopicOffsets(this.opts.topic);
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    if (this.retry) clearInterval(this.retry);
    await this.consumer.disconnect();
    if (this.connected) await this.producer.disconnect().catch(() => undefined);
  }

  /** Publishes these cases' highest heads again; what fails is logged and tried again in a few seconds. */
  private async republish(cases: readonly Known[]): Promise<void> {
    if (cases.length === 0) return;
    for (const k of cases) this.unanswered.delete(k.caseId);
    try {
      this.connected ??= this.producer.connect();
      await this.connected;
      const messages = cases.map((k) => this.message(k));
      this.delivery.verify(
        [{ topic: this.opts.topic, messages }],
        await this.producer.send({ topic: this.opts.topic, acks: -1, messages }),
      );
      republished().add(cases.length);
      this.opts.log(
        `checkpoints: republished the highest head of ${cases.length} case(s) whose last record was lower (${cases
          .slice(0, 3)
          .map((k) => `${k.caseId} at ${k.version}, last ${k.last}`)
          .join('; ')})`,
      );
    } catch (e) {
      this.connected = undefined;
      this.opts.log('checkpoints: republishing a lowered head failed; trying again shortly', e);
      for (const k of cases) this.unanswered.add(k.caseId);
      this.retry ??= setInterval(() => void this.again(), RETRY_MS);
      this.retry.unref();
    }
  }

  /** Tries the failed ones again, those still lowered (a record read since may have answered them). */
  private async again(): Promise<void> {
    const still = [...this.unanswered]
      .map((id) => this.heads.get(id))
      .filter((k): k is Known => k !== undefined && k.last < k.read);
    this.unanswered.clear();
    if (still.length === 0) {
      clearInterval(this.retry);
      this.retry = undefined;
      return;
    }
    await this.republish(still);
  }

  /** Takes a record in; the case's known head when the record is below the highest read for it. */
  private apply(value: Buffer | null): Known | undefined {
    let m: CheckpointMessage;
    try {
      m = JSON.parse(value?.toString('utf8') ?? '') as CheckpointMessage;
      if (typeof m.caseId !== 'string' || !Number.isSafeInteger(m.version))
        throw new Error('shape');
      const mac = checkpointMac(m, m.keyId, this.keys);
      if (!sameHex(mac, String(m.mac))) throw new Error('mac');
    } catch (e) {
      this.rejected++;
      this.opts.log('checkpoints: a record failed its check and was ignored', e);
      return undefined;
    }
    this.note({ caseId: m.caseId, version: m.version, headHash: m.headHash });
    const known = this.heads.get(m.caseId);
    if (!known) return undefined;
    known.read = Math.max(known.read, m.version);
    known.last = m.version;
    return known.last < known.read ? known : undefined;
  }
}
