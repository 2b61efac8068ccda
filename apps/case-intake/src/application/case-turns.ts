import { RuleViolation } from '../domain/errors.js';

interface Line {
  tail: Promise<unknown>;
  /** Commands waiting or running, by caller. */
  readonly waiting: Map<string, number>;
  total: number;
}

/**
 * Commands on one case take turns within this instance: each is decided on
 * the state the one before it left, so concurrent callers of one case (an
 * agency's evidence sent at once, its unary calls beside the rules' stream)
 * wait for each other instead of racing to the store. Raced, a thousand
 * commands sent at once on one case stored 13; the other 992 lost every
 * attempt and were refused ABORTED. Writers in other instances still race,
 * and the loser is decided again (execute-command's attempts).
 *
 * A case's line is bounded per caller: past `maxWaiting` commands of one
 * caller waiting on a case, that caller's next is refused at once (ABORTED,
 * retry). A client that floods a case holds back its own commands only: the
 * case's agency and the rules still take their places in the line, however
 * many another caller queued (each of which is refused in its turn, when it
 * may not act on the case).
 */
export class CaseTurns {
  private readonly lines = new Map<string, Line>();

  constructor(private readonly maxWaiting = 1_024) {}

  run<T>(caseId: string, caller: string, task: () => Promise<T>): Promise<T> {
    const line = this.lines.get(caseId) ?? {
      tail: Promise.resolve(),
      waiting: new Map(),
      total: 0,
    };
    const mine = line.waiting.get(caller) ?? 0;
    if (mine >= this.maxWaiting)
      return Promise.reject(
        new RuleViolation(
          'CASE.VERSION_CONFLICT',
          `${mine} of your commands already wait their turn on case ${caseId} here; retry`,
        ),
      );
    line.waiting.set(caller, mine + 1);
    line.total++;
    const result = line.tail.then(task, task).finally(() => {
      const left = (line.waiting.get(caller) ?? 1) - 1;
      if (left === 0) line.waiting.delete(caller);
      else line.waiting.set(caller, left);
      line.total--;
    });
    const tail = result.catch(() => undefined);
    line.tail = tail;
    this.lines.set(caseId, line);
    void tail.then(() => {
      if (line.total === 0 && this.lines.get(caseId) === line) this.lines.delete(caseId);
    });
    return result;
  }
}
