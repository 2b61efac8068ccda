import { Partitioners } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();

/**
 * The partition a keyed message goes to among `count`, as producers using
 * kafkajs's default partitioner (intake's relay) and Java clients place it
 * (murmur2 of the key).
 */
export function partitionOfKey(key: string, count: number): number {
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`a topic's partition count must be a positive integer, got ${count}`);
  return partitioner({
    topic: '',
    partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
      offlineReplicas: [],
    })),
    message: { key, value: null },
  });
}
