import type { TestProject } from 'vitest/node';
import { startStack, type StackEndpoints } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
  }
}

/** vitest globalSetup: the stack is started once per run, not per file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startStack();
  project.provide('stack', stack.endpoints);
  return () => stack.stop();
}
