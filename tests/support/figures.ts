import type { reporting } from '@enforcement/contracts';
import { reportedFigures, type GeneratedYear, type Figures } from '@enforcement/generator';

/** The annual figures the rules never touch (orders and evaluations are theirs). */
export const RULE_FREE = [
  'casesRegistered',
  'casesConcluded',
  'closureRate',
  'meanHandlingDays',
  'p90HandlingDays',
  'overdueCases',
  'penalties',
  'penaltyTotalFen',
  'discretionAnomalies',
  'reconsiderationsAccepted',
  'reconsiderationsConcluded',
  'reconsiderationsCorrected',
  'correctionRate',
] as const;

/** Groups (the city, each agency, each district) whose rule-free figures differ from the truth. */
export function figureDifferences(
  byAgency: reporting.GetAnnualStatisticsResponse,
  byDistrict: reporting.GetAnnualStatisticsResponse,
  truth: GeneratedYear['truth'],
): string[] {
  const out: string[] = [];
  const compare = (label: string, got: reporting.Statistics | undefined, want: Figures) => {
    const w = reportedFigures(want);
    for (const k of RULE_FREE)
      if (Number(got?.[k] ?? 0) !== w[k]) {
        out.push(`${label} ${k}: ${String(got?.[k])} ≠ ${w[k]}`);
        return;
      }
  };
  compare('city', byAgency.overall, truth.overall);
  const groups = (r: reporting.GetAnnualStatisticsResponse) =>
    new Map(r.groups.map((g) => [g.key, g]));
  const agencies = groups(byAgency);
  for (const [key, t] of truth.byAgency) compare(`agency ${key}`, agencies.get(key), t);
  const districts = groups(byDistrict);
  for (const [key, t] of truth.byDistrict) compare(`district ${key}`, districts.get(key), t);
  return out;
}
