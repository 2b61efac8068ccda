import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP load balancer in front of one service at a time, as a Kubernetes
 * Service is in front of its pods: clients keep its address, and `route`
 * sends the next connections elsewhere (the open ones break with their
 * target, as they do when a pod dies).
 */
export interface TcpProxy {
  readonly address: string;
  route(target: string): void;
  /** Breaks every connection open now, as a target that went away does. */
  drop(): void;
  close(): Promise<void>;
}

export function tcpProxy(target: string): Promise<TcpProxy> {
  let to = target;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const [host, port] = splitAddress(to);
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => undefined);
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({
        address: `127.0.0.1:${port}`,
        route: (next) => {
          to = next;
        },
        drop: () => {
          for (const s of open) s.destroy();
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of open) s.destroy();
            server.close(() => done());
          }),
      });
    }),
  );
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1))];
}
