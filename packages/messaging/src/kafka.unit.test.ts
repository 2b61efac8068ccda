import { describe, expect, it } from 'vitest';
import { createKafka, type KafkaLogEntry } from './kafka.js';

/** What a service's logger gets from kafkajs's own error logs. */
function logged(message: string, error: string): KafkaLogEntry[] {
  const entries: KafkaLogEntry[] = [];
  const kafka = createKafka(['127.0.0.1:1'], 'test', (e) => entries.push(e));
  kafka.logger().namespace('Connection').error(message, { error, broker: '127.0.0.1:1' });
  return entries;
}

describe("kafkajs's error logs, as a service writes them", () => {
  it('leaves out a group rebalancing, which kafkajs rejoins by itself (every instance that starts or stops causes one)', () => {
    expect(
      logged(
        'Response Heartbeat(key: 12, version: 3)',
        'The group is rebalancing, so a rejoin is needed',
      ),
    ).toEqual([]);
    expect(
      logged(
        'Response JoinGroup(key: 11, version: 5)',
        "The coordinator is loading and hence can't process requests",
      ),
    ).toEqual([]);
  });

  it('keeps what kafkajs does not retry, with its namespace and error', () => {
    expect(
      logged(
        'Response Produce(key: 0, version: 7)',
        'The request included a message larger than the max message size the server will accept',
      ),
    ).toEqual([
      {
        level: 'error',
        namespace: 'Connection',
        message: 'Response Produce(key: 0, version: 7)',
        error:
          'The request included a message larger than the max message size the server will accept',
        broker: '127.0.0.1:1',
      },
    ]);
  });
});
