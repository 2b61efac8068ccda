import { describe, expect, it } from 'vitest';
import { generateYear, reportedFigures, SyntheticHistory } from '@enforcement/generator';
import { applyFact, emptyFacts, type CaseFacts } from './facts.js';
import { StatisticsFold } from './statistics.js';

describe('statistics of a generated year, without the stack', () => {
  it('match the counts the generator planned', () => {
    const year = generateYear({ seed: 'unit', cases: 1_500, evaluate: true });
    const history = new SyntheticHistory();
    const facts = new Map<string, CaseFacts>();
    for (const command of year.stream()) {
      const e = history.next(command);
      facts.set(e.caseId, applyFact(facts.get(e.caseId) ?? emptyFacts(e.caseId), e));
    }
    const fold = new StatisticsFold(2021, Date.now());
    for (const f of facts.values()) fold.add(f);
    const s = fold.result();
    const t = year.truth.overall;
    expect(s.overall).toMatchObject(reportedFigures(t));
    expect(t).toMatchObject({
      reconsiderationsAccepted: 463,
      reconsiderationsConcluded: 403,
      reconsiderationsCorrected: 81,
    });
    for (const g of s.groups.AGENCY) {
      const truth = year.truth.byAgency.get(g.key);
      expect(truth, g.key).toBeDefined();
      if (truth) expect(g, g.key).toMatchObject(reportedFigures(truth));
    }
  });
});
