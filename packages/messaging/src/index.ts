export { Topics, Header, namespaced, type TopicNames } from './topics.js';
export { createKafka, ensureTopics } from './kafka.js';
export {
  traceHeaders,
  contextFromHeaders,
  headerString,
  processTraced,
  startPublishSpan,
} from './trace.js';
