// The benchmarks' waits: one on a service that died, or on nothing moving,
// fails and says which, rather than hanging the run until someone stops it.
import { describe, expect, it } from 'vitest';
import { stallGuard, type ServiceProcess } from './processes.js';

const service = (running: boolean): ServiceProcess => ({
  name: 'supervision-scoring',
  pid: 4242,
  address: '127.0.0.1:0',
  peakRssMiB: () => 0,
  running: () => running,
  stop: async () => undefined,
  kill: async () => undefined,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a benchmark wait', () => {
  it('fails naming the service that exited', () => {
    const guard = stallGuard('waiting for scoring', [service(true), service(false)]);
    expect(() => guard(1)).toThrow('waiting for scoring: supervision-scoring (pid 4242) exited');
  });

  it('fails once what it watches has not moved for the time given, and not while it moves', async () => {
    const guard = stallGuard('waiting for the read models', [service(true)], 200);
    for (let lag = 10; lag > 0; lag--) {
      guard(lag);
      await sleep(50);
    }
    guard(0);
    await sleep(250);
    expect(() => guard(0)).toThrow('waiting for the read models: nothing moved in 0.2 s (still 0)');
  });
});
