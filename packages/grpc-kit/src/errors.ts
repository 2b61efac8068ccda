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
  onUnexpected?.(err);
  return { code: status.INTERNAL, details: 'internal error' };
}
