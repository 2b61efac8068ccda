import { Partitioners, type PartitionMetadata } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();
/** partitionMetadata by count, made once each. */
const metadataOf = new Map<number, PartitionMetadata[]>();

/** Metadata of a topic's `count` partitions, each led by broker `leader`: what a partitioner is given. */
export function partitionMetadata(count: number, leader = 0): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader,
    partitionErrorCode: 0,
    replicas: [leader],
    isr: [leader],
    offlineReplicas: [],
  }));
}

/**
 * The partition a keyed message goes to among `count`, as producers using
 * kafkajs's default partitioner (intake's relay) and Java clients place it
 * (murmur2 of the key).
 */
export function partitionOfKey(key: string | Buffer, count: number): number {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`a topic's partition count must be a positive integer, got ${count}`);
  // Asked for every message a producer checks (DeliveryCheck): the metadata is made once per count.
  let metadata = metadataOf.get(count);
  if (!metadata) metadataOf.set(count, (metadata = partitionMetadata(count)));
  return partitioner({ topic: '', partitionMetadata: metadata, message: { key, value: null } });
}
