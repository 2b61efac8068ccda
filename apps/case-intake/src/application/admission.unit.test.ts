import { describe, expect, it } from 'vitest';
import { withIdsTrimmed } from './admission.js';
import type { Command } from '../domain/types.js';

describe('a command’s ids as intake stores them', () => {
  it('takes the white space off the ends of every id, however deep, and leaves other text and values as sent', () => {
    const at = new Date('2021-03-01T09:00:00Z');
    const sent: Command = {
      $case: 'dispatchCase',
      value: {
        meta: {
          commandId: ' c-1\u3000',
          caseId: '\u00a0LZ-1 ',
          occurredAt: at,
          expectedVersion: 1,
        },
        unitId: ' u-1',
        officers: [
          { officerId: 'off-1 ', name: ' 李明 ', credentialNo: '\u30004502 ' },
          { officerId: ' off-2', name: '王芳', credentialNo: '4503' },
        ],
      },
    };
    expect(withIdsTrimmed(sent)).toEqual({
      $case: 'dispatchCase',
      value: {
        meta: { commandId: 'c-1', caseId: 'LZ-1', occurredAt: at, expectedVersion: 1 },
        unitId: 'u-1',
        officers: [
          { officerId: 'off-1', name: ' 李明 ', credentialNo: '4502' },
          { officerId: 'off-2', name: '王芳', credentialNo: '4503' },
        ],
      },
    });
    // The command as sent is left as it came (a retry is judged by it).
    expect(sent.value.meta?.caseId).toBe('\u00a0LZ-1 ');

    const inspection: Command = {
      $case: 'recordProgress',
      value: {
        meta: { commandId: 'c-2', caseId: 'LZ-1', occurredAt: at },
        step: {
          $case: 'inspection',
          value: { location: ' 厂区 ', findings: ' 超标 ', officerIds: [' off-1', 'off-2\u3000'] },
        },
      },
    };
    expect(withIdsTrimmed(inspection)).toEqual({
      $case: 'recordProgress',
      value: {
        meta: { commandId: 'c-2', caseId: 'LZ-1', occurredAt: at },
        step: {
          $case: 'inspection',
          value: { location: ' 厂区 ', findings: ' 超标 ', officerIds: ['off-1', 'off-2'] },
        },
      },
    });
  });
});
