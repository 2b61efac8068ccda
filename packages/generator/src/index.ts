export {
  generateYear,
  RECONSIDERATION_2021,
  reconsiderationsForCases,
  reconsiderationsOf,
  SEED_YEAR_CASES,
  type GeneratedYear,
  type YearOptions,
} from './year.js';
export { emptyFigures, reportedFigures, type Figures, type GroundTruth } from './truth.js';
export { planCase, planReview, DAY, type CasePlan, type ReviewPlan } from './plan.js';
export { caseCommands, reviewCommands, officerName, type Timed } from './commands.js';
export { Random, seedOf } from './random.js';
export { SyntheticHistory } from './history.js';
