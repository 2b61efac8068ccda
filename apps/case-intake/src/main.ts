// Wiring only: read configuration, start, stop on a signal.
import { shutdownTelemetry } from '@enforcement/telemetry';
import { loadIntakeConfig } from './config.js';
import { createCaseIntake } from './server.js';

const config = loadIntakeConfig();
const service = await createCaseIntake(config);
console.log(`[case-intake] serving gRPC on ${service.address}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[case-intake] ${signal}: draining`);
    void service
      .stop()
      .then(() => shutdownTelemetry())
      .finally(() => process.exit(0));
  });
}
