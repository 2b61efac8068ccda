import { describe, expect, it } from 'vitest';
import { Metadata, status } from '@grpc/grpc-js';
import { DeadlineError, DomainError, invalid } from '@enforcement/errors';
import { ERROR_CODE_KEY, ERROR_FIELD_KEY, toServiceError } from './errors.js';

describe('toServiceError', () => {
  it.each([
    ['INVALID', status.INVALID_ARGUMENT],
    ['PRECONDITION', status.FAILED_PRECONDITION],
    ['CONFLICT', status.ABORTED],
    ['ALREADY_EXISTS', status.ALREADY_EXISTS],
    ['NOT_FOUND', status.NOT_FOUND],
    ['UNAUTHENTICATED', status.UNAUTHENTICATED],
    ['FORBIDDEN', status.PERMISSION_DENIED],
  ] as const)('maps a %s domain error to gRPC status %i', (kind, code) => {
    expect(toServiceError(new DomainError('X.Y', kind, 'broken')).code).toBe(code);
  });

  it('names the rule and the field in the details and trailers', () => {
    const err = toServiceError(
      invalid('DISPATCH.TOO_FEW_OFFICERS', 'officers', 'at least two certified officers'),
    );
    expect(err.details).toBe(
      'DISPATCH.TOO_FEW_OFFICERS: officers: at least two certified officers',
    );
    expect(err.metadata?.get(ERROR_CODE_KEY)).toEqual(['DISPATCH.TOO_FEW_OFFICERS']);
    expect(err.metadata?.get(ERROR_FIELD_KEY)).toEqual(['officers']);
  });

  it('hides unexpected errors behind INTERNAL and reports them', () => {
    const seen: unknown[] = [];
    const err = toServiceError(new Error('connection string with password'), (e) => seen.push(e));
    expect(err).toEqual({ code: status.INTERNAL, details: 'internal error' });
    expect(seen).toHaveLength(1);
  });

  it.each([
    [
      'the driver cannot reach the server',
      Object.assign(new Error('connect ECONNREFUSED'), { name: 'MongoServerSelectionError' }),
    ],
    [
      'the connection dropped',
      Object.assign(new Error('socket closed'), { name: 'MongoNetworkError' }),
    ],
    [
      'FerretDB lost PostgreSQL',
      Object.assign(
        new Error(
          'failed to connect to `host=127.0.0.1`: dial error (connect: connection refused)',
        ),
        {
          name: 'MongoServerError',
        },
      ),
    ],
    // pgx's words when PostgreSQL is killed under a query, or its pool is being replaced.
    [
      'PostgreSQL reset the connection under a query',
      Object.assign(
        new Error(
          'receive message failed: read tcp 127.0.0.1:50122->127.0.0.1:25432: read: connection reset by peer',
        ),
        { name: 'MongoServerError' },
      ),
    ],
    [
      "FerretDB's pool closed under a query",
      Object.assign(new Error('closed pool'), { name: 'MongoServerError' }),
    ],
    [
      'PostgreSQL silent past the socket timeout',
      Object.assign(new Error('read tcp 127.0.0.1:50122->127.0.0.1:25432: i/o timeout'), {
        name: 'MongoBulkWriteError',
      }),
    ],
    // The driver wraps a dropped connection under insertMany in a bulk write error.
    [
      'FerretDB killed under an insert',
      Object.assign(new Error('connection 20 to 127.0.0.1:27057 closed'), {
        name: 'MongoBulkWriteError',
      }),
    ],
    // What insertMany threw when FerretDB stopped answering (found by the
    // fault suite's freeze under the Kafka ingress: a receipt said INTERNAL).
    [
      "the driver's monitor timed out under an insert and cleared the pool",
      Object.assign(
        new Error('Connection to 127.0.0.1:27657 interrupted due to server monitor timeout'),
        {
          name: 'MongoBulkWriteError',
          writeErrors: [],
          errorResponse: Object.assign(
            new Error(
              'Connection to 127.0.0.1:27657 interrupted due to server monitor timeout: connection <monitor> to 127.0.0.1:27657 timed out',
            ),
            { name: 'PoolClearedOnNetworkError' },
          ),
        },
      ),
    ],
    [
      'a reset under an insert',
      Object.assign(new Error('read ECONNRESET'), { name: 'MongoBulkWriteError' }),
    ],
    [
      'the broker is gone',
      Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' }),
    ],
    ['a read given up past its deadline', new DeadlineError("the rules' status", 20_000)],
    // What grpc-js's client answers when the service it calls is down or slow.
    [
      'the service this one reads from is down',
      Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
        code: status.UNAVAILABLE,
        details: 'No connection established',
        metadata: new Metadata(),
      }),
    ],
    [
      'the service this one reads from did not answer in time',
      Object.assign(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'), {
        code: status.DEADLINE_EXCEEDED,
        details: 'Deadline exceeded',
        metadata: new Metadata(),
      }),
    ],
    [
      'wrapped',
      new Error('append failed', {
        cause: Object.assign(new Error('x'), { name: 'MongoNetworkTimeoutError' }),
      }),
    ],
  ])('answers an outage (%s) with UNAVAILABLE, which a client retries', (_, e) => {
    const err = toServiceError(e);
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toContain('SERVICE.UNAVAILABLE');
  });

  it('keeps a server error that is not an outage INTERNAL', () => {
    const e = Object.assign(new Error('document too large'), { name: 'MongoServerError' });
    expect(toServiceError(e).code).toBe(status.INTERNAL);
    // A bulk write the server refused for its documents carries the refusal as its response.
    const refused = Object.assign(new Error('E11000 duplicate key error'), {
      name: 'MongoBulkWriteError',
      writeErrors: [{ code: 11000 }],
      errorResponse: Object.assign(new Error('E11000 duplicate key error'), {
        name: 'MongoServerError',
        code: 11000,
      }),
    });
    expect(toServiceError(refused).code).toBe(status.INTERNAL);
  });

  it("keeps another service's refusal INTERNAL: this service's call was wrong, not late", () => {
    const refused = Object.assign(new Error('7 PERMISSION_DENIED: not a supervisor'), {
      code: status.PERMISSION_DENIED,
      details: 'not a supervisor',
      metadata: new Metadata(),
    });
    expect(toServiceError(refused).code).toBe(status.INTERNAL);
    // A bare numeric code is not a gRPC answer (a Node system error has one too).
    const bare = Object.assign(new Error('x'), { code: status.UNAVAILABLE });
    expect(toServiceError(bare).code).toBe(status.INTERNAL);
  });
});
