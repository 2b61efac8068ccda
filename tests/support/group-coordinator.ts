import { Kafka, logLevel, type Admin } from 'kafkajs';

/** Java's `String.hashCode`: over UTF-16 code units, wrapping at 32 bits. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * The `__consumer_offsets` partition that holds a group's state, as Kafka
 * places it: `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`,
 * where `Utils.abs` takes Integer.MIN_VALUE to 0.
 */
export function offsetsPartitionOf(groupId: string, partitions: number): number {
  const h = javaStringHash(groupId);
  return (h === -0x80000000 ? 0 : Math.abs(h)) % partitions;
}

/**
 * The node id of the broker that coordinates `groupId` now: the leader of
 * its offsets partition. Undefined when that partition has no leader.
 */
export async function groupCoordinator(
  brokers: string[],
  groupId: string,
): Promise<number | undefined> {
  return withAdmin(brokers, async (admin) => {
    const meta = await admin.fetchTopicMetadata({ topics: ['__consumer_offsets'] });
    const partitions = meta.topics[0]?.partitions ?? [];
    const at = offsetsPartitionOf(groupId, partitions.length);
    const leader = partitions.find((p) => p.partitionId === at)?.leader;
    return leader === undefined || leader < 0 ? undefined : leader;
  });
}

/** The groups on the cluster whose ids start with `prefix`. */
export async function groupsUnder(brokers: string[], prefix: string): Promise<string[]> {
  return withAdmin(brokers, async (admin) => {
    const { groups } = await admin.listGroups();
    return groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  });
}

/** Runs `ask` with an admin client of the cluster, disconnected after. */
async function withAdmin<T>(brokers: string[], ask: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({
    clientId: 'group-coordinator',
    brokers,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    return await ask(admin);
  } finally {
    await admin.disconnect();
  }
}
