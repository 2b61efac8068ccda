import { status } from '@grpc/grpc-js';
import { DomainError } from '@enforcement/errors';
import { grpcStatusOf, toServiceError } from '@enforcement/grpc-kit';

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
  // The same answer a unary call gets: UNAVAILABLE for an outage, else INTERNAL.
  const se = toServiceError(e, onUnexpected);
  const code = se.code ?? status.INTERNAL;
  return {
    accepted: false,
    errorCode:
      code === status.UNAVAILABLE ? String(se.metadata?.get('x-error-code')[0]) : 'INTERNAL',
    statusCode: code,
    reason: se.details ?? 'internal error',
  };
}
