export { createReporting, type Reporting, type ReportingOverrides } from './server.js';
export { loadReportingConfig, reportingSpec, type ReportingConfig } from './config.js';
export { applyFact, emptyFacts, type CaseFacts } from './domain/facts.js';
export {
  StatisticsFold,
  digestOf,
  type AnnualStatistics,
  type Figures,
  type Grouping,
} from './domain/statistics.js';
export { render, type Format } from './render/report.js';
