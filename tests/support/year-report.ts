import { generateYear, SyntheticHistory } from '@enforcement/generator';
import {
  applyFact,
  emptyFacts,
  StatisticsFold,
  type AnnualStatistics,
  type CaseFacts,
} from '@enforcement/reporting';

/**
 * A generated year of 2021 folded by reporting's own statistics, as the
 * service would for the same events (no stack: the facts are applied in
 * memory), as of `asOfMs`.
 */
export function statisticsOfYear(o: {
  seed: string;
  cases: number;
  asOfMs: number;
}): AnnualStatistics {
  const year = generateYear({ seed: o.seed, year: 2021, cases: o.cases, evaluate: true });
  const history = new SyntheticHistory();
  const facts = new Map<string, CaseFacts>();
  for (const command of year.stream()) {
    const e = history.next(command);
    facts.set(e.caseId, applyFact(facts.get(e.caseId) ?? emptyFacts(e.caseId), e));
  }
  const fold = new StatisticsFold(2021, o.asOfMs);
  for (const f of facts.values()) fold.add(f);
  return fold.result();
}
