/**
 * What kind of rule a request broke. Transports map kinds to their own codes
 * (gRPC: INVALID_ARGUMENT, FAILED_PRECONDITION, ABORTED, ...); the domain
 * never names a transport.
 */
export type ErrorKind =
  | 'INVALID'
  | 'PRECONDITION'
  | 'CONFLICT'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN';

/**
 * A broken rule, with a stable code (`DISPATCH.TOO_FEW_OFFICERS`) that clients
 * may branch on, and, for bad input, the field at fault.
 */
export class DomainError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly field: string | undefined;

  constructor(code: string, kind: ErrorKind, message: string, field?: string) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.kind = kind;
    this.field = field;
  }
}

/**
 * A store or broker that did not answer within the time this service gives
 * it: an outage as the caller sees it (gRPC UNAVAILABLE, retry with backoff),
 * not a broken rule, and not a fault of the service.
 */
export class DeadlineError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not answer within ${ms} ms`);
    this.name = 'DeadlineError';
  }
}

/**
 * A readiness check's failure that lies in this process and that only a
 * restart mends: a Kafka consumer kafkajs stopped for good, a fetch loop that
 * stopped while the broker answers. Every other failure (a database or a
 * broker away) passes by itself, and restarting would only take away what
 * the process still does meanwhile; health's `liveness` name fails for this
 * kind alone.
 */
export class NeedsRestart extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NeedsRestart';
  }
}

/** `p`, or a DeadlineError naming `what` once `ms` have passed; the timer does not outlive it. */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export const invalid = (code: string, field: string, message: string): DomainError =>
  new DomainError(code, 'INVALID', `${field}: ${message}`, field);

export const precondition = (code: string, message: string): DomainError =>
  new DomainError(code, 'PRECONDITION', message);

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
