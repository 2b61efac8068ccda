import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { intake } from '@enforcement/contracts';
import { generateYear } from './year.js';

const digest = (commands: Iterable<intake.Command>) => {
  const h = createHash('sha256');
  for (const c of commands) h.update(JSON.stringify(c));
  return h.digest('hex');
};

describe('generateYear', () => {
  it('gives the same commands for the same seed, and others for another seed', () => {
    const a = generateYear({ seed: 's1', cases: 1_000 });
    const b = generateYear({ seed: 's1', cases: 1_000 });
    const c = generateYear({ seed: 's2', cases: 1_000 });
    expect(digest(a.stream())).toBe(digest(b.stream()));
    expect(digest(a.stream())).not.toBe(digest(c.stream()));
    expect(a.truth).toEqual(b.truth);
  });

  it('streams every planned command once, in time order, each case in its own order', () => {
    const y = generateYear({ cases: 1_200, evaluate: true });
    let n = 0;
    let last = 0;
    const seen = new Set<string>();
    for (const c of y.stream()) {
      const meta = c.kind?.value.meta;
      const at = meta?.occurredAt?.getTime() ?? 0;
      expect(at).toBeGreaterThanOrEqual(last);
      expect(seen.has(meta?.commandId ?? '')).toBe(false);
      seen.add(meta?.commandId ?? '');
      last = at;
      n++;
    }
    expect(n).toBe(y.commands);
    expect(last).toBeLessThan(Date.now());
  });

  it("plans the source document's reconsideration figures and a year that is mostly on time", () => {
    const t = generateYear({ cases: 2_000 }).truth.overall;
    expect(t).toMatchObject({
      casesRegistered: 2_000,
      reconsiderationsAccepted: 463,
      reconsiderationsConcluded: 403,
      reconsiderationsCorrected: 81,
    });
    expect(t.overdueCases / t.casesRegistered).toBeGreaterThan(0.03);
    expect(t.overdueCases / t.casesRegistered).toBeLessThan(0.15);
    expect(t.discretionAnomalies).toBeGreaterThan(0);
    expect(t.ordersEscalated).toBeGreaterThan(0);
    // Cases registered late in the year conclude in the next one.
    expect(t.casesConcluded).toBeLessThan(t.casesRegistered);
  });

  it('refuses a year too small for its reconsiderations, and a year not over yet', () => {
    expect(() => generateYear({ cases: 100 })).toThrow(/too few for 463 reconsiderations/);
    expect(() => generateYear({ year: new Date().getFullYear() })).toThrow(/not over/);
    expect(
      () =>
        generateYear({
          cases: 100,
          reconsideration: { accepted: 10, concluded: 8, corrected: 2, notAccepted: 1 },
        }).truth.overall.reconsiderationsCorrected,
    ).not.toThrow();
  });
});

describe('case plans', () => {
  it('extend a deadline only while the case is in progress, before its deadline and its decision', () => {
    const y = generateYear({ cases: 3_000 });
    const steps = new Map<string, string[]>();
    for (const c of y.stream()) {
      const k = c.kind;
      if (!k?.value.meta) continue;
      const list = steps.get(k.value.meta.caseId) ?? [];
      list.push(k.$case === 'recordProgress' ? (k.value.step?.$case ?? '') : k.$case);
      steps.set(k.value.meta.caseId, list);
    }
    const extended = [...steps.values()].filter((s) => s.includes('extension'));
    expect(extended.length).toBeGreaterThan(50);
    for (const s of extended) {
      const ext = s.indexOf('extension');
      for (const later of ['decidePenalty', 'concludeCase'])
        if (s.includes(later)) expect(s.indexOf(later)).toBeGreaterThan(ext);
    }
  });
});
