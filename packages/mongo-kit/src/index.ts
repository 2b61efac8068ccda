export { PartitionedCollection } from './partitioned.js';
export { isDuplicateKey } from './errors.js';
export { connectMongo } from './connect.js';
export { BatchedLookup } from './batched-lookup.js';
