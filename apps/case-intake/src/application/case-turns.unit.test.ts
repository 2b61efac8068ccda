import { describe, expect, it } from 'vitest';
import { RuleViolation } from '../domain/errors.js';
import { CaseTurns } from './case-turns.js';

const later = () => new Promise((r) => setTimeout(r, 1));

describe("a case's commands take turns within an instance", () => {
  it('runs one command of a case at a time, in the order they came, while other cases run beside it', async () => {
    const turns = new CaseTurns();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} starts`);
      await later();
      log.push(`${name} ends`);
      return name;
    };
    const results = await Promise.all([
      turns.run('a', 'lz-eeb', task('a1')),
      turns.run('a', 'lz-eeb', task('a2')),
      turns.run('b', 'lz-eeb', task('b1')),
      turns.run('a', 'lz-eeb', task('a3')),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1', 'a3']);
    const ofA = log.filter((l) => l.startsWith('a'));
    expect(ofA).toEqual(['a1 starts', 'a1 ends', 'a2 starts', 'a2 ends', 'a3 starts', 'a3 ends']);
    // b started while a1 ran.
    expect(log.indexOf('b1 starts')).toBeLessThan(log.indexOf('a1 ends'));
  });

  it('lets the next command run after one fails, and passes the failure to its caller only', async () => {
    const turns = new CaseTurns();
    const failed = turns.run('a', 'lz-eeb', () => Promise.reject(new Error('store gone')));
    const next = turns.run('a', 'lz-eeb', async () => 'stored');
    await expect(failed).rejects.toThrow('store gone');
    await expect(next).resolves.toBe('stored');
  });

  it('refuses a command past the waiting bound at once, ABORTED, and takes them again once the line moves', async () => {
    const turns = new CaseTurns(2);
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    const first = turns.run('a', 'lz-eeb', () => held);
    const second = turns.run('a', 'lz-eeb', async () => 'second');
    const third = turns.run('a', 'lz-eeb', async () => 'third');
    await expect(third).rejects.toSatisfy(
      (e) =>
        e instanceof RuleViolation &&
        e.code === 'CASE.VERSION_CONFLICT' &&
        e.message.includes('2 of your commands already wait their turn on case a'),
    );
    // Another case is not held by a's line.
    await expect(turns.run('b', 'lz-eeb', async () => 'b')).resolves.toBe('b');
    release();
    await first;
    await expect(second).resolves.toBe('second');
    await expect(turns.run('a', 'lz-eeb', async () => 'again')).resolves.toBe('again');
  });

  it("bounds each caller's place in a line: one that floods a case holds back its own commands, not the case agency's", async () => {
    const turns = new CaseTurns(2);
    let release = () => undefined as void;
    const held = new Promise<void>((r) => (release = r));
    const order: string[] = [];
    const flood = [
      turns.run('a', 'intruder', () => held),
      turns.run('a', 'intruder', async () => order.push('intruder 2')),
    ];
    const refused = turns.run('a', 'intruder', async () => 'never');
    await expect(refused).rejects.toSatisfy(
      (e) => e instanceof RuleViolation && e.code === 'CASE.VERSION_CONFLICT',
    );
    // The owner still gets places in the line, after what was queued before it.
    const owners = [
      turns.run('a', 'lz-eeb', async () => order.push('owner 1')),
      turns.run('a', 'lz-eeb', async () => order.push('owner 2')),
    ];
    release();
    await Promise.all([...flood, ...owners]);
    expect(order).toEqual(['intruder 2', 'owner 1', 'owner 2']);
    // Once the line drained, the intruder's count starts again.
    await expect(turns.run('a', 'intruder', async () => 'again')).resolves.toBe('again');
  });
});
