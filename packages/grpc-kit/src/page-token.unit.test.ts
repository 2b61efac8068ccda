import { describe, expect, it } from 'vitest';
import { DomainError } from '@enforcement/errors';
import { cursorOf, tokenAfter } from './page-token.js';

const refused = (token: string) => {
  try {
    cursorOf(token, 'QUERY.PAGE_TOKEN');
  } catch (e) {
    return e instanceof DomainError ? [e.code, e.field] : ['not a domain error'];
  }
  return ['taken'];
};

describe('page tokens', () => {
  it('give back the place they were made for, colons and all', () => {
    for (const [ms, id] of [
      [0, 'x'],
      [1_614_556_800_000, 'case:with:colons'],
      [2 ** 45, '案件-12'],
      [8.64e15, 'the last moment'],
      [7, ' '],
    ] as const)
      expect(cursorOf(tokenAfter(ms, id), 'QUERY.PAGE_TOKEN')).toEqual({
        afterMs: ms,
        afterId: id,
      });
  });

  it('read an offset token as issued before keysets, and the empty token as the start', () => {
    expect(cursorOf('', 'X')).toEqual({ offset: 0 });
    expect(cursorOf(Buffer.from('100').toString('base64url'), 'X')).toEqual({ offset: 100 });
  });

  it('refuse what they did not issue, naming page_token', () => {
    for (const text of [
      'after:',
      'after:12:',
      'after::x',
      'after:-1:x',
      'after:1.5:x',
      'after:8640000000000001:x',
      'x',
      '-1',
      '1e3',
      '9999999999',
    ])
      expect(refused(Buffer.from(text).toString('base64url')), text).toEqual([
        'QUERY.PAGE_TOKEN',
        'page_token',
      ]);
  });
});
