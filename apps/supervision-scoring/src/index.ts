export {
  createSupervisionScoring,
  type SupervisionScoring,
  type ScoringOverrides,
} from './server.js';
export { loadScoringConfig, scoringSpec, type ScoringConfig } from './config.js';
