// Wiring only: read configuration, start, stop on a signal.
import { shutdownTelemetry } from '@enforcement/telemetry';
import { loadReportingConfig } from './config.js';
import { createReporting } from './server.js';

const service = await createReporting(loadReportingConfig());
console.log(`[reporting] serving gRPC on ${service.address}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`[reporting] ${signal}: draining`);
    void service
      .stop()
      .then(() => shutdownTelemetry())
      .finally(() => process.exit(0));
  });
}
