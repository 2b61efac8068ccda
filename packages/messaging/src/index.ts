export { Topics, Header, namespaced, type TopicNames } from './topics.js';
export { createKafka, ensureTopics, groupLag } from './kafka.js';
export {
  traceHeaders,
  contextFromHeaders,
  headerString,
  processTraced,
  startPublishSpan,
  projectionMetrics,
} from './trace.js';
export { KafkaDeadLetters } from './dead-letters.js';
