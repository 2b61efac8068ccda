import { describe, expect, it } from 'vitest';
import { DomainError } from '@enforcement/errors';
import { asStored, refuseNul, textWithNul } from './request-text.js';

describe('text with a NUL character in a request', () => {
  it('names the first field that holds one, however deep, in snake_case', () => {
    expect(textWithNul({ agencyId: 'lz-eeb', district: 'a\u0000' })).toBe('district');
    expect(textWithNul({ filter: { unitId: '\u0000' } })).toBe('filter.unit_id');
    expect(textWithNul({ officerIds: ['a', 'b\u0000c'] })).toBe('officer_ids[1]');
    expect(textWithNul({ means: { ['k\u0000']: 1 } })).toBe('means.k\u0000');
    expect(
      textWithNul({ payload: { $case: 'caseRegistered', value: { district: 'd\u0000' } } }),
    ).toBe('payload.case_registered.district');
  });

  it('finds none in text without one, in times, numbers or bytes', () => {
    expect(
      textWithNul({
        caseId: 'LZ2021-000001',
        asOf: new Date(0),
        year: 2021,
        big: 1n,
        content: new Uint8Array([0, 0]),
        none: undefined,
        empty: null,
      }),
    ).toBeUndefined();
  });

  it('refuses it as FIELD.INVALID naming the field', () => {
    let refused: unknown;
    try {
      refuseNul({ agencyId: '\u0000' });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'FIELD.INVALID' });
    expect(String((refused as Error).message)).toContain('agency_id');
    expect(() => refuseNul({ agencyId: 'lz-eeb' })).not.toThrow();
  });
});

describe('a query’s names as intake stores them', () => {
  it('takes the white space off the ends of case, agency, unit and district, and leaves other text', () => {
    const asked = {
      caseId: ' LZ2021-000001\u3000',
      agencyId: '\tlz-eeb ',
      unitId: ' u1',
      district: '柳南区 ',
      aboutCaseId: ' x ',
      officerId: ' o1 ',
      pageToken: ' t ',
      year: 2021,
    };
    expect(asStored(asked)).toEqual({
      caseId: 'LZ2021-000001',
      agencyId: 'lz-eeb',
      unitId: 'u1',
      district: '柳南区',
      aboutCaseId: 'x',
      officerId: ' o1 ',
      pageToken: ' t ',
      year: 2021,
    });
    // The request itself is left as it came.
    expect(asked.caseId).toBe(' LZ2021-000001\u3000');
  });
});
