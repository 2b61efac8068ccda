import { describe, expect, it } from 'vitest';
import { rankingChart } from './charts.js';

/** The value axis's tick labels, as the SVG prints them. */
const ticks = (svg: string) => [...svg.matchAll(/>(\d+(?:\.\d+)?)</g)].map((m) => m[1]);

describe('ranking charts do not exaggerate', () => {
  it('start their bars at zero, so 84.10 and 84.48 look as close as they are', () => {
    const svg = rankingChart('t', 'scores', ['a', 'b'], [84.48, 84.1], '分', 100);
    expect(ticks(svg)).toEqual(expect.arrayContaining(['0', '100']));
    // Each bar is labelled with its value.
    expect(svg).toContain('84.48');
    expect(svg).toContain('84.1');
  });

  it('start counts at zero too', () => {
    const svg = rankingChart('t', 'cases', ['a', 'b'], [530, 510], '件');
    expect(ticks(svg)[0]).toBe('0');
  });
});
