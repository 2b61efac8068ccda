// Entry for `node --import @enforcement/telemetry/register dist/main.js`:
// installs the ESM loader hook the instrumentations need, then starts the SDK
// before the service's own modules (and so grpc-js, kafkajs, mongodb) load.
// The service flushes spans on shutdown with shutdownTelemetry().
import { register } from 'node:module';

register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const { startTelemetry } = await import('./index.js');
startTelemetry();
