export { PartitionedCollection } from './partitioned.js';
export { bulkFailures, isDuplicateKey } from './errors.js';
export { connectMongo, ping } from './connect.js';
export { BatchedLookup } from './batched-lookup.js';
