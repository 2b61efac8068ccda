import { describe, expect, it } from 'vitest';
import {
  contributionOf,
  pageIdOf,
  PAGE_SLOTS,
  partitionPagesOf,
  rollupDeltas,
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

  it('counts a case concluded on New Year’s Eve in the city’s time zone', () => {
    if (!v.concluded) throw new Error('fixture must be concluded');
    const nye = { ...v, concluded: { ...v.concluded, at: '2021-12-31T17:00:00.000Z' } };
    const d = rollupDeltas(null, contributionOf(nye, scoreCase(nye, MODEL_V1)));
    expect(d.map((x) => x.period)).toContain('2022-01');
  });
});

describe('rollup pages', () => {
  const groups: GroupBy[] = ['OFFICER', 'UNIT', 'AGENCY', 'DISTRICT', 'DOMAIN'];
  const keys = Array.from({ length: 400 }, (_, i) => `off-${i * 37}`).concat([
    '柳南区',
    '1',
    'lz-eeb',
  ]);

  it('puts every row a partition writes on a page the readers fetch for that listing', () => {
    for (const groupBy of groups) {
      const listKey = `${groupBy}|YEAR|2021`;
      const readable = new Set(partitionPagesOf(listKey, groupBy, 12));
      for (const key of keys)
        for (const p of [0, 5, 11])
          expect(readable.has(pageIdOf(listKey, `p${p}`, groupBy, key))).toBe(true);
      // Pages of releases and corrections are not among them: readers find those listed apart.
      expect(readable.has(pageIdOf(listKey, 'corr-review-1', groupBy, keys[0] ?? ''))).toBe(false);
      expect(readable.has(pageIdOf(listKey, 'p12', groupBy, keys[0] ?? ''))).toBe(false);
    }
  });

  it("keeps a period's units, agencies, districts and domains on one page per writer, and its officers apart", () => {
    const org = new Set(
      (['UNIT', 'AGENCY', 'DISTRICT', 'DOMAIN'] as const).map((g) =>
        pageIdOf(`${g}|MONTH|2021-03`, 'p4', g, 'k'),
      ),
    );
    expect([...org]).toEqual(['ORG|MONTH|2021-03|p4|0']);
    expect(org.has(pageIdOf('OFFICER|MONTH|2021-03', 'p4', 'OFFICER', 'k'))).toBe(false);
    expect(pageIdOf('UNIT|YEAR|2021', 'p4', 'UNIT', 'k')).not.toBe('ORG|MONTH|2021-03|p4|0');
  });

  it("spreads many officers' rows over every slot of a listing", () => {
    const used = new Set(keys.map((k) => pageIdOf('OFFICER|YEAR|2021', 'p0', 'OFFICER', k)));
    expect(used.size).toBe(PAGE_SLOTS.OFFICER);
  });
});
