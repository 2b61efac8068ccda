export {
  createGrpcServer,
  LIVENESS,
  serviceNameOf,
  type GrpcServer,
  type ServerIdentity,
  type ServerTransport,
} from './server.js';
export {
  toServiceError,
  grpcStatusOf,
  isTransient,
  ERROR_CODE_KEY,
  ERROR_FIELD_KEY,
  UNAVAILABLE_CODE,
} from './errors.js';
export { listServicesByReflection, filesForSymbol } from './reflection-client.js';
export { DescriptorReflection } from './reflection.js';
export {
  channelCredentialsFrom,
  clientChannelOptions,
  RECONNECT_MAX_MS,
  serverCredentialsFrom,
  type TransportSettings,
} from './transport.js';
export { undecodable, UNDECODABLE_CODE, type Undecodable } from './tolerant.js';
export { BUSY_CODE, RequestBudget } from './request-budget.js';
export { requestProblem, requestTypeOf } from './request-check.js';
export { asStored, refuseNul, textWithNul } from './request-text.js';
export { watchReadiness, type Readiness, type ReadinessCheck } from './readiness.js';
export { checkHealth } from './health-client.js';
export { unaryDeadlines } from './deadlines.js';
export { cursorOf, tokenAfter, type PageCursor } from './page-token.js';
export {
  drained,
  readerStalled,
  resourceExhausted,
  READER_STALLED_CODE,
  type ReaderOfStream,
} from './drained.js';
