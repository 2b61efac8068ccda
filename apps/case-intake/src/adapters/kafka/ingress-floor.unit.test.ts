import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IngressFloor, type SubmissionsPartition } from './ingress-floor.js';

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

describe("the ingress's floors and marks", () => {
  it('never says a feed is stored past a submission of it still to read, whatever order the partitions are read in, by one instance or two', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((partitions) =>
          fc.record({
            partitions: fc.constant(partitions),
            subs: submissions(partitions),
            // Which instance reads each partition, and the order reads happen in.
            owner: fc.array(fc.nat({ max: 1 }), { minLength: partitions, maxLength: partitions }),
            schedule: fc.array(fc.nat({ max: 1_000 }), { minLength: 200, maxLength: 200 }),
            // How far behind what an instance read its group's committed offset may be.
            commitLag: fc.array(fc.boolean(), { minLength: 200, maxLength: 200 }),
          }),
        ),
        ({ partitions, subs, owner, schedule, commitLag }) => {
          const byPartition = Array.from({ length: partitions }, (_, p) =>
            subs.filter((s) => s.partition === p),
          );
          const readTo = byPartition.map(() => 0);
          const committed = byPartition.map(() => -1);
          const instances = [new IngressFloor(), new IngressFloor()];
          const ends = (): SubmissionsPartition[] =>
            byPartition.map((subsOf, p) => ({
              partition: p,
              high: subsOf.length,
              low: 0,
              committed: committed[p] ?? -1,
            }));
          /** The earliest time of `feed` not yet read, on any partition. */
          const unread = (feed: string) =>
            Math.min(
              ...byPartition.flatMap((subsOf, p) =>
                subsOf
                  .slice(readTo[p])
                  .filter((s) => s.feed === feed)
                  .map((s) => s.at),
              ),
            );
          const checkMarks = () => {
            for (const floor of instances)
              for (const mark of floor.marks(floor.pending(ends())))
                expect(mark.before).toBeLessThanOrEqual(unread(mark.feed));
          };
          for (const [step, pick] of schedule.entries()) {
            const open = byPartition.flatMap((subsOf, p) =>
              (readTo[p] ?? 0) < subsOf.length ? [p] : [],
            );
            if (open.length === 0) break;
            const p = open[pick % open.length] ?? 0;
            const floor = instances[owner[p] ?? 0] ?? new IngressFloor();
            const offset = readTo[p] ?? 0;
            const s = byPartition[p]?.[offset];
            if (!s) break;
            const pending = floor.pending(ends());
            if (!s.refused) {
              const given = floor.floorOf(p, s.at, s.feed, pending);
              expect(given).toBeLessThanOrEqual(s.at);
              // Every submission of the feed before this one in time and still
              // unread (on other partitions) is at or after the floor.
              readTo[p] = offset + 1;
              expect(given).toBeLessThanOrEqual(unread(s.feed));
            } else readTo[p] = offset + 1;
            floor.settled(p, offset, s.refused ? undefined : { feed: s.feed, at: s.at });
            if (!commitLag[step]) committed[p] = readTo[p] ?? 0;
            checkMarks();
          }
          // Read to the end and committed: each instance marks every feed it
          // stored as far as the latest it stored.
          for (const [p, subsOf] of byPartition.entries()) {
            const floor = instances[owner[p] ?? 0] ?? new IngressFloor();
            for (let offset = readTo[p] ?? 0; offset < subsOf.length; offset++) {
              const s = subsOf[offset];
              if (!s) continue;
              readTo[p] = offset + 1;
              if (!s.refused) floor.floorOf(p, s.at, s.feed, floor.pending(ends()));
              floor.settled(p, offset, s.refused ? undefined : { feed: s.feed, at: s.at });
            }
            committed[p] = subsOf.length;
          }
          // Nothing left unsaid: each feed said as far as the latest stored.
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
