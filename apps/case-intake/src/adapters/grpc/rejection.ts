import { status } from '@grpc/grpc-js';
import { DomainError } from '@enforcement/errors';
import { grpcStatusOf } from '@enforcement/grpc-kit';

export interface Rejection {
  readonly accepted: false;
  readonly errorCode: string;
  readonly statusCode: number;
  readonly reason: string;
}

/** A per-item refusal, for streams and receipts: the same code and status a unary call would get. */
export function rejection(e: unknown, onUnexpected?: (err: unknown) => void): Rejection {
  if (e instanceof DomainError)
    return {
      accepted: false,
      errorCode: e.code,
      statusCode: grpcStatusOf(e.kind),
      reason: e.message,
    };
  onUnexpected?.(e);
  return {
    accepted: false,
    errorCode: 'INTERNAL',
    statusCode: status.INTERNAL,
    reason: 'internal error',
  };
}
