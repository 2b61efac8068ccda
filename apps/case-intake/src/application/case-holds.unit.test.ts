import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CaseHolds, decodeHold, encodeHold, type CaseHold } from './case-holds.js';

/** A partition's submissions: each of a case, with a command id, refused ABORTED whenever it runs or not. */
interface Submission {
  readonly caseId: string;
  readonly commandId: string;
  readonly aborted: boolean;
}

const submissions = fc.array(
  fc.record({
    caseId: fc.constantFrom('a', 'b', 'c'),
    // Few ids, so that a refused command often comes again.
    commandId: fc.constantFrom('1', '2', '3', '4'),
    aborted: fc.boolean(),
  }),
  { maxLength: 40 },
);

/** Reads `subs` from `from` on: whether each ran, and the holds each run changed. */
function read(
  holds: CaseHolds,
  subs: readonly Submission[],
  from = 0,
): { ran: boolean[]; changes: { offset: number; caseId: string; hold: CaseHold }[] } {
  const ran: boolean[] = [];
  const changes: { offset: number; caseId: string; hold: CaseHold }[] = [];
  subs.forEach((s, offset) => {
    if (offset < from) return;
    if (holds.holding(0, offset, s.caseId, '', s.commandId)) return void (ran[offset] = false);
    ran[offset] = true;
    for (const hold of holds.ran(0, offset, s.caseId, s.commandId, s.aborted))
      changes.push({ offset, caseId: s.caseId, hold });
  });
  return { ran, changes };
}

/** What the ledger loads after `changes` were recorded: for each case and start, the greatest of its holds. */
function asLedger(changes: readonly { caseId: string; hold: CaseHold }[]): Map<string, CaseHold[]> {
  const ledger = new Map<string, Map<number, string>>();
  for (const c of changes) {
    const byStart = ledger.get(c.caseId) ?? new Map<number, string>();
    const s = encodeHold(c.hold);
    if (s > (byStart.get(c.hold.from) ?? '')) byStart.set(c.hold.from, s);
    ledger.set(c.caseId, byStart);
  }
  return new Map(
    [...ledger].map(([caseId, byStart]) => [
      caseId,
      [...byStart].flatMap(([start, s]) => decodeHold(start, s) ?? []),
    ]),
  );
}

describe('case holds in a partition of the Kafka ingress', () => {
  it('run nothing of a case after a refused submission until its command comes again and is taken', () => {
    fc.assert(
      fc.property(submissions, (subs) => {
        const { ran } = read(new CaseHolds(), subs);
        // The oracle: per case, the refused command each later submission waits for.
        const waiting = new Map<string, string>();
        subs.forEach((s, offset) => {
          const held = waiting.get(s.caseId);
          const runs = held === undefined || held === s.commandId;
          expect(ran[offset], `offset ${offset}`).toBe(runs);
          if (!runs) return;
          if (s.aborted) waiting.set(s.caseId, s.commandId);
          else waiting.delete(s.caseId);
        });
      }),
    );
  });

  it('give each submission read again, from the ledger and any earlier offset, the answer it had the first time', () => {
    fc.assert(
      fc.property(submissions, fc.nat(), fc.nat(), (subs, committedAt, recordedAt) => {
        const committed = subs.length === 0 ? 0 : committedAt % (subs.length + 1);
        // Recorded at least as far as committed (the record comes first), perhaps further.
        const recorded = committed + (recordedAt % (subs.length - committed + 1));
        const first = read(new CaseHolds(), subs);
        const next = new CaseHolds();
        next.load(0, asLedger(first.changes.filter((c) => c.offset < recorded)));
        next.prune(0, committed);
        const again = read(next, subs, committed);
        expect(again.ran.slice(committed)).toEqual(first.ran.slice(committed));
      }),
    );
  });

  it('lose no hold when a batch’s ledger record fails and the batch is read again', () => {
    fc.assert(
      fc.property(
        submissions,
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (subs, batchAt, failedAt, committedAt) => {
          const n = subs.length;
          // A batch [from, to) runs, its record fails, and it is read again from `from` on.
          const from = n === 0 ? 0 : batchAt % (n + 1);
          const to = from + (failedAt % (n - from + 1));
          const clean = read(new CaseHolds(), subs);
          const holds = new CaseHolds();
          const recorded = read(holds, subs.slice(0, from)).changes;
          read(holds, subs.slice(0, to), from);
          const again = read(holds, subs, from);
          expect(again.ran.slice(from)).toEqual(clean.ran.slice(from));
          recorded.push(...again.changes);
          // The instance that reads the partition next, from the ledger.
          const next = new CaseHolds();
          next.load(0, asLedger(recorded));
          const committed = committedAt % (n + 1);
          next.prune(0, committed);
          expect(read(next, subs, committed).ran.slice(committed)).toEqual(
            clean.ran.slice(committed),
          );
        },
      ),
    );
  });

  it('hold a reconsideration of a held case too, and let the held command itself through', () => {
    const holds = new CaseHolds();
    expect(holds.ran(3, 10, 'a', 'dispatch', true)).toEqual([{ commandId: 'dispatch', from: 10 }]);
    expect(holds.holding(3, 11, 'a', '', 'evidence')).toEqual({
      caseId: 'a',
      hold: { commandId: 'dispatch', from: 10 },
    });
    expect(holds.holding(3, 12, 'r', 'a', 'review')?.caseId).toBe('a');
    expect(holds.holding(2, 12, 'a', '', 'evidence')).toBeUndefined();
    expect(holds.holding(3, 13, 'a', '', 'dispatch')).toBeUndefined();
    expect(holds.ran(3, 13, 'a', 'dispatch', false)).toEqual([
      { commandId: 'dispatch', from: 10, until: 13 },
    ]);
    expect(holds.holding(3, 14, 'a', '', 'evidence')).toBeUndefined();
  });

  it('read a hold recorded under a case or command id with white space at its ends as the trimmed id’s', () => {
    const holds = new CaseHolds();
    holds.load(
      1,
      new Map([
        [' a', [{ commandId: 'dispatch', from: 4, until: 6 }]],
        ['a\u3000', [{ commandId: ' evidence', from: 9 }]],
      ]),
    );
    expect(holds.holding(1, 5, 'a', '', 'notice')?.hold).toEqual({
      commandId: 'dispatch',
      from: 4,
      until: 6,
    });
    expect(holds.holding(1, 10, 'a', '', 'notice')?.hold).toEqual({
      commandId: 'evidence',
      from: 9,
    });
    expect(holds.holding(1, 10, 'a', '', 'evidence')).toBeUndefined();
  });

  it('encode a hold so that it sorts higher once released, and read it back', () => {
    const open = { commandId: 'x|y', from: 5 };
    const released = { ...open, until: 9 };
    expect(encodeHold(open) < encodeHold(released)).toBe(true);
    for (const h of [open, released]) expect(decodeHold(h.from, encodeHold(h))).toEqual(h);
    expect(decodeHold(5, 'garbage')).toBeUndefined();
  });
});
