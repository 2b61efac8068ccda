import { describe, expect, it } from 'vitest';
import { ruleCommandKind } from './rule-ids.js';

describe("the supervision rules' command ids", () => {
  it('keeps each rule prefix for the kind of command the rules send under it', () => {
    expect(ruleCommandKind('overdue:LZ2021-000123')).toBe('openSupervisionOrder');
    expect(ruleCommandKind('legal-review:LZ2021-000123')).toBe('openSupervisionOrder');
    expect(ruleCommandKind('escalate:auto-overdue:LZ2021-000123:1')).toBe(
      'escalateSupervisionOrder',
    );
    expect(ruleCommandKind('evaluate:supervision-score/v1:#3f0c')).toBe('recordEvaluation');
  });

  it('keeps nothing else: other ids, other cases of the same words, names every object has', () => {
    for (const id of ['overdue', 'overdueLZ1', 'Overdue:LZ1', ':overdue', 'cmd-1:overdue:LZ1'])
      expect(ruleCommandKind(id), id).toBeUndefined();
    for (const id of ['toString:x', 'constructor:x', '__proto__:x', 'hasOwnProperty:x'])
      expect(ruleCommandKind(id), id).toBeUndefined();
  });
});
