import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asFieldName, fromFieldName } from './field-names.js';

/** White space at either end: FerretDB refuses a path part so (MongoDB takes it). */
const ENDS = /^\s|\s$/u;

describe('keys as field names', () => {
  it('hold no dot, no dollar sign and no white space at either end, and read back as the key, whatever it is', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(
            '.',
            '$',
            '%',
            '2',
            'E',
            '4',
            'u',
            '0',
            'a',
            '|',
            ' ',
            '\t',
            '\u3000',
            '\u00a0',
            '执',
          ),
        }),
        (key) => {
          const field = asFieldName(key);
          expect(field).not.toMatch(/[.$]/);
          expect(field).not.toMatch(ENDS);
          expect(fromFieldName(field)).toBe(key);
        },
      ),
    );
  });

  it('read back as they were written before white space was escaped', () => {
    // Fields already in stores: `%`, `.` and `$` escaped, white space inside as it is.
    const written: [string, string][] = [
      ['lz-eeb|ENFORCEMENT', 'lz-eeb|ENFORCEMENT'],
      ['a%2Eb%24c%25d', 'a.b$c%d'],
      ['%2520', '%20'],
      ['%25u3000', '%u3000'],
      ['case 1', 'case 1'],
    ];
    for (const [field, key] of written) expect(fromFieldName(field)).toBe(key);
    expect(asFieldName('case 1')).toBe('case 1');
  });
});
