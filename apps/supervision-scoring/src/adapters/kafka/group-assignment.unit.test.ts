import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { AssignerProtocol, type Consumer, type GroupDescription } from 'kafkajs';
import { GroupAssignment } from './group-assignment.js';

const EVENTS = {
  GROUP_JOIN: 'consumer.group_join',
  REBALANCING: 'consumer.rebalancing',
  HEARTBEAT: 'consumer.heartbeat',
};

/**
 * The part of a kafkajs consumer the assignment listens to and asks,
 * scripted: the events kafkajs would emit, and what the group's coordinator
 * would answer.
 */
function scripted() {
  const bus = new EventEmitter();
  const clock = { now: 0 };
  const broker: { group: GroupDescription; asked: number; answer?: Promise<void> } = {
    group: {
      groupId: 'g',
      members: [],
      protocol: '',
      protocolType: '',
      state: 'Stable',
    },
    asked: 0,
  };
  const consumer = {
    events: EVENTS,
    on: (event: string, listener: (e: unknown) => void) => {
      bus.on(event, listener);
      return () => bus.off(event, listener);
    },
    describeGroup: async () => {
      broker.asked++;
      const group = broker.group;
      await broker.answer;
      return group;
    },
  } as unknown as Consumer;
  const said: string[] = [];
  const assignment = new GroupAssignment(consumer, 'events', {
    doubtMs: 10_000,
    learned: (partitions, how) => said.push(`${how} ${partitions.join(',')}`),
    now: () => clock.now,
  });
  assignment.watch();
  const member = (memberId: string, partitions: number[]) => ({
    memberId,
    clientId: 'scoring',
    clientHost: '/127.0.0.1',
    memberMetadata: Buffer.alloc(0),
    memberAssignment: AssignerProtocol.MemberAssignment.encode({
      version: 0,
      assignment: { events: partitions },
      userData: Buffer.alloc(0),
    }),
  });
  return {
    assignment,
    said,
    clock,
    broker,
    member,
    join: (memberId: string, partitions: number[]) =>
      bus.emit(EVENTS.GROUP_JOIN, {
        payload: { memberId, memberAssignment: { events: partitions } },
      }),
    rebalancing: () => bus.emit(EVENTS.REBALANCING, { payload: {} }),
    heartbeat: (memberId: string) => bus.emit(EVENTS.HEARTBEAT, { payload: { memberId } }),
  };
}

describe('the partitions a scoring process holds', () => {
  it('are what the group gave at its join, and none while it rebalances', () => {
    const s = scripted();
    s.join('m1', [0, 2]);
    expect(s.assignment.partitions).toEqual([0, 2]);
    s.rebalancing();
    expect(s.assignment.partitions).toEqual([]);
    s.join('m1', [1]);
    expect(s.assignment.partitions).toEqual([1]);
    expect(s.said).toEqual(['joined 0,2', 'joined 1']);
  });

  it('are learned from the broker when a rebalance goes without a join, as after a join that failed', async () => {
    const s = scripted();
    s.join('m1', [0, 2]);
    s.rebalancing();
    s.broker.group = {
      ...s.broker.group,
      members: [s.member('m2', [1, 3]), s.member('m1', [0, 2])],
    };
    s.clock.now = 9_999;
    await s.assignment.reconcile();
    expect(s.broker.asked).toBe(0);
    expect(s.assignment.partitions).toEqual([]);
    s.clock.now = 10_000;
    await s.assignment.reconcile();
    expect(s.assignment.partitions).toEqual([0, 2]);
    expect(s.assignment.rebalancing).toBe(false);
    expect(s.said.at(-1)).toBe('no join followed the rebalance; the broker says 0,2');
    // Learned, it asks no more.
    await s.assignment.reconcile();
    expect(s.broker.asked).toBe(1);
  });

  it('follow the member id of the latest heartbeat', async () => {
    const s = scripted();
    s.join('m1', [0]);
    s.rebalancing();
    s.heartbeat('m3');
    s.broker.group = { ...s.broker.group, members: [s.member('m1', [0]), s.member('m3', [1])] };
    s.clock.now = 10_000;
    await s.assignment.reconcile();
    expect(s.assignment.partitions).toEqual([1]);
  });

  it('stay none while the group is not stable or does not list this member, and it keeps asking', async () => {
    const s = scripted();
    s.join('m1', [0, 2]);
    s.rebalancing();
    s.clock.now = 10_000;
    s.broker.group = {
      ...s.broker.group,
      state: 'PreparingRebalance',
      members: [s.member('m1', [0, 2])],
    };
    await s.assignment.reconcile();
    expect(s.assignment.partitions).toEqual([]);
    s.broker.group = {
      ...s.broker.group,
      state: 'Stable',
      members: [s.member('m2', [0, 1, 2, 3])],
    };
    await s.assignment.reconcile();
    expect(s.assignment.partitions).toEqual([]);
    expect(s.assignment.rebalancing).toBe(true);
    expect(s.broker.asked).toBe(2);
  });

  it('are not set from an answer a later rebalance overtook', async () => {
    const s = scripted();
    s.join('m1', [0, 2]);
    s.rebalancing();
    s.clock.now = 10_000;
    s.broker.group = { ...s.broker.group, members: [s.member('m1', [0, 2])] };
    let answer = () => undefined as void;
    s.broker.answer = new Promise<void>((r) => (answer = r));
    const asking = s.assignment.reconcile();
    s.rebalancing();
    answer();
    await asking;
    expect(s.assignment.partitions).toEqual([]);
  });
});
