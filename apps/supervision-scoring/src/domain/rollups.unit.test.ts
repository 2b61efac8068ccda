import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  contributionOf,
  correctionPageIdOf,
  pageIdOf,
  pageKeyOf,
  partitionPagesOf,
  rollupDeltas,
  type Contribution,
  type GroupBy,
} from './rollups.js';
import { MODEL_V1, scoreCase } from './scoring-model.js';
import { byTheBook, viewOf } from './view.test-support.js';

describe('rollup deltas', () => {
  const v = viewOf(byTheBook());
  const c = contributionOf(v, scoreCase(v, MODEL_V1));

  it('adds a scored case to each officer, unit, agency, district and domain, for its month, quarter and year', () => {
    const d = rollupDeltas(null, c);
    expect(d).toHaveLength(6 * 3);
    expect(d.map((x) => x.rollupId)).toContain('OFFICER|MONTH|2021-03|o1');
    expect(d.map((x) => x.rollupId)).toContain('AGENCY|QUARTER|2021-Q1|lz-eeb');
    expect(d.find((x) => x.rollupId === 'DISTRICT|YEAR|2021|柳南区')?.inc).toMatchObject({
      scoreSum: 100,
      cases: 1,
      ind_timeliness: 30,
    });
  });

  it('moves only by the difference when a correction changes the score, and not at all when nothing changed', () => {
    const corrected = { ...v, correctedBy: ['r1'] };
    const after = contributionOf(corrected, scoreCase(corrected, MODEL_V1));
    const d = rollupDeltas(c, after);
    expect(d.find((x) => x.rollupId === 'AGENCY|YEAR|2021|lz-eeb')?.inc).toEqual({
      scoreSum: -20,
      corrected: 1,
      ind_correction: -20,
    });
    expect(rollupDeltas(c, c)).toEqual([]);
  });

  it('moves every rollup from the old contribution to the new, whatever changed (and nothing when nothing did)', () => {
    // The oracle: rows built from `before`, moved by the deltas, equal rows built from `after`.
    const rows = (...deltas: ReturnType<typeof rollupDeltas>[]) => {
      const out = new Map<string, number>();
      for (const d of deltas.flat())
        for (const [k, n] of Object.entries(d.inc)) {
          const key = `${d.rollupId}|${k}`;
          out.set(key, (out.get(key) ?? 0) + n);
        }
      return new Map([...out].filter(([, n]) => Math.abs(n) > 1e-9));
    };
    // As `contributionOf` makes them: the case's agency, district and domain on every group.
    const contribution: fc.Arbitrary<Contribution> = fc
      .record({
        concludedAt: fc.constantFrom('2021-01-31T15:59:00.000Z', '2021-01-31T16:01:00.000Z'),
        attrs: fc.record({
          agencyId: fc.constantFrom('ag1', 'ag2'),
          district: fc.constantFrom('d1', 'd2'),
          domain: fc.constantFrom(1, 2),
        }),
        groups: fc.uniqueArray(
          fc.record({
            groupBy: fc.constantFrom<GroupBy>('OFFICER', 'UNIT', 'AGENCY', 'DISTRICT', 'DOMAIN'),
            key: fc.constantFrom('a', 'b'),
          }),
          { minLength: 1, maxLength: 4, selector: (g) => `${g.groupBy}|${g.key}` },
        ),
        values: fc.dictionary(
          fc.constantFrom('scoreSum', 'cases', 'ind_x'),
          fc.integer({ min: 0, max: 2 }),
        ),
      })
      .map(({ concludedAt, attrs, groups, values }) => ({
        concludedAt,
        groups: groups.map((g) => ({ ...g, ...attrs })),
        values,
      }));
    // Pairs alike but for one thing, and pairs drawn apart.
    const tweak = (c: Contribution, which: number, i: number): Contribution => {
      const groups = c.groups.map((g, n) =>
        which === 0 && n === i % c.groups.length ? { ...g, key: `${g.key}2` } : g,
      );
      const values =
        which === 1
          ? { ...c.values, scoreSum: (c.values.scoreSum ?? 0) + 1 }
          : which === 2
            ? { ...c.values, ind_y: 1 }
            : { ...c.values };
      const concludedAt = which === 3 ? '2021-02-01T00:00:00.000Z' : c.concludedAt;
      return {
        concludedAt,
        groups: which === 4 ? [...groups].reverse() : which === 5 ? groups.slice(1) : groups,
        values,
      };
    };
    const pair = fc.oneof(
      fc.tuple(contribution, fc.nat(6), fc.nat(5)).map(([c, which, i]) => [c, tweak(c, which, i)]),
      fc.tuple(fc.option(contribution, { nil: null }), fc.option(contribution, { nil: null })),
    );
    fc.assert(
      fc.property(pair, ([before, after]) => {
        expect(rows(rollupDeltas(null, before), rollupDeltas(before, after))).toEqual(
          rows(rollupDeltas(null, after)),
        );
      }),
      { numRuns: 500 },
    );
  });

  it('counts a case concluded on New Year’s Eve in the city’s time zone', () => {
    if (!v.concluded) throw new Error('fixture must be concluded');
    const nye = { ...v, concluded: { ...v.concluded, at: '2021-12-31T17:00:00.000Z' } };
    const d = rollupDeltas(null, contributionOf(nye, scoreCase(nye, MODEL_V1)));
    expect(d.map((x) => x.period)).toContain('2022-01');
  });
});

describe('rollup pages', () => {
  const groups: GroupBy[] = ['OFFICER', 'UNIT', 'AGENCY', 'DISTRICT', 'DOMAIN'];

  it("puts every row a partition writes on a page the readers fetch for that listing, and none past the topic's partitions", () => {
    for (const groupBy of groups) {
      const listKey = `${groupBy}|YEAR|2021`;
      const readable = new Set(partitionPagesOf(listKey, 12));
      for (let p = 0; p < 12; p++) {
        expect(readable.has(pageIdOf(listKey, `p${p}`))).toBe(true);
        expect(readable.has(correctionPageIdOf(pageKeyOf(listKey), p))).toBe(true);
      }
      expect(readable.has(pageIdOf(listKey, 'p12'))).toBe(false);
      expect(readable.size).toBe(24);
    }
  });

  it('keeps every listing of a period on one page per writer, and periods and writers apart', () => {
    const march = new Set(groups.map((g) => pageIdOf(`${g}|MONTH|2021-03`, 'p4')));
    expect([...march]).toEqual(['MONTH|2021-03|p4']);
    expect(march.has(pageIdOf('AGENCY|MONTH|2021-04', 'p4'))).toBe(false);
    expect(march.has(pageIdOf('AGENCY|QUARTER|2021-Q1', 'p4'))).toBe(false);
    expect(march.has(pageIdOf('AGENCY|MONTH|2021-03', 'p5'))).toBe(false);
    expect(march.has(correctionPageIdOf('MONTH|2021-03', 4))).toBe(false);
  });
});
