import type { IHeaders, Producer } from 'kafkajs';
import { Header } from './topics.js';

/** The most of a message's value its dead letter keeps. */
export const DEAD_LETTER_VALUE_BYTES = 64 * 1024;

/** What a dead letter carries, before it is cut to what its topic takes. */
export interface DeadLetter {
  readonly key: Buffer | string | null;
  readonly value: Buffer | null;
  readonly headers: IHeaders;
}

/**
 * Sends a dead letter as whole as its topic takes it: the value cut to
 * DEAD_LETTER_VALUE_BYTES (`truncated`), its size recorded (`original-size`);
 * when the topic refuses that for good (its `max.message.bytes` is smaller),
 * the letter without its value (`value-dropped`), after telling `refused`.
 * Throws what Kafka answered when it refuses even that, or when the refusal
 * may pass (a retry sends the letter again). What a dead letter stands for
 * is on its source topic whole.
 */
export async function sendDeadLetter(
  producer: Producer,
  topic: string,
  letter: DeadLetter,
  refused: (e: unknown) => void = () => undefined,
): Promise<void> {
  const { value } = letter;
  const cut = value !== null && value.length > DEAD_LETTER_VALUE_BYTES;
  const headers: IHeaders = {
    ...letter.headers,
    'original-size': String(value?.length ?? 0),
    ...(cut ? { truncated: 'true' } : {}),
  };
  const copy = {
    key: letter.key,
    value: cut ? value.subarray(0, DEAD_LETTER_VALUE_BYTES) : value,
    headers,
  };
  const send = (m: typeof copy) => producer.send({ topic, acks: -1, messages: [m] });
  try {
    await send(copy);
  } catch (e) {
    if ((e as { retriable?: boolean }).retriable !== false) throw e;
    refused(e);
    await send({ ...copy, value: null, headers: { ...headers, 'value-dropped': 'true' } });
  }
}

/**
 * A projection's dead letters: a message that cannot be applied, with the
 * reason in a header. A topic that refuses even the letter without its value
 * fails the chunk, which is retried: the partition waits (and readiness says
 * so) rather than lose the only record of what it skipped.
 */
export class KafkaDeadLetters {
  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly refused: (e: unknown) => void = () => undefined,
  ) {}

  async send(key: string | null, value: Buffer | null, reason: string): Promise<void> {
    try {
      await sendDeadLetter(
        this.producer,
        this.topic,
        { key, value, headers: { [Header.error]: reason.slice(0, 1_000) } },
        this.refused,
      );
    } catch (e) {
      throw new Error(
        `dead-letter topic ${this.topic} did not take the letter of ${key ?? 'a message without a key'} (${reason.slice(0, 200)}): ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
}
