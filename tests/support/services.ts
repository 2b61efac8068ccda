import { startWholeSystem, type WholeSystem } from './whole-system.js';

export type System = WholeSystem;

/** The services in this process on the real stack, the supervision rules ticked by the test. */
export const startSystem = (o: { scoringEnv?: Record<string, string> } = {}): Promise<System> =>
  startWholeSystem(o);

export { tokenFor, unary } from '@enforcement/testing';
