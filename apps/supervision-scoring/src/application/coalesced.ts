import { withDeadline } from '@enforcement/errors';

/**
 * A read that every caller shares, for reads that cost the store a lot (the
 * rules' status reads every case that has an action due): at most one runs at
 * a time, and no call is answered with a read that began before the call. A
 * call made while a read runs waits for it to end, then shares the next read
 * with every call made meanwhile; so a console refreshed by many operators
 * costs one read after another, never many at once.
 *
 * A read has a deadline: one that has not settled by then fails its callers
 * with a DeadlineError naming `what` (an outage: UNAVAILABLE), and the next
 * call reads afresh, so a store that stopped answering cannot hold every
 * later caller.
 */
export function coalesced<T>(
  read: () => Promise<T>,
  opts: { readonly what: string; readonly deadlineMs: number },
): () => Promise<T> {
  /** Settles (never fails) when the running read has ended or been given up. */
  let running: Promise<void> | undefined;
  /** The read the calls made while one runs will share. */
  let next: Promise<T> | undefined;

  const start = (): Promise<T> => {
    const bounded = withDeadline(Promise.resolve().then(read), opts.deadlineMs, opts.what);
    const clear = () => {
      if (running === ended) running = undefined;
    };
    const ended: Promise<void> = bounded.then(clear, clear);
    running = ended;
    return bounded;
  };

  return () => {
    if (!running) return start();
    next ??= running.then(() => {
      next = undefined;
      return start();
    });
    return next;
  };
}
