import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { DomainError, type ErrorKind } from '@enforcement/errors';

const statusOfKind: Record<ErrorKind, status> = {
  INVALID: status.INVALID_ARGUMENT,
  PRECONDITION: status.FAILED_PRECONDITION,
  CONFLICT: status.ABORTED,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  NOT_FOUND: status.NOT_FOUND,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
};

export const grpcStatusOf = (kind: ErrorKind): status => statusOfKind[kind];

/** Trailer key carrying the stable domain error code, for clients that branch on it. */
export const ERROR_CODE_KEY = 'x-error-code';
export const ERROR_FIELD_KEY = 'x-error-field';

/**
 * Maps anything a handler threw to a gRPC status. Domain errors keep their
 * message and code; anything else is INTERNAL without internals leaking.
 */
export function toServiceError(
  err: unknown,
  onUnexpected?: (err: unknown) => void,
): Partial<ServiceError> {
  if (err instanceof DomainError) {
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_KEY, err.code);
    if (err.field) metadata.set(ERROR_FIELD_KEY, err.field);
    return { code: grpcStatusOf(err.kind), details: `${err.code}: ${err.message}`, metadata };
  }
  if (isTransient(err)) {
    onUnexpected?.(err);
    const metadata = new Metadata();
    metadata.set(ERROR_CODE_KEY, UNAVAILABLE_CODE);
    return {
      code: status.UNAVAILABLE,
      details: `${UNAVAILABLE_CODE}: a store, broker or service this service needs did not answer; retry with backoff (the same command again is safe)`,
      metadata,
    };
  }
  onUnexpected?.(err);
  return { code: status.INTERNAL, details: 'internal error' };
}

export const UNAVAILABLE_CODE = 'SERVICE.UNAVAILABLE';

/** Driver errors that mean the server was out of reach, not that the request was wrong. */
const TRANSIENT_NAMES = new Set([
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongoNotConnectedError',
  'MongoPoolClearedError',
  'PoolClearedOnNetworkError',
  'PoolClearedError',
  'MongoPoolClosedError',
  'MongoServerClosedError',
  'MongoTopologyClosedError',
  'MongoOperationTimeoutError',
  'MongoWaitQueueTimeoutError',
  'KafkaJSConnectionError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSBrokerNotFound',
  // @enforcement/errors: a store or broker read given up past its deadline.
  'DeadlineError',
]);
/**
 * What FerretDB answers while its PostgreSQL is down or restarting: pgx's
 * words for a refused, reset or timed-out connection and for its pool closing
 * (`closed pool`), and PostgreSQL's own for a server going down or starting.
 */
const BACKEND_DOWN =
  /connection refused|failed to connect|connect: |terminating connection|unexpected postmaster exit|the database system is (starting up|shutting down|in recovery|not yet accepting connections)|conn closed|receive message failed|connection reset by peer|closed pool|i\/o timeout|unexpected EOF|broken pipe|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|connection \d+ to \S+ (closed|timed out)|pool closed|context deadline exceeded|SQLSTATE (57P0[1-3]|08\d\d\d)/i;

/**
 * What another service's gRPC answer says when it was out of reach or did
 * not answer in time (intake, read by scoring's release): an outage, as a
 * store's is.
 */
const DOWNSTREAM_DOWN = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

const isMetadata = (m: unknown): boolean =>
  typeof m === 'object' && m !== null && typeof (m as Metadata).getMap === 'function';

/**
 * Whether an error is a transient outage (the database, the broker or a
 * service this one calls out of reach or restarting), which a client should
 * retry: UNAVAILABLE, never INTERNAL.
 */
export function isTransient(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 3) return false;
  const e = err as {
    name?: string;
    message?: string;
    cause?: unknown;
    errorLabels?: unknown;
    code?: unknown;
    metadata?: unknown;
    errorResponse?: unknown;
  };
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  // A grpc-js client's error: a numeric code beside the answer's metadata.
  if (typeof e.code === 'number' && isMetadata(e.metadata) && DOWNSTREAM_DOWN.has(e.code))
    return true;
  if (Array.isArray(e.errorLabels) && e.errorLabels.includes('ResetPool')) return true;
  // FerretDB answers ok: 0 when its PostgreSQL is gone; the driver reports
  // that as a server error, or as a bulk write error with no write errors.
  if (
    (e.name === 'MongoServerError' || e.name === 'MongoBulkWriteError') &&
    BACKEND_DOWN.test(e.message ?? '')
  )
    return true;
  // The driver's bulk write error carries what failed under it as its
  // response, not as its cause: an insert under a pool cleared because the
  // server's monitor timed out (FerretDB frozen) comes so, with no write
  // errors, and was answered INTERNAL.
  if (e.name === 'MongoBulkWriteError' && isTransient(e.errorResponse, depth + 1)) return true;
  return isTransient(e.cause, depth + 1);
}
