export { createCaseIntake, type CaseIntake, type IntakeOverrides } from './server.js';
export { loadIntakeConfig, intakeSpec, type IntakeConfig } from './config.js';
