import type { RelayOptions } from './relay.js';

/** A relay's options for a unit test: small batches, checkpoints that go nowhere, sweeps as given. */
export const relayOptions = (sweep: {
  sweepAfterMs: number;
  sweepEveryMs: number;
}): RelayOptions => ({
  topic: 'case-events',
  marksTopic: 'marks',
  checkpoints: {
    topic: 'heads',
    message: () => ({ value: '' }),
    note: () => undefined,
    get: () => undefined,
  },
  batchSize: 10,
  maxBatchBytes: 1_000_000,
  ...sweep,
});
