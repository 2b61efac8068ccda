import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  credentials,
  loadPackageDefinition,
  status,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { platform } from '@enforcement/contracts';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { NeedsRestart } from '@enforcement/errors';
import {
  checkHealth,
  createGrpcServer,
  filesForSymbol,
  LIVENESS,
  listServicesByReflection,
  watchReadiness,
  type GrpcServer,
} from './index.js';

describe('gRPC server from the generated contracts', () => {
  let grpc: GrpcServer;
  let address: string;

  beforeAll(async () => {
    grpc = createGrpcServer({ serviceName: 'smoke', version: '0.1.0', gitCommit: 'abc123' });
    const port = await grpc.listen('127.0.0.1', 0);
    address = `127.0.0.1:${port}`;
  });

  afterAll(() => grpc.shutdown());

  it('answers grpc.health.v1 Check with SERVING for the server and for each service', async () => {
    const def = loadPackageDefinition(loadSync(healthProtoPath, { enums: String })) as unknown as {
      grpc: { health: { v1: { Health: ServiceClientConstructor } } };
    };
    type CheckFn = (
      req: { service: string },
      cb: (err: Error | null, res: { status: string }) => void,
    ) => void;
    const client = new def.grpc.health.v1.Health(address, credentials.createInsecure());
    const check = (service: string) =>
      new Promise<{ status: string }>((resolve, reject) =>
        (client.Check as CheckFn).call(client, { service }, (err, res) =>
          err ? reject(err) : resolve(res),
        ),
      );

    await expect(check('')).resolves.toEqual({ status: 'SERVING' });
    await expect(check('enforcement.platform.v1.PlatformService')).resolves.toEqual({
      status: 'SERVING',
    });
    await expect(check('no.such.Service')).rejects.toMatchObject({ code: status.NOT_FOUND });
    client.close();
  });

  it("is what a container's health probe says: exit 0 while SERVING, 1 with the reason otherwise", async () => {
    // The built probe, as the images' HEALTHCHECK runs it.
    const probe = fileURLToPath(new URL('../dist/probe.js', import.meta.url));
    const run = (target: string) =>
      promisify(execFile)(process.execPath, [probe, target]).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    expect(await run(address)).toEqual({ code: 0, stderr: '' });
    grpc.setServing(false);
    try {
      expect(await run(address)).toEqual({ code: 1, stderr: `${address}: NOT_SERVING\n` });
    } finally {
      grpc.setServing(true);
    }
    // Nothing listening: UNAVAILABLE, named.
    const closed = await run('127.0.0.1:1');
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/^127\.0\.0\.1:1: 14 UNAVAILABLE/);
  });

  it('keeps a service SERVING while only checks its calls do not need fail; the server as a whole says NOT_SERVING', async () => {
    const service = 'enforcement.platform.v1.PlatformService';
    const state = { store: true as true | string, consumer: true as true | string };
    const logged: string[] = [];
    const readiness = watchReadiness(
      grpc,
      {
        store: () => Promise.resolve(state.store),
        consumer: () => Promise.resolve(state.consumer),
      },
      { intervalMs: 60_000, log: (m) => logged.push(m), services: { [service]: ['store'] } },
    );
    const both = async () => [await checkHealth(address), await checkHealth(address, service)];
    try {
      state.consumer = 'partition 3 stuck';
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'SERVING']);
      expect(logged.at(-1)).toBe(
        `not ready: consumer: partition 3 stuck (still serving ${service})`,
      );
      state.store = 'no answer';
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'NOT_SERVING']);
      expect(logged.at(-1)).toBe(`${service} not serving: store: no answer`);
      state.consumer = true;
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'NOT_SERVING']);
      state.store = true;
      await readiness.check();
      expect(await both()).toEqual(['SERVING', 'SERVING']);
      expect(logged.slice(-2)).toEqual([
        `${service} serving again`,
        'ready: every dependency answers',
      ]);
    } finally {
      readiness.stop();
      grpc.setServing(true);
    }
    // A check named for a service must exist: a misspelt one would gate nothing.
    expect(() =>
      watchReadiness(
        grpc,
        { store: () => Promise.resolve(true) },
        {
          intervalMs: 60_000,
          log: () => undefined,
          services: { [service]: ['stroe'] },
        },
      ),
    ).toThrow(`${service} needs the check "stroe", which is not among the checks`);
  });

  it('fails liveness only for what a restart mends: a dependency away leaves it SERVING', async () => {
    const state = { store: true as true | string, consumer: (): Promise<true> => ok };
    const ok = Promise.resolve(true as const);
    const logged: string[] = [];
    const readiness = watchReadiness(
      grpc,
      { store: () => Promise.resolve(state.store), consumer: () => state.consumer() },
      { intervalMs: 60_000, timeoutMs: 200, log: (m) => logged.push(m) },
    );
    const both = async () => [await checkHealth(address), await checkHealth(address, LIVENESS)];
    try {
      expect(await both()).toEqual(['SERVING', 'SERVING']);
      // The database away, and a consumer kafkajs restarts by itself: both pass by themselves.
      state.store = 'no answer';
      state.consumer = () => Promise.reject(new Error('consumer restarting after: broker away'));
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'SERVING']);
      // A check that never answers is a dependency's deadline, not a wedge.
      state.consumer = () => new Promise<true>(() => undefined);
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'SERVING']);
      state.consumer = () =>
        Promise.reject(new NeedsRestart('consumer stopped for good after: authorization failed'));
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'NOT_SERVING']);
      expect(logged).toContain(
        `${LIVENESS} failing, a restart mends it: consumer: consumer stopped for good after: authorization failed`,
      );
      state.store = true;
      await readiness.check();
      expect(await both()).toEqual(['NOT_SERVING', 'NOT_SERVING']);
      state.consumer = () => ok;
      await readiness.check();
      expect(await both()).toEqual(['SERVING', 'SERVING']);
      expect(logged.slice(-2)).toEqual([
        `${LIVENESS} passes again`,
        'ready: every dependency answers',
      ]);
      // It is not a service's to name: it follows the checks' own verdicts.
      expect(() =>
        watchReadiness(
          grpc,
          { store: () => ok },
          { intervalMs: 60_000, log: () => undefined, services: { [LIVENESS]: ['store'] } },
        ),
      ).toThrow(`"${LIVENESS}" follows the checks that fail with NeedsRestart`);
    } finally {
      readiness.stop();
      grpc.setServing(true);
    }
  });

  it('lists exactly its services through server reflection, as grpcurl would', async () => {
    await expect(listServicesByReflection(address)).resolves.toEqual([
      'enforcement.platform.v1.PlatformService',
      'grpc.health.v1.Health',
    ]);
  });

  it('describes a service with every file it needs, well-known types included, so a client can call it', async () => {
    const files = (await filesForSymbol(address, 'enforcement.platform.v1.PlatformService')).map(
      (b) => fromBinary(FileDescriptorProtoSchema, b),
    );
    expect(files.map((f) => f.name)).toEqual([
      'enforcement/platform/v1/platform.proto',
      'google/protobuf/timestamp.proto',
    ]);
    expect(files[0]?.service[0]?.method.map((m) => m.name)).toEqual(['GetServerInfo']);
    const health = (await filesForSymbol(address, 'grpc.health.v1.Health')).map((b) =>
      fromBinary(FileDescriptorProtoSchema, b),
    );
    const list = health.flatMap((f) => f.messageType).find((m) => m.name === 'HealthListResponse');
    expect(list?.field[0]?.typeName).toBe('.grpc.health.v1.HealthListResponse.StatusesEntry');
    await expect(filesForSymbol(address, 'no.such.Symbol')).rejects.toThrow('not found');
  });

  it('serves the generated PlatformService with the identity it was built with', async () => {
    const client = new platform.PlatformServiceClient(address, credentials.createInsecure());
    const info = await new Promise<platform.GetServerInfoResponse>((resolve, reject) =>
      client.getServerInfo({}, (err, res) => (err ? reject(err) : resolve(res))),
    );
    client.close();

    expect(info).toMatchObject({ serviceName: 'smoke', version: '0.1.0', gitCommit: 'abc123' });
    expect(info.startedAt?.getTime()).toBeLessThanOrEqual(Date.now());
  });
});
