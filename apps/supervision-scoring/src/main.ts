// Wiring only: read configuration, start, stop on a signal.
import { shutdownTelemetry } from '@enforcement/telemetry';
import { loadScoringConfig } from './config.js';
import { createSupervisionScoring } from './server.js';

const service = await createSupervisionScoring(loadScoringConfig());
console.log(`[scoring] serving gRPC on ${service.address}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[scoring] ${signal}: draining`);
    void service
      .stop()
      .then(() => shutdownTelemetry())
      .finally(() => process.exit(0));
  });
}
