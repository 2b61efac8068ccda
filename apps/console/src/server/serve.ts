import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { Verifier } from '@enforcement/auth';
import { createConsole, type ConsoleApp } from './app.js';
import type { ConsoleConfig } from './config.js';

export interface RunningConsole {
  readonly url: string;
  readonly console: ConsoleApp;
  stop(): Promise<void>;
}

/** The console listening on CONSOLE_HOST:CONSOLE_PORT (0: any free port). */
export async function serveConsole(
  config: ConsoleConfig,
  verify?: Verifier,
): Promise<RunningConsole> {
  const app = createConsole(config, verify);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve(
      { fetch: app.app.fetch, hostname: config.CONSOLE_HOST, port: config.CONSOLE_PORT },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${config.CONSOLE_HOST}:${port}`,
    console: app,
    stop: () =>
      new Promise<void>((resolve) => {
        app.close();
        // Live streams stay open until their pages go: they are cut, not waited for.
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
