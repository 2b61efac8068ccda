import type { Producer } from 'kafkajs';
import { Header } from './topics.js';

/** Sends a message that cannot be applied to a dead-letter topic, as it came, with the reason in a header. */
export class KafkaDeadLetters {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  async send(key: string | null, value: Buffer | null, reason: string): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [{ key, value, headers: { [Header.error]: reason } }],
    });
  }
}
