import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { asFieldName, fromFieldName } from './field-names.js';

describe('keys as field names', () => {
  it('hold no dot and no dollar sign, and read back as the key, whatever it is', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('.', '$', '%', '2', 'E', '4', 'a', '|') }),
        (key) => {
          const field = asFieldName(key);
          expect(field).not.toMatch(/[.$]/);
          expect(fromFieldName(field)).toBe(key);
        },
      ),
    );
  });
});
