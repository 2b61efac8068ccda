import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { scoring } from '@enforcement/contracts';
import type { ScoreSink } from '../../application/ports.js';
import { toCaseScore } from '../../application/queries.js';
import type { CaseView } from '../../domain/case-view.js';
import type { CaseScoreResult } from '../../domain/scoring-model.js';

/**
 * Live score updates across instances: whichever instance computes a score
 * publishes it to the scores topic; every instance reads that topic (its own
 * group, from the latest offset) and fans it out to its WatchScores streams.
 */
export class KafkaScoreHub implements ScoreSink {
  private readonly emitter = new EventEmitter();
  private readonly consumer: Consumer;

  constructor(
    kafka: Kafka,
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly onError: (e: unknown) => void,
  ) {
    this.emitter.setMaxListeners(0);
    this.consumer = kafka.consumer({
      groupId: `scoring-watch-${randomUUID()}`,
      maxWaitTimeInMs: 100,
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: false });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        try {
          this.emitter.emit('score', scoring.CaseScore.decode(message.value));
        } catch (e) {
          this.onError(e);
        }
      },
    });
    await joined;
  }

  changed(view: CaseView, score: CaseScoreResult): void {
    const value = Buffer.from(scoring.CaseScore.encode(toCaseScore(view, score)).finish());
    this.producer
      .send({ topic: this.topic, messages: [{ key: view.caseId, value }] })
      .catch(this.onError);
  }

  subscribe(listener: (s: scoring.CaseScore) => void): () => void {
    this.emitter.on('score', listener);
    return () => this.emitter.off('score', listener);
  }

  async stop(): Promise<void> {
    this.emitter.removeAllListeners();
    await this.consumer.disconnect();
  }
}
