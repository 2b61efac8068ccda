import type { TestProject } from 'vitest/node';
import { Kafka, logLevel } from 'kafkajs';
import { newRunTag, runsTopic } from './run-tag.js';
import { startStack, type StackEndpoints } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
    /** Begins the last part of every name `uniqueName` gives in this run. */
    runTag: string;
  }
}

const admin = (brokers: string[]) =>
  new Kafka({ clientId: 'test-run', brokers, logLevel: logLevel.NOTHING }).admin();

/**
 * The topics this run created, deleted when it ends: every test makes its own
 * (uniqueName), and a broker that keeps them all runs out of file handles
 * after some thousands of partitions (seen: "Too many open files" on a stack
 * kept across a day of runs). Only topics named in this run (by its tag): a
 * run beside it on the same stack keeps its own, and topics of fixed names
 * that services make on their own stay for whoever uses them. Best effort,
 * with a deadline: a failure to clean up is reported, not a failed run.
 */
async function topicsCreatedSince(brokers: string[], tag: string): Promise<() => Promise<void>> {
  const a = admin(brokers);
  await a.connect();
  const before = new Set(await a.listTopics());
  await a.disconnect();
  return async () => {
    const b = admin(brokers);
    try {
      await b.connect();
      const created = (await b.listTopics()).filter((t) => !before.has(t) && runsTopic(t, tag));
      for (let i = 0; i < created.length; i += 100)
        await b.deleteTopics({ topics: created.slice(i, i + 100), timeout: 30_000 });
    } catch (e) {
      process.stderr.write(`test run: could not delete its topics: ${(e as Error).message}\n`);
    } finally {
      await b.disconnect().catch(() => undefined);
    }
  };
}

/** vitest globalSetup: the stack is started once per run, not per file. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stack = await startStack();
  project.provide('stack', stack.endpoints);
  const tag = newRunTag();
  project.provide('runTag', tag);
  const cleanUp = await topicsCreatedSince(stack.endpoints.kafkaBrokers, tag);
  return async () => {
    await cleanUp();
    await stack.stop();
  };
}
