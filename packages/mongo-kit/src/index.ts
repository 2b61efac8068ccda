export { PartitionedCollection } from './partitioned.js';
export { bulkFailures, ignoreDuplicates, isDuplicateKey, onlyDuplicates } from './errors.js';
export {
  connectMongo,
  ping,
  SOCKET_TIMEOUT_MS,
  UnansweredCommands,
  type MongoHandle,
} from './connect.js';
export { BatchedLookup } from './batched-lookup.js';
export { dumpDocuments, readBson, sha256File, type DumpedFile } from './dump.js';
export { deflatedJson, inflatedJson } from './blob.js';
export { asFieldName, fromFieldName } from './field-names.js';
