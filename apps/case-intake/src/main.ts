// Wiring only: read configuration, start, stop on a signal.
import { serveUntilSignalled } from '@enforcement/telemetry';
import { loadIntakeConfig } from './config.js';
import { createCaseIntake } from './server.js';

serveUntilSignalled('case-intake', await createCaseIntake(loadIntakeConfig()));
