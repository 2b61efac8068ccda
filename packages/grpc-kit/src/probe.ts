/**
 * A container's health probe: `node probe.js [host:port] [service]` asks
 * grpc.health.v1 Check and exits 0 only when the answer is SERVING (the
 * services say SERVING only while their dependencies answer). Exit 1 names
 * what it got instead, for `docker inspect`.
 */
import { checkHealth } from './health-client.js';

const [address = '127.0.0.1:50051', service = ''] = process.argv.slice(2);
try {
  const got = await checkHealth(address, service, 4_000);
  if (got !== 'SERVING') {
    process.stderr.write(`${address}: ${got}\n`);
    process.exitCode = 1;
  }
} catch (e) {
  process.stderr.write(`${address}: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
