import { describe, expect, it } from 'vitest';
import { UnansweredCommands } from './connect.js';

const sent = (requestId: number, commandName: string, command: Record<string, unknown>) => ({
  requestId,
  commandName,
  databaseName: 'scoring',
  command,
});

describe('the commands a client has had no answer to', () => {
  it('names the one that has waited longest, until it is answered or fails', () => {
    const u = new UnansweredCommands();
    expect(u.oldest(1_000)).toBeUndefined();
    u.started(sent(1, 'update', { update: 'cases_3' }), 1_000);
    u.started(sent(2, 'find', { find: 'rollups' }), 4_000);
    expect(u.oldest(20_000)).toEqual({ what: 'update on scoring.cases_3', waitedMs: 19_000 });
    u.answered(1);
    expect(u.oldest(20_000)).toEqual({ what: 'find on scoring.rollups', waitedMs: 16_000 });
    u.answered(2);
    expect(u.oldest(20_000)).toBeUndefined();
  });

  it('names a getMore by its collection, and a command on no collection by its database', () => {
    const u = new UnansweredCommands();
    u.started(sent(7, 'getMore', { getMore: 123n, collection: 'orders' }), 0);
    expect(u.oldest(5)?.what).toBe('getMore on scoring.orders');
    u.answered(7);
    u.started(sent(8, 'ping', { ping: 1 }), 0);
    expect(u.oldest(5)?.what).toBe('ping on scoring');
  });

  it('forgets a command older than any socket would wait (its end was never seen)', () => {
    const u = new UnansweredCommands();
    u.started(sent(1, 'insert', { insert: 'commits' }), 0);
    u.started(sent(2, 'insert', { insert: 'outbox' }), 100_000);
    expect(u.oldest(125_000)).toEqual({ what: 'insert on scoring.outbox', waitedMs: 25_000 });
  });
});
