import { describe, expect, it } from 'vitest';
import { count, fromBeijing, moment, money, percent } from './format.js';

describe('figures as a Chinese reader reads them', () => {
  it('gives money in 万元 with two decimals and thousands separators, and in yuan in English', () => {
    expect(money(5_392_460_000, 'zh')).toBe('5,392.46 万元');
    expect(money(1_019_00000, 'zh')).toBe('101.90 万元');
    expect(money(0, 'zh')).toBe('0.00 万元');
    expect(money(123_456_78, 'en')).toBe('¥123,457');
  });

  it('shows every moment in Beijing time, whatever the zone it is given in', () => {
    expect(moment('2021-12-31T16:30:00Z')).toBe('2022-01-01 00:30');
    expect(moment('2021-12-31T16:30:00Z', true)).toBe('2022-01-01');
    expect(moment(undefined)).toBe('—');
    expect(moment('not a date')).toBe('—');
    expect(fromBeijing('2022-01-01T00:30')).toBe('2021-12-31T16:30:00.000Z');
  });

  it('separates thousands and writes shares as percentages', () => {
    expect(count(1_234_567, 'zh')).toBe('1,234,567');
    expect(percent(0.9444, 'zh')).toBe('94.4%');
  });
});
