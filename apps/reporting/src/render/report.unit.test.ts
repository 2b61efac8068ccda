import { describe, expect, it } from 'vitest';
import { StatisticsFold } from '../domain/statistics.js';
import { at, History } from '../test-support/events.js';
import { render } from './report.js';

/** A year whose districts are the agencies' text as they registered it. */
function yearWithDistricts(...districts: string[]) {
  const fold = new StatisticsFold(2021, at(2026, 1, 1).getTime());
  districts.forEach((district, i) =>
    fold.add(
      new History(`c${i}`)
        .register(at(2021, 3, 1), { district })
        .conclude(at(2021, 3, 11))
        .facts(),
    ),
  );
  return fold.result();
}

describe('the annual report as files a report writer opens', () => {
  it('CSV: a name that starts like a formula is shown, not run; figures stay numbers', () => {
    const s = yearWithDistricts('=HYPERLINK("http://x","点击")', '+1', '@SUM(A1)', '城中区');
    const text = render(s, 'CSV').content.toString('utf8');
    const lines = text.split('\n');
    const district = (name: string) =>
      lines.find((l) => l.startsWith('2021,DISTRICT,') && l.includes(name));
    expect(district('HYPERLINK')).toMatch(
      /^2021,DISTRICT,"'=HYPERLINK\(""http:\/\/x"",""点击""\)",/,
    );
    expect(district('+1')).toMatch(/^2021,DISTRICT,'\+1,'\+1,/);
    expect(district('SUM')).toMatch(/^2021,DISTRICT,'@SUM\(A1\),/);
    expect(district('城中区')).toMatch(/^2021,DISTRICT,城中区,城中区,1,1,/);
    // No cell of the file starts a formula.
    for (const l of lines.slice(1))
      expect(
        l.split(',').some((c) => /^[=+@]/.test(c)),
        l,
      ).toBe(false);
  });

  it('Markdown: a | in a name stays in its cell', () => {
    const s = yearWithDistricts('城中|区');
    const md = render(s, 'MARKDOWN').content.toString('utf8');
    expect(md).toContain('| 城中\\|区 |');
  });
});
