// Wiring only: read configuration, start, stop on a signal; a wrong setting or an
// unreachable dependency ends it with one plain line on stderr.
import { startService } from '@enforcement/telemetry';
import { loadReportingConfig } from './config.js';
import { createReporting } from './server.js';

await startService('reporting', () => createReporting(loadReportingConfig()));
