import fc from 'fast-check';
import { describe, it } from 'vitest';
import { Conflict, MemoryStore } from '../test-support/memory-store.js';
import { runScenario, scenario } from '../test-support/projection-scenario.js';

describe('the rollups, against the scoring model of the histories', () => {
  it('equal it whatever the crashes, replays, restarts, stale writers, releases and the moment corrections are found, as stored and as a reader keeping what it read lists them', async () => {
    await fc.assert(
      fc.asyncProperty(scenario({ races: true }), async (s) => {
        const store = new MemoryStore();
        const reader = store.markReader();
        await runScenario(s, {
          client: async (turns) => store.client({ turns }),
          isConflict: (e) => e instanceof Conflict,
          parked: async (ids) =>
            new Set(
              [...store.cases].filter(([id, r]) => r.parked && ids.includes(id)).map(([id]) => id),
            ),
          ask: (request) => store.requestCorrections([request]),
          list: async () => reader.read(),
          stored: async () => store.rollups(),
          cases: async (ids) => store.getCases(ids),
          correctionsLeft: async () => store.corrections.size,
        });
      }),
      {
        numRuns: Number(process.env.RUNS ?? 500),
        ...(process.env.SEED ? { seed: Number(process.env.SEED) } : {}),
      },
    );
  }, 600_000);
});
