import { describe, expect, it } from 'vitest';
import { RequestBudget } from './request-budget.js';

describe('the requests a server holds at once', () => {
  it('takes requests up to the bound, refuses one more, and takes it once an earlier one is released', () => {
    const budget = new RequestBudget(100);
    const a = {};
    const b = {};
    expect(budget.take(60)).toBe(true);
    budget.hold(a, 60);
    expect(budget.take(40)).toBe(true);
    budget.hold(b, 40);
    expect(budget.take(1)).toBe(false);
    budget.release(a);
    // Released once: a second release changes nothing.
    budget.release(a);
    expect(budget.heldBytes).toBe(40);
    expect(budget.take(60)).toBe(true);
  });

  it('takes a request larger than the bound while nothing else is held, so none is refused for good', () => {
    const budget = new RequestBudget(100);
    expect(budget.take(500)).toBe(true);
    expect(budget.take(1)).toBe(false);
    budget.giveBack(500);
    expect(budget.take(1)).toBe(true);
  });

  it("holds a stream's item from when its stream reads it, whatever else is held, and tells a stream that stopped reading when there is room again", () => {
    const budget = new RequestBudget(100);
    const items = [{}, {}, {}];
    for (const item of items) budget.measure(item, 80);
    // Decoded, not read yet: nothing held, so an item its stream never reads holds nothing.
    expect(budget.heldBytes).toBe(0);
    budget.takeItem(items[0]);
    budget.takeItem(items[1]);
    budget.takeItem(items[1]);
    expect(budget.heldBytes).toBe(160);
    expect(budget.full).toBe(true);
    let told = 0;
    budget.whenRoom(() => told++);
    budget.release(items[0]);
    // 80 held of 100: room again, told once.
    expect(told).toBe(1);
    budget.release(items[1]);
    // Never read: releasing it changes nothing.
    budget.release(items[2]);
    expect(told).toBe(1);
    expect(budget.heldBytes).toBe(0);
  });
});
