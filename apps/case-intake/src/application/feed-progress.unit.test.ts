import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FeedProgress, type SubmissionsPartition } from './feed-progress.js';

interface Submission {
  readonly feed: string;
  readonly at: number;
  readonly partition: number;
  readonly refused: boolean;
}

/**
 * Feeds submitted in the order things happened, each submission to any
 * partition (a producer keying by case), some refused.
 */
const submissions = (partitions: number) =>
  fc
    .array(
      fc.record({
        feed: fc.constantFrom('a|ENFORCEMENT', 'a|REVIEW', 'b|ENFORCEMENT'),
        step: fc.nat({ max: 3 }),
        partition: fc.nat({ max: partitions - 1 }),
        refused: fc.nat({ max: 4 }).map((n) => n === 0),
      }),
      { minLength: 1, maxLength: 40 },
    )
    .map((xs) => {
      let at = 1_000;
      return xs.map((x): Submission => ({
        feed: x.feed,
        at: (at += x.step),
        partition: x.partition,
        refused: x.refused,
      }));
    });

type Step = 'read' | 'end' | 'fail' | 'retry' | 'rejoin';

describe("the ingress's floors and marks", () => {
  it('never says a feed is stored past a submission of it not yet stored, whatever order partitions are read and submissions stored in, through failures and rejoins, by one instance or two', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((partitions) =>
          fc.record({
            partitions: fc.constant(partitions),
            subs: submissions(partitions),
            // Which instance reads each partition.
            owner: fc.array(fc.nat({ max: 1 }), { minLength: partitions, maxLength: partitions }),
            schedule: fc.array(
              fc.tuple(
                fc.constantFrom<Step>('read', 'read', 'end', 'end', 'fail', 'retry', 'rejoin'),
                fc.nat({ max: 1_000 }),
              ),
              { minLength: 300, maxLength: 300 },
            ),
            // Whether the group's committed offset lags what its instance has done.
            commitLag: fc.array(fc.boolean(), { minLength: 300, maxLength: 300 }),
          }),
        ),
        ({ partitions, subs, owner, schedule, commitLag }) => {
          const byPartition = Array.from({ length: partitions }, (_, p) =>
            subs.filter((s) => s.partition === p),
          );
          const readTo = byPartition.map(() => 0);
          const committed = byPartition.map(() => -1);
          /** Partition → offsets read and being stored. */
          const open = byPartition.map(() => new Set<number>());
          /** Partition → offsets read that could not be stored now: read again later. */
          const failed = byPartition.map(() => new Set<number>());
          /** Submissions stored or refused. */
          const done = new Set<Submission>();
          const instances = [new FeedProgress(), new FeedProgress()];
          const floorOf = (p: number) => instances[owner[p] ?? 0] ?? new FeedProgress();
          const ends = (): SubmissionsPartition[] =>
            byPartition.map((subsOf, p) => ({
              partition: p,
              high: subsOf.length,
              low: 0,
              committed: committed[p] ?? -1,
            }));
          /** The earliest time of `feed` of a submission not done with, but `self`. */
          const notDone = (feed: string, self?: Submission) =>
            Math.min(
              ...subs.filter((s) => !done.has(s) && s !== self && s.feed === feed).map((s) => s.at),
            );
          /** What is done on `p` before the first submission not done is committed (unless lagging). */
          const commit = (p: number, lag: boolean) => {
            if (lag) return;
            const subsOf = byPartition[p] ?? [];
            const first = subsOf.findIndex((s) => !done.has(s));
            committed[p] = first === -1 ? subsOf.length : first;
          };
          const read = (p: number) => {
            const offset = readTo[p] ?? 0;
            const s = byPartition[p]?.[offset];
            if (!s) return;
            floorOf(p).received(p, offset, s.at);
            open[p]?.add(offset);
            readTo[p] = offset + 1;
          };
          const end = (p: number, offset: number) => {
            const s = byPartition[p]?.[offset];
            if (!s) return;
            const floor = floorOf(p);
            if (!s.refused) {
              const given = floor.floorOf(p, offset, s.at, s.feed, floor.pending(ends()));
              expect(given).toBeLessThanOrEqual(s.at);
              expect(given).toBeLessThanOrEqual(notDone(s.feed, s));
            }
            open[p]?.delete(offset);
            done.add(s);
            floor.settled(p, offset, s.refused ? undefined : { feed: s.feed, at: s.at });
          };
          /** What was started on `ps` ends; each is read again from its first failed submission. */
          const again = (ps: number[]) => {
            for (const p of ps) for (const offset of [...(open[p] ?? [])]) end(p, offset);
            for (const p of ps) {
              const first = Math.min(...(failed[p] ?? []));
              if (!Number.isFinite(first)) continue;
              failed[p]?.clear();
              readTo[p] = first;
            }
          };
          for (const [step, [kind, pick]] of schedule.entries()) {
            const unread = byPartition.flatMap((subsOf, p) =>
              (readTo[p] ?? 0) < subsOf.length && (failed[p]?.size ?? 0) === 0 ? [p] : [],
            );
            const opened = open.flatMap((on, p) => [...on].map((offset) => [p, offset] as const));
            const blocked = failed.flatMap((f, p) => (f.size > 0 ? [p] : []));
            if (kind === 'read' && unread.length > 0) read(unread[pick % unread.length] ?? 0);
            else if ((kind === 'end' || kind === 'fail') && opened.length > 0) {
              const [p, offset] = opened[pick % opened.length] ?? [0, 0];
              if (kind === 'end') {
                end(p, offset);
                commit(p, commitLag[step] === true);
              } else {
                open[p]?.delete(offset);
                failed[p]?.add(offset);
              }
            } else if (kind === 'retry' && blocked.length > 0)
              again([blocked[pick % blocked.length] ?? 0]);
            else if (kind === 'rejoin') {
              // Every partition of the instance stops, then it joins its group again.
              const i = pick % 2;
              const mine = byPartition.flatMap((_, p) => (owner[p] === i ? [p] : []));
              for (const p of mine) for (const offset of [...(open[p] ?? [])]) end(p, offset);
              instances[i]?.forgetOpen();
              again(mine);
            }
            for (const floor of instances)
              for (const mark of floor.marks(floor.pending(ends())))
                expect(mark.before).toBeLessThanOrEqual(notDone(mark.feed));
          }
          // Everything read again, stored and committed: each instance marks
          // every feed it stored as far as the latest it stored.
          again(byPartition.map((_, p) => p));
          for (const [p, subsOf] of byPartition.entries()) {
            while ((readTo[p] ?? 0) < subsOf.length) read(p);
            for (const offset of [...(open[p] ?? [])]) end(p, offset);
            committed[p] = subsOf.length;
          }
          for (const floor of instances) {
            floor.marks(floor.pending(ends()));
            expect(floor.unsaid).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
