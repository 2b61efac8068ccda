import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { newRunTag, NO_RUN, runsTopic, taggedName } from './run-tag.js';

const prefix = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const tags = fc
  .tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff }))
  .filter(([a, b]) => a !== b)
  .map(([a, b]) => [a, b].map((n) => n.toString(16).padStart(4, '0')) as [string, string]);

// What a topic made from a test's name looks like: the name itself, a
// namespace's topics, or the name with its dashes made underscores.
const shapes = [
  (name: string) => name,
  (name: string) => `${name}.enforcement.case-events.v1`,
  (name: string) => `${name.replace(/-/g, '_')}.dlq`,
];

describe('the topics a test run deletes at its end', () => {
  it("are the ones named in the run, never another run's on the same stack", () => {
    fc.assert(
      fc.property(prefix, tags, fc.constantFrom(...shapes), (p, [mine, theirs], shape) => {
        expect(runsTopic(shape(taggedName(p, mine)), mine)).toBe(true);
        expect(runsTopic(shape(taggedName(p, theirs)), mine)).toBe(false);
        expect(runsTopic(shape(taggedName(p, NO_RUN)), mine)).toBe(false);
      }),
    );
  });

  it('leave fixed names the services make on their own, and names from before tags', () => {
    const tag = newRunTag();
    for (const topic of [
      'enforcement.case-events.v1',
      'enforcement.feed-marks.v1',
      '__consumer_offsets',
      `e2e-${Date.now().toString(36)}-a1b2c3.enforcement.case-events.v1`,
    ])
      expect(runsTopic(topic, tag)).toBe(false);
  });

  it('never gives a run the tag of names made outside one', () => {
    for (let i = 0; i < 1000; i++) expect(newRunTag()).not.toBe(NO_RUN);
  });
});
