import { RuleViolation } from '../domain/errors.js';

/**
 * Commands on one case take turns within this instance: each is decided on
 * the state the one before it left, so concurrent callers of one case (an
 * agency's evidence sent at once, its unary calls beside the rules' stream)
 * wait for each other instead of racing to the store. Raced, a thousand
 * commands sent at once on one case stored 13; the other 992 lost every
 * attempt and were refused ABORTED. Writers in other instances still race,
 * and the loser is decided again (execute-command's attempts).
 *
 * A case's queue is bounded: past `maxWaiting` commands waiting, one more
 * is refused at once (ABORTED, retry), so a client that floods one case
 * cannot hold an unbounded line behind it.
 */
export class CaseTurns {
  private readonly lines = new Map<string, { tail: Promise<unknown>; waiting: number }>();

  constructor(private readonly maxWaiting = 1_024) {}

  run<T>(caseId: string, task: () => Promise<T>): Promise<T> {
    const line = this.lines.get(caseId) ?? { tail: Promise.resolve(), waiting: 0 };
    if (line.waiting >= this.maxWaiting)
      return Promise.reject(
        new RuleViolation(
          'CASE.VERSION_CONFLICT',
          `${line.waiting} commands already wait their turn on case ${caseId} here; retry`,
        ),
      );
    line.waiting++;
    const result = line.tail.then(task, task).finally(() => {
      line.waiting--;
    });
    const tail = result.catch(() => undefined);
    line.tail = tail;
    this.lines.set(caseId, line);
    void tail.then(() => {
      if (line.waiting === 0 && this.lines.get(caseId) === line) this.lines.delete(caseId);
    });
    return result;
  }
}
