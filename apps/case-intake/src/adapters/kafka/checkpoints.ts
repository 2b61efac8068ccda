import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, Message } from 'kafkajs';
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

/**
 * The head of every case as intake published it, kept on a compacted Kafka
 * topic (key = case id) that whoever can write the database cannot rewrite.
 * Each instance reads the whole topic into memory at start, before it serves,
 * and follows it; its own relay notes what it publishes at once. Only the
 * highest version seen per case counts, and only with a valid MAC, so an old
 * or forged record cannot lower a case's checkpoint.
 */
export class KafkaCheckpoints implements Checkpoints {
  private readonly heads = new Map<string, Checkpoint>();
  private readonly consumer: Consumer;
  private rejected = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly keys: ChainKeys,
    private readonly opts: CheckpointOptions,
  ) {
    // Never commits offsets, so the group leaves nothing behind once the instance stops.
    this.consumer = kafka.consumer({ groupId: `${opts.groupBase}.${randomUUID()}` });
  }

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
    if (!known || known.version < c.version) this.heads.set(c.caseId, c);
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
    if (pending.size === 0) caughtUp();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.opts.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        this.apply(message.value);
        const end = pending.get(partition);
        if (end !== undefined && Number(message.offset) + 1 >= end) {
          pending.delete(partition);
          if (pending.size === 0) caughtUp();
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
    await this.consumer.disconnect();
  }

  private apply(value: Buffer | null): void {
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
      return;
    }
    this.note({ caseId: m.caseId, version: m.version, headHash: m.headHash });
  }
}
