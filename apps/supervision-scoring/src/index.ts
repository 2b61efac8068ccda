export {
  createSupervisionScoring,
  type SupervisionScoring,
  type ScoringOverrides,
} from './server.js';
export { loadScoringConfig, scoringSpec, type ScoringConfig } from './config.js';
// For tooling that loads or inspects read models (benchmarks, migrations).
export { orderDocOf, ReadModels } from './adapters/mongo/read-models.js';
export { applyEvent, emptyView, type CaseView } from './domain/case-view.js';
export { addToRows, contributionOf, pageIdOf, pageKeyOf, rollupDeltas } from './domain/rollups.js';
export { READ_MODEL_FORMAT } from './runtime.js';
export { MODEL_V1, scoreCase } from './domain/scoring-model.js';
// The rules' specification, for checking a running system against it.
export {
  DEFAULT_RULES,
  evaluationAt,
  supervisionPlan,
  type Action,
  type RuleConfig,
} from './domain/rules.js';
export type { CorrectionPart, RollupPageRow } from './application/ports.js';
