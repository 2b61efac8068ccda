// Wiring only: read configuration, start, stop on a signal.
import { serveUntilSignalled } from '@enforcement/telemetry';
import { loadScoringConfig } from './config.js';
import { createSupervisionScoring } from './server.js';

serveUntilSignalled('supervision-scoring', await createSupervisionScoring(loadScoringConfig()));
