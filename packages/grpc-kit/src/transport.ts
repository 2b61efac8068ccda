import { readFileSync } from 'node:fs';
import {
  credentials,
  ServerCredentials,
  type ChannelCredentials,
  type ChannelOptions,
} from '@grpc/grpc-js';

/** A file path, or '-' for none. */
const file = (path: string): Buffer | undefined =>
  path === '-' || path === '' ? undefined : readFileSync(path);

/** How a server is reached: TLS files (paths or '-') and whether reflection answers. */
export interface TransportSettings {
  readonly GRPC_TLS_CERT: string;
  readonly GRPC_TLS_KEY: string;
  /** CA that signs client certificates; set, every client must present one (mTLS). */
  readonly GRPC_TLS_CLIENT_CA: string;
  readonly GRPC_REFLECTION: boolean;
}

/**
 * Server credentials from the settings: plaintext when no certificate is
 * given (loopback and development), TLS with one, mutual TLS when a client
 * CA is given as well.
 */
export function serverCredentialsFrom(s: TransportSettings): ServerCredentials {
  const cert = file(s.GRPC_TLS_CERT);
  const key = file(s.GRPC_TLS_KEY);
  const clientCa = file(s.GRPC_TLS_CLIENT_CA);
  if (!cert && !key && !clientCa) return ServerCredentials.createInsecure();
  if (!cert || !key)
    throw new Error(
      'GRPC_TLS_CERT and GRPC_TLS_KEY go together (and GRPC_TLS_CLIENT_CA needs both)',
    );
  return ServerCredentials.createSsl(
    clientCa ?? null,
    [{ cert_chain: cert, private_key: key }],
    !!clientCa,
  );
}

/**
 * Channel credentials for calling another service: plaintext without a CA;
 * with one, TLS that trusts it, presenting `cert` and `key` when given (mTLS).
 */
export function channelCredentialsFrom(o: {
  ca: string;
  cert?: string;
  key?: string;
}): ChannelCredentials {
  const ca = file(o.ca);
  if (!ca) return credentials.createInsecure();
  const cert = file(o.cert ?? '-');
  const key = file(o.key ?? '-');
  return credentials.createSsl(ca, key ?? null, cert ?? null);
}

/** The longest a client channel waits before trying a service that went away again (ms). */
export const RECONNECT_MAX_MS = 2_000;

/**
 * Options for every client channel that lives longer than one call (scoring's
 * rules calling intake, the console, `enforce submit`). grpc's own reconnect
 * backoff grows to 120 s while a service is away, and a call on the channel
 * fails UNAVAILABLE meanwhile: a service back after a minute's outage was not
 * tried again for 20 s (measured), so the rules stood still with intake up
 * again. With these, a channel tries again at most RECONNECT_MAX_MS apart.
 */
export const clientChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': RECONNECT_MAX_MS,
} as const satisfies ChannelOptions;
