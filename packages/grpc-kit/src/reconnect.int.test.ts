import { afterAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { platform } from '@enforcement/contracts';
import {
  clientChannelOptions,
  createGrpcServer,
  RECONNECT_MAX_MS,
  type GrpcServer,
} from './index.js';

const info = (client: platform.PlatformServiceClient) =>
  new Promise<platform.GetServerInfoResponse>((resolve, reject) =>
    client.getServerInfo({}, new Metadata(), { deadline: Date.now() + 1_000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );

/** How long the service stays away: long enough for grpc's own backoff to have grown past 5 s. */
const OUTAGE_MS = 20_000;

describe('a client channel made with clientChannelOptions', () => {
  const servers: GrpcServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.shutdown(0);
  });

  it(
    'reaches a service that was away for 20 s within seconds of its coming back, not minutes',
    async () => {
      // A port the service listened on, and then no longer does.
      const first = createGrpcServer({ serviceName: 'gone', version: '1', gitCommit: 'a' });
      const port = await first.listen('127.0.0.1', 0);
      const address = `127.0.0.1:${port}`;
      const client = new platform.PlatformServiceClient(
        address,
        credentials.createInsecure(),
        clientChannelOptions,
      );
      try {
        expect((await info(client)).serviceName).toBe('gone');
        await first.shutdown(0);

        // Away: every call fails UNAVAILABLE, as a pass of the rules would every tick.
        const until = Date.now() + OUTAGE_MS;
        let failed = 0;
        while (Date.now() < until) {
          const e = (await info(client).then(
            () => undefined,
            (err: unknown) => err,
          )) as ServiceError | undefined;
          expect(e?.code).toBe(status.UNAVAILABLE);
          failed++;
          await new Promise((r) => setTimeout(r, 250));
        }
        expect(failed).toBeGreaterThan(10);

        // Back at the same address: the channel finds it within its longest backoff.
        const back = createGrpcServer({ serviceName: 'back', version: '2', gitCommit: 'b' });
        servers.push(back);
        await back.listen('127.0.0.1', port);
        // Called every 100 ms, as a console's calls or the rules' passes would come.
        const deadline = Date.now() + RECONNECT_MAX_MS + 1_000;
        let reached: string | undefined;
        while (reached === undefined && Date.now() < deadline) {
          reached = await info(client).then(
            (r) => r.serviceName,
            () => undefined,
          );
          if (reached === undefined) await new Promise((r) => setTimeout(r, 100));
        }
        expect(reached).toBe('back');
      } finally {
        client.close();
      }
    },
    OUTAGE_MS + 30_000,
  );
});
