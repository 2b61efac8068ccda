import { describe, expect, it } from 'vitest';
import { decodeFeedMark, encodeFeedMark } from './feed-marks.js';

describe('feed marks on the wire', () => {
  it('reads back what it wrote, keyed by the feed', () => {
    const m = { feed: 'lz-eeb|1', before: Date.UTC(2022, 2, 8) };
    const { key, value } = encodeFeedMark(m);
    expect(key).toBe('lz-eeb|1');
    expect(decodeFeedMark(Buffer.from(value))).toEqual(m);
  });

  it.each([
    [null, 'no value'],
    ['{', 'not JSON'],
    ['null', 'feed'],
    ['{"feed":"lz-eeb","before":1}', 'feed'],
    [`{"feed":"${'x'.repeat(300)}|1","before":1}`, 'feed'],
    ['{"feed":"lz-eeb|1","before":"2022-01-01"}', 'before'],
    ['{"feed":"lz-eeb|1","before":-5}', 'before'],
    ['{"feed":"lz-eeb|1","before":1.5}', 'before'],
  ])('names what is wrong with %s', (raw, field) => {
    const r = decodeFeedMark(raw === null ? null : Buffer.from(raw));
    expect(typeof r).toBe('string');
    expect(r).toContain(field);
  });
});
