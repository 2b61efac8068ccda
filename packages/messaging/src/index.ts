export { Topics, Header, namespaced, namespacedGroup, type TopicNames } from './topics.js';
export {
  createKafka,
  ensureTopics,
  groupLag,
  GroupLag,
  type KafkaLogEntry,
  type Lag,
} from './kafka.js';
export {
  traceHeaders,
  contextFromHeaders,
  headerString,
  processTraced,
  startPublishSpan,
  projectionMetrics,
  type ProjectionMetrics,
} from './trace.js';
export {
  chunkedProjection,
  projectionFetch,
  type Delivery,
  type ProjectionStats,
} from './chunks.js';
export {
  KafkaDeadLetters,
  sendDeadLetter,
  DEAD_LETTER_VALUE_BYTES,
  type DeadLetter,
} from './dead-letters.js';
export { ConsumerHealth } from './consumer-health.js';
export { partitionMetadata, partitionOfKey } from './partitioner.js';
export { DeliveryCheck, UndeliveredError } from './delivery.js';
export { feedOf, encodeFeedMark, decodeFeedMark, type FeedMark } from './feed-marks.js';
export { deleteGroups, heartbeating, memberlessGroups, SHARED_GROUP_MEMBERSHIP } from './groups.js';
