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

  it('lets the instance that reads a partition next mark what one that died stored there, never past a submission not yet stored', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((partitions) =>
          fc.record({
            partitions: fc.constant(partitions),
            subs: submissions(partitions),
            // Before it dies: how far the first instance reads and stores, in what order.
            before: fc.array(fc.tuple(fc.constantFrom('read', 'end'), fc.nat({ max: 1_000 })), {
              maxLength: 120,
            }),
            // Whether the first instance committed (and recorded) after storing.
            commits: fc.array(fc.boolean(), { minLength: 120, maxLength: 120 }),
            // The order the survivor stores what it reads in.
            after: fc.array(fc.nat({ max: 1_000 }), { minLength: 200, maxLength: 200 }),
          }),
        ),
        ({ partitions, subs, before, commits, after }) => {
          const byPartition = Array.from({ length: partitions }, (_, p) =>
            subs.filter((s) => s.partition === p),
          );
          const committed = byPartition.map(() => 0);
          const stored = new Set<Submission>();
          const done = new Set<Submission>();
          /** The ledger: partition → each feed's latest time stored before its committed offset. */
          const ledger = byPartition.map(() => new Map<string, number>());
          const ends = (): SubmissionsPartition[] =>
            byPartition.map((subsOf, p) => ({
              partition: p,
              high: subsOf.length,
              low: 0,
              committed: committed[p] ?? 0,
            }));
          const notDone = (feed: string) =>
            Math.min(...subs.filter((s) => !done.has(s) && s.feed === feed).map((s) => s.at));
          const settle = (floor: FeedProgress, p: number, offset: number) => {
            const s = byPartition[p]?.[offset];
            if (!s) return;
            if (!s.refused) stored.add(s);
            done.add(s);
            // One stored before (by the instance that died) is stored again as a duplicate.
            floor.settled(p, offset, s.refused ? undefined : { feed: s.feed, at: s.at });
          };
          /** The first instance: it reads, stores, commits (recording first), then dies. */
          const first = new FeedProgress();
          const readTo = byPartition.map(() => 0);
          const open: [number, number][] = [];
          for (const [step, [kind, pick]] of before.entries()) {
            if (kind === 'read') {
              const p = pick % partitions;
              const offset = readTo[p] ?? 0;
              const s = byPartition[p]?.[offset];
              if (!s) continue;
              first.received(p, offset, s.at);
              open.push([p, offset]);
              readTo[p] = offset + 1;
            } else if (open.length > 0) {
              const [[p, offset]] = open.splice(pick % open.length, 1) as [[number, number]];
              settle(first, p, offset);
              if (commits[step] !== true) continue;
              const subsOf = byPartition[p] ?? [];
              const upTo = subsOf.findIndex((s) => !done.has(s));
              committed[p] = upTo === -1 ? subsOf.length : upTo;
              for (const s of subsOf.slice(0, committed[p]))
                if (stored.has(s) && s.at > (ledger[p]?.get(s.feed) ?? -Infinity))
                  ledger[p]?.set(s.feed, s.at);
            }
          }
          // It dies: what it had under way is not stored, and it marks nothing more.
          const next = new FeedProgress();
          for (const [p, feeds] of ledger.entries()) next.resume(p, feeds);
          const said = new Map<string, number>();
          const mark = () => {
            for (const m of next.marks(next.pending(ends()))) {
              expect(m.before).toBeLessThanOrEqual(notDone(m.feed));
              said.set(m.feed, Math.max(said.get(m.feed) ?? -Infinity, m.before));
            }
          };
          mark();
          // The survivor reads every partition again from its committed offset.
          const unread = byPartition.flatMap((subsOf, p) =>
            subsOf.flatMap((_, offset): [number, number][] =>
              offset >= (committed[p] ?? 0) ? [[p, offset]] : [],
            ),
          );
          for (const [p, offset] of unread) {
            const s = byPartition[p]?.[offset];
            if (s) next.received(p, offset, s.at);
          }
          for (const pick of after) {
            if (unread.length === 0) break;
            const [[p, offset]] = unread.splice(pick % unread.length, 1) as [[number, number]];
            settle(next, p, offset);
            mark();
          }
          for (const [p, offset] of unread) settle(next, p, offset);
          for (const [p, subsOf] of byPartition.entries()) committed[p] = subsOf.length;
          mark();
          // Every feed stored, by either, is marked as far as its latest submission.
          const latest = new Map<string, number>();
          for (const s of stored)
            latest.set(s.feed, Math.max(latest.get(s.feed) ?? -Infinity, s.at));
          expect(said).toEqual(latest);
        },
      ),
      { numRuns: 300 },
    );
  });
});
