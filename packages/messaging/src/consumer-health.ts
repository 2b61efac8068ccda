import type { Consumer } from 'kafkajs';

/**
 * Whether a projection's consumer is moving, for readiness. A batch that
 * fails (the database gone) is retried by kafkajs for up to a couple of
 * minutes, then the consumer crashes and is restarted after a pause, or, on
 * an error kafkajs deems final, never again. In all of these nothing is
 * applied, so the service must not say SERVING: `check` fails from the first
 * failed batch until one is applied again (or the group is joined afresh
 * after a restart); a consumer stopped for good fails it until the process
 * is restarted.
 */
export class ConsumerHealth {
  private problem: string | undefined;
  private stoppedForGood = false;

  constructor(private readonly log: (msg: string, err?: unknown) => void = () => undefined) {}

  watch(consumer: Consumer): void {
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) {
        this.problem = `consumer restarting after: ${payload.error.message}`;
        return;
      }
      this.stoppedForGood = true;
      this.problem = `consumer stopped for good after: ${payload.error.message}`;
      this.log('the consumer stopped for good; restart the process', payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!this.stoppedForGood) this.problem = undefined;
    });
  }

  /** A batch could not be applied (kafkajs will deliver it again). */
  failed(e: unknown): void {
    if (!this.stoppedForGood)
      this.problem = `applying a batch failed: ${e instanceof Error ? e.message : String(e)}`;
  }

  /** A batch was applied: the consumer moves. */
  applied(): void {
    if (!this.stoppedForGood) this.problem = undefined;
  }

  /** For watchReadiness: resolves while the consumer moves, rejects with why it does not. */
  readonly check = async (): Promise<true> => {
    if (this.problem) throw new Error(this.problem);
    return true;
  };
}
