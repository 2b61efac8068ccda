// Wiring only: read configuration, start, stop on a signal.
import { serveUntilSignalled } from '@enforcement/telemetry';
import { loadReportingConfig } from './config.js';
import { createReporting } from './server.js';

serveUntilSignalled('reporting', await createReporting(loadReportingConfig()));
