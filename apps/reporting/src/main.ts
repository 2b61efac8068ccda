// Wiring only: read configuration, start, stop on a signal.
import { createLogger, shutdownTelemetry } from '@enforcement/telemetry';
import { loadReportingConfig } from './config.js';
import { createReporting } from './server.js';

const service = await createReporting(loadReportingConfig());
const log = createLogger('reporting');
log.info({ address: service.address }, `serving gRPC on ${service.address}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'draining');
    void service
      .stop()
      .then(() => shutdownTelemetry())
      .finally(() => process.exit(0));
  });
}
