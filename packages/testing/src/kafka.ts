import { Kafka, logLevel } from 'kafkajs';

/**
 * Waits until the broker accepts a record of `bytes` on the topic. A topic's
 * config change is acknowledged by the controller before every broker applies
 * it. The probe is a record with an empty value under a key no case has,
 * which readers of the topic skip by key.
 */
export async function untilTopicTakes(
  brokers: readonly string[],
  topic: string,
  bytes: number,
): Promise<void> {
  const kafka = new Kafka({
    clientId: 'topic-probe',
    brokers: [...brokers],
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({ retry: { retries: 0 } });
  await producer.connect();
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await producer.send({ topic, messages: [{ key: 'probe-'.padEnd(bytes, 'p'), value: '' }] });
        return;
      } catch (e) {
        if (Date.now() > deadline)
          throw new Error(`timed out after 30000 ms waiting for ${topic} to take ${bytes} bytes`, {
            cause: e,
          });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await producer.disconnect();
  }
}
