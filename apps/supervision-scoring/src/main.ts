// Wiring only: read configuration, start, stop on a signal; a wrong setting or an
// unreachable dependency ends it with one plain line on stderr.
import { startService } from '@enforcement/telemetry';
import { loadScoringConfig } from './config.js';
import { createSupervisionScoring } from './server.js';

await startService('supervision-scoring', () => createSupervisionScoring(loadScoringConfig()));
