import { describe, expect, it } from 'vitest';
import { deviationChart, rankingChart, shareChart } from './charts.js';

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

describe('deviation charts show small differences as differences', () => {
  it('draw each bar from the reference, labelled with its difference and its value', () => {
    const svg = deviationChart('t', 'scores', ['a', 'b', 'c'], [84.48, 84.1, 84.3], 84.3, '分');
    expect(svg).toContain('+0.18 (84.48)');
    expect(svg).toContain('−0.20 (84.10)');
    expect(svg).toContain('±0.00 (84.30)');
    // The axis is centred on the reference: as far below as above.
    const labels = [...svg.matchAll(/>([+−±]\d+\.\d+)</g)].map((m) => m[1] ?? '');
    expect(labels).toContain('±0.00');
    expect(labels.filter((l) => l.startsWith('+')).length).toBe(
      labels.filter((l) => l.startsWith('−')).length,
    );
  });
});

describe('share charts', () => {
  it('give every part its count and share at the ring, one decimal', () => {
    const svg = shareChart('t', 'orders', [
      { name: 'on time', value: 239 },
      { name: 'escalated', value: 73 },
      { name: 'late', value: 61 },
    ]);
    expect(svg).toContain('239 (64.1%)');
    expect(svg).toContain('73 (19.6%)');
    expect(svg).toContain('61 (16.4%)');
  });
});
