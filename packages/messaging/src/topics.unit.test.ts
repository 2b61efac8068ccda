import { describe, expect, it } from 'vitest';
import { namespaced, namespacedGroup } from './topics.js';

describe('separate worlds on one broker', () => {
  it('give every topic and every consumer group its namespace', () => {
    const a = namespaced('demo-2021-1000');
    const b = namespaced('demo-2021-10000');
    expect(a.caseEvents).toBe('demo-2021-1000.enforcement.case-events.v1');
    expect(a.caseCheckpoints).not.toBe(b.caseCheckpoints);
    expect(namespacedGroup('demo-2021-1000', 'enforcement.scoring')).toBe(
      'demo-2021-1000.enforcement.scoring',
    );
    expect(namespacedGroup('demo-2021-1000', 'enforcement.scoring')).not.toBe(
      namespacedGroup('demo-2021-10000', 'enforcement.scoring'),
    );
  });

  it('leave names alone without a namespace, or already under it', () => {
    expect(namespacedGroup('', 'enforcement.reporting')).toBe('enforcement.reporting');
    expect(namespacedGroup('run-1', 'run-1.reporting')).toBe('run-1.reporting');
  });
});
