import type { Admin, ConsumerConfig, Kafka } from 'kafkajs';

/**
 * The membership of a group whose members share partitions (the ingress's
 * intakes, scoring's and reporting's projections): a member that stops
 * heartbeating (killed) leaves the group after 10 s, Kafka's own default,
 * not kafkajs's 30 s. Until it leaves, a rebalance waits for it and no
 * member reads anything, so an instance restarted after a kill -9 says
 * NOT_SERVING until then. Members heartbeat every second, during a batch
 * too (a batch handler heartbeats while its store works).
 */
export const SHARED_GROUP_MEMBERSHIP = {
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
} as const satisfies Pick<ConsumerConfig, 'sessionTimeout' | 'heartbeatInterval'>;

/**
 * Runs a batch's `work`, heartbeating meanwhile, however long it waits on a
 * store: kafkajs heartbeats only between batches and when asked (it sends
 * one when the group's interval has passed), and a member silent for the
 * session is dropped from its group.
 */
export async function heartbeating<T>(
  heartbeat: () => Promise<void>,
  work: () => Promise<T>,
): Promise<T> {
  const beat = setInterval(
    () => void heartbeat().catch(() => undefined),
    SHARED_GROUP_MEMBERSHIP.heartbeatInterval,
  );
  try {
    return await work();
  } finally {
    clearInterval(beat);
  }
}

/**
 * Consumer groups under `prefix` with no member left: those of readers that
 * each instance runs under a group of its own (a random suffix) and that
 * were killed before they could delete it.
 */
export async function memberlessGroups(admin: Admin, prefix: string): Promise<string[]> {
  const ids = (await admin.listGroups()).groups
    .map((g) => g.groupId)
    .filter((id) => id.startsWith(prefix));
  if (ids.length === 0) return [];
  const { groups } = await admin.describeGroups(ids);
  return groups.filter((g) => g.members.length === 0).map((g) => g.groupId);
}

/**
 * Deletes the groups `which` names, best effort: a group that gained a member
 * meanwhile, or that another instance deleted first, is left as it is;
 * anything else is handed to `onError`.
 */
export async function deleteGroups(
  kafka: Kafka,
  which: (admin: Admin) => Promise<string[]>,
  onError: (e: unknown) => void,
): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const ids = await which(admin);
    if (ids.length > 0)
      await admin.deleteGroups(ids).catch((e: { groups?: { error?: { type?: string } }[] }) => {
        const benign = (e.groups ?? []).every((g) =>
          ['NON_EMPTY_GROUP', 'GROUP_ID_NOT_FOUND'].includes(g.error?.type ?? ''),
        );
        if (!benign || !e.groups) onError(e);
      });
  } catch (e) {
    onError(e);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
