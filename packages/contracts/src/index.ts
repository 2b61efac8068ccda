// One namespace per bounded context, so that equal message names in two
// contexts never clash.
export * as events from './gen/enforcement/events/v1/events.js';
export * as intake from './gen/enforcement/intake/v1/intake.js';
export * as scoring from './gen/enforcement/scoring/v1/scoring.js';
export * as reporting from './gen/enforcement/reporting/v1/reporting.js';
export * as platform from './gen/enforcement/platform/v1/platform.js';
export { earliestRecordedMs } from './recorded.js';
export { MAX_ID_LENGTH, textWithNul } from './text.js';
export { RULE_COMMAND_KINDS, ruleCommandKind, type RuleName } from './rule-ids.js';
