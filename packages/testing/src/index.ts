import { inject } from 'vitest';
import { NO_RUN, taggedName } from './run-tag.js';
import type { StackEndpoints } from './stack.js';

export { startStack, repoRoot, type StackEndpoints, type RunningStack } from './stack.js';
export { lapsingToken, tokenFor, unary } from './grpc.js';
export { untilTopicTakes } from './kafka.js';

/** The endpoints the global setup provided. */
export function stack(): StackEndpoints {
  return inject('stack');
}

/**
 * A name no other test (or earlier run) uses: topics, groups, databases. Its
 * last part begins with the run's tag (four hex digits), so the run
 * deletes at its end the topics it made and none of another run's on the
 * same stack (`runsTopic`).
 */
export function uniqueName(prefix: string): string {
  return taggedName(prefix, runTag());
}

/** The tag of the vitest run this worker belongs to (global-setup provides it). */
function runTag(): string {
  let tag: string | undefined;
  try {
    tag = inject('runTag');
  } catch {
    // Not in a vitest worker: no run deletes what this names.
  }
  return tag ?? NO_RUN;
}

/** Polls `probe` until it returns a value other than undefined. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 20_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The environment a service needs to run on the test stack, on a free port. */
export function serviceEnv(clientId: string): Record<string, string> {
  const s = stack();
  return {
    KAFKA_BROKERS: s.kafkaBrokers.join(','),
    MONGODB_URI: s.mongoUri,
    GRPC_PORT: '0',
    KAFKA_CLIENT_ID: clientId,
    ENFORCEMENT_ENV: 'development',
  };
}
