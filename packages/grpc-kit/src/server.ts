import {
  Server,
  ServerCredentials,
  type ServerOptions,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import { platform } from '@enforcement/contracts';
import { contractsDescriptorSet } from '@enforcement/contracts/descriptor';
import { DescriptorReflection } from './reflection.js';
import { RequestBudget } from './request-budget.js';
import { tolerant } from './tolerant.js';

export interface ServerIdentity {
  readonly serviceName: string;
  readonly version: string;
  readonly gitCommit?: string;
}

/** How clients reach the server: its credentials (plaintext when absent) and whether reflection answers. */
export interface ServerTransport {
  readonly credentials?: ServerCredentials;
  readonly reflection?: boolean;
  /** The bytes of requests held at once (RequestBudget); 64 MiB when absent. */
  readonly requestBytesInFlight?: number;
}

/**
 * The health name a liveness probe asks for: NOT_SERVING only while the
 * process has a fault that a restart mends (see watchReadiness), never for a
 * dependency away.
 */
export const LIVENESS = 'liveness';

export interface GrpcServer {
  readonly server: Server;
  readonly health: HealthImplementation;
  /** The requests held, for a service that takes streamed items (each released once done with). */
  readonly requests: RequestBudget;
  /** Adds a service; its health status follows the server's. */
  addService<I extends UntypedServiceImplementation>(
    definition: ServiceDefinition<I>,
    impl: I,
  ): void;
  /** Binds, starts and marks every service SERVING; resolves to the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Marks NOT_SERVING, drains calls for up to `graceMs`, then forces. */
  shutdown(graceMs?: number): Promise<void>;
  /**
   * Health follows readiness once listening: the server as a whole ('') is
   * `serving`, and so is each service, unless `services` says otherwise for
   * it by name (a service whose calls still work while part of the server
   * does not), and so is LIVENESS, unless `services` says otherwise for it.
   */
  setServing(serving: boolean, services?: ReadonlyMap<string, boolean>): void;
}

/**
 * A grpc-js server that already serves grpc.health.v1, server reflection over
 * every contract under proto/, and enforcement.platform.v1 (which build is
 * answering). Services add their own implementations to `server`.
 */
export function createGrpcServer(
  identity: ServerIdentity,
  options: ServerOptions = {},
  transport: ServerTransport = {},
): GrpcServer {
  const server = new Server({
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    ...options,
  });
  const health = new HealthImplementation({ '': 'NOT_SERVING' });
  health.addToServer(server);
  const requests = new RequestBudget(transport.requestBytesInFlight ?? 64 * 1024 * 1024);

  const startedAt = new Date();
  const info: platform.PlatformServiceServer = {
    getServerInfo: (_call, callback) =>
      callback(null, {
        serviceName: identity.serviceName,
        version: identity.version,
        gitCommit: identity.gitCommit ?? '',
        startedAt,
        nodeVersion: process.version,
      }),
  };
  const served: string[] = [];
  const addService = <I extends UntypedServiceImplementation>(
    definition: ServiceDefinition<I>,
    impl: I,
  ) => {
    const safe = tolerant(definition, impl, requests);
    server.addService(safe.definition, safe.impl);
    const name = serviceNameOf(definition);
    if (name) served.push(name);
  };
  addService(platform.PlatformServiceService, info);
  const setAll = (s: 'SERVING' | 'NOT_SERVING') => {
    for (const name of ['', LIVENESS, ...served]) health.setStatus(name, s);
  };
  const said = (serving: boolean) => (serving ? 'SERVING' : 'NOT_SERVING');

  let listening = false;
  let shuttingDown = false;
  return {
    server,
    health,
    requests,
    addService,
    setServing: (serving, services) => {
      if (!listening || shuttingDown) return;
      health.setStatus('', said(serving));
      health.setStatus(LIVENESS, said(services?.get(LIVENESS) ?? serving));
      for (const name of served) health.setStatus(name, said(services?.get(name) ?? serving));
    },
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        // Reflection lists exactly the services added by now, so a client
        // never sees a contract this server does not serve.
        if (transport.reflection !== false)
          new DescriptorReflection(() => ['grpc.health.v1.Health', ...served].sort())
            .addDescriptorSet(contractsDescriptorSet())
            .addPackageDefinition(loadSync(healthProtoPath, { keepCase: true }))
            .addToServer(server);
        const creds = transport.credentials ?? ServerCredentials.createInsecure();
        server.bindAsync(`${host}:${port}`, creds, (err, bound) => {
          if (err) {
            reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
            return;
          }
          setAll('SERVING');
          listening = true;
          resolve(bound);
        });
      }),
    shutdown: (graceMs = 5_000) =>
      new Promise((resolve) => {
        shuttingDown = true;
        setAll('NOT_SERVING');
        const force = setTimeout(() => server.forceShutdown(), graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

/** The full name of the gRPC service `definition` defines, as health and reflection know it. */
export function serviceNameOf(definition: ServiceDefinition): string {
  const firstPath = Object.values(definition)[0]?.path ?? '';
  return firstPath.split('/')[1] ?? '';
}
