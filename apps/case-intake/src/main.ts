// Wiring only: read configuration, start, stop on a signal.
import { createLogger, shutdownTelemetry } from '@enforcement/telemetry';
import { loadIntakeConfig } from './config.js';
import { createCaseIntake } from './server.js';

const config = loadIntakeConfig();
const service = await createCaseIntake(config);
const log = createLogger('case-intake');
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
