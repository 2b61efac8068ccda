// Wiring only: read configuration, start, stop on a signal; a wrong setting or an
// unreachable dependency ends it with one plain line on stderr.
import { startService } from '@enforcement/telemetry';
import { loadIntakeConfig } from './config.js';
import { createCaseIntake } from './server.js';

await startService('case-intake', () => createCaseIntake(loadIntakeConfig()));
