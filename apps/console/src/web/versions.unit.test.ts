import { describe, expect, it } from 'vitest';
import type { Order } from './types.js';
import { later } from './versions.js';

describe('a live page keeps the later state of an order', () => {
  const answered: Order = { orderId: 'o1', status: 'ORDER_STATUS_ANSWERED', caseVersion: 9 };
  const open: Order = { orderId: 'o1', status: 'ORDER_STATUS_OPEN', caseVersion: 7 };

  it('ignores an update older than the one shown', () => {
    expect(later(answered, open)).toBe(answered);
  });

  it('takes a newer one, and of equal versions the one that came last', () => {
    expect(later(open, answered)).toBe(answered);
    const again = { ...answered, status: 'ORDER_STATUS_ESCALATED' };
    expect(later(answered, again)).toBe(again);
    expect(later(undefined, open)).toBe(open);
  });

  it('counts a state without a version as older than any with one', () => {
    const unversioned: Order = { orderId: 'o1', status: 'ORDER_STATUS_OPEN' };
    expect(later(answered, unversioned)).toBe(answered);
    expect(later(unversioned, open)).toBe(open);
  });
});
