import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { IntakeDeps } from '../../application/execute-command.js';
import { KafkaIngress } from './ingress.js';

const EVENTS = { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' };

/** The part of kafkajs the ingress uses, scripted: each consumer made is kept, to emit its events. */
function scripted() {
  const consumers: (EventEmitter & { events: typeof EVENTS })[] = [];
  const kafka = {
    consumer: () => {
      const c = Object.assign(new EventEmitter(), {
        events: EVENTS,
        connect: async () => undefined,
        disconnect: async () => undefined,
        subscribe: async () => undefined,
        run: async () => undefined,
      });
      consumers.push(c);
      return c;
    },
    producer: () => ({ connect: async () => undefined, disconnect: async () => undefined }),
    admin: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      describeConfigs: async () => ({
        resources: [
          {
            configEntries: [{ configName: 'message.timestamp.type', configValue: 'LogAppendTime' }],
          },
        ],
      }),
    }),
  };
  return { kafka: kafka as unknown as Kafka, consumers };
}

describe('the Kafka ingress says whether it consumes', () => {
  it('is running again once kafkajs restarted its consumer after a retriable crash', async () => {
    const { kafka, consumers } = scripted();
    const ingress = new KafkaIngress(kafka, {} as IntakeDeps, {
      groupId: 'g',
      topics: { submissions: 's', receipts: 'r', deadLetter: 'd' },
      verify: async () => ({ subject: 'x', roles: [], agencies: [] }),
      onUnexpected: () => undefined,
      ledger: {
        load: () => Promise.resolve(new Map()),
        raise: () => Promise.resolve(),
        refused: () => Promise.resolve(),
        forget: () => Promise.resolve(0),
      },
    });
    await ingress.start();
    expect(ingress.running).toBe(true);
    const [consumer] = consumers;
    // kafkajs restarts this one itself (restart: true): it crashed, then joins the group again.
    consumer?.emit(EVENTS.CRASH, { payload: { error: new Error('store gone'), restart: true } });
    expect(ingress.running).toBe(false);
    consumer?.emit(EVENTS.GROUP_JOIN, { payload: { memberAssignment: { s: [0] } } });
    expect(ingress.running).toBe(true);
    expect(consumers).toHaveLength(1);
    await ingress.stop();
    expect(ingress.running).toBe(false);
  });
});
