import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ERROR_CODE_KEY } from './errors.js';

/** A server stream as far as waiting for its reader goes. */
export interface ReaderOfStream {
  readonly cancelled?: boolean;
  once(event: 'drain' | 'cancelled' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'cancelled' | 'close', listener: () => void): unknown;
}

/**
 * Waits for the transport to take what a server stream wrote after it said
 * it would hold no more (`write` returned false): `drained` once it has,
 * `gone` once the caller cancelled or the call closed first (a bare wait for
 * `drain` never ends then, holding whatever the handler holds), `stalled`
 * when `ms` pass without either.
 */
export function drained(call: ReaderOfStream, ms: number): Promise<'drained' | 'gone' | 'stalled'> {
  if (call.cancelled) return Promise.resolve('gone');
  return new Promise((resolve) => {
    const settle = (how: 'drained' | 'gone' | 'stalled') => {
      clearTimeout(timer);
      call.off('drain', onDrain);
      call.off('cancelled', onGone);
      call.off('close', onGone);
      resolve(how);
    };
    const onDrain = () => settle('drained');
    const onGone = () => settle('gone');
    const timer = setTimeout(() => settle('stalled'), ms);
    timer.unref();
    call.once('drain', onDrain);
    call.once('cancelled', onGone);
    call.once('close', onGone);
  });
}

/** The stable code of a stream ended because its reader took nothing for too long. */
export const READER_STALLED_CODE = 'STREAM.READER_STALLED';

/** How a server stream ends whose reader took nothing of it for `ms`: RESOURCE_EXHAUSTED. */
export const readerStalled = (ms: number, readOnFrom: string): ServiceError =>
  resourceExhausted(
    READER_STALLED_CODE,
    `the caller took nothing of this stream for ${ms} ms, and it ends here; ${readOnFrom}`,
  );

/** A RESOURCE_EXHAUSTED status with its stable `code` in the trailers, as domain errors carry theirs. */
export function resourceExhausted(code: string, message: string): ServiceError {
  const metadata = new Metadata();
  metadata.set(ERROR_CODE_KEY, code);
  const details = `${code}: ${message}`;
  return Object.assign(new Error(details), { code: status.RESOURCE_EXHAUSTED, details, metadata });
}
