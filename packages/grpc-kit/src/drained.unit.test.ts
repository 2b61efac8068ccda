import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { drained } from './drained.js';

/** A stream's events, with its `cancelled` flag, as grpc-js's server calls have them. */
const callLike = () => Object.assign(new EventEmitter(), { cancelled: false });

describe('waiting for a stream to drain', () => {
  it('ends on the drain, on the caller going, or after the time given, and leaves no listener behind', async () => {
    const outcomes = await Promise.all(
      (['drain', 'cancelled', 'close', undefined] as const).map(async (event) => {
        const call = callLike();
        const wait = drained(call, 200);
        if (event) call.emit(event);
        const how = await wait;
        const left = ['drain', 'cancelled', 'close'].map((e) => call.listenerCount(e));
        return [event ?? 'nothing', how, left];
      }),
    );
    expect(outcomes).toEqual([
      ['drain', 'drained', [0, 0, 0]],
      ['cancelled', 'gone', [0, 0, 0]],
      ['close', 'gone', [0, 0, 0]],
      ['nothing', 'stalled', [0, 0, 0]],
    ]);
  });

  it('does not wait for a caller already gone', async () => {
    const call = Object.assign(callLike(), { cancelled: true });
    expect(await drained(call, 60_000)).toBe('gone');
  });
});
