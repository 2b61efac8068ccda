import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { StackEndpoints } from './stack.js';

export { startStack, repoRoot, type StackEndpoints, type RunningStack } from './stack.js';
export { lapsingToken, tokenFor, unary } from './grpc.js';
export { untilTopicTakes } from './kafka.js';

/** The endpoints the global setup provided. */
export function stack(): StackEndpoints {
  return inject('stack');
}

/** A name no other test (or earlier run) uses: topics, groups, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
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
