import { defineConfig } from 'vitest/config';

// One vitest setup for the monorepo, tiers by suffix:
//   *.unit.test.ts  pure, milliseconds, no infrastructure
//   *.int.test.ts   real Kafka and a real MongoDB-wire server
//   tests/**        cross-service scenarios on the real stack
// The integration tier starts the stack once per run (packages/testing).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          include: ['{apps,packages}/*/src/**/*.unit.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{apps,packages}/*/src/**/*.int.test.ts', 'tests/**/*.int.test.ts'],
          environment: 'node',
          globalSetup: ['./packages/testing/dist/global-setup.js'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // What a page or a projection shows arrives a little after it is
          // asked for; on a loaded machine, more than a second after.
          expect: { poll: { timeout: 15_000 } },
          // Two cores: files run two at a time; each isolates itself by
          // unique topic, group and database names.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
