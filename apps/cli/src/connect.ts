import { readFile } from 'node:fs/promises';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import {
  channelCredentialsFrom,
  clientChannelOptions,
  unaryDeadlines,
} from '@enforcement/grpc-kit';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';

export const ADDRESSES = {
  intake: process.env.ENFORCE_INTAKE ?? '127.0.0.1:50051',
  scoring: process.env.ENFORCE_SCORING ?? '127.0.0.1:50052',
  reporting: process.env.ENFORCE_REPORTING ?? '127.0.0.1:50053',
};

/** Each service as people name it, and what sets its address. */
export const SERVICES = {
  intake: { name: 'case-intake', variable: 'ENFORCE_INTAKE', flag: '--intake' },
  scoring: { name: 'supervision-scoring', variable: 'ENFORCE_SCORING', flag: '--scoring' },
  reporting: { name: 'reporting', variable: 'ENFORCE_REPORTING', flag: '--reporting' },
} as const;

/** How long a unary call may take (--timeout); streams run as long as they make progress. */
let callTimeoutMs = 30_000;
export const setCallTimeout = (ms: number) => {
  callTimeoutMs = ms;
};
export const callTimeout = () => callTimeoutMs;

/** Gives every unary call a deadline, unless it brings its own. */
const deadlines = unaryDeadlines(() => callTimeoutMs);

/**
 * Where the bearer token comes from: `--token`, else $ENFORCE_TOKEN_FILE
 * (read again at each call: an identity provider rotates it in place), else
 * $ENFORCE_TOKEN, else a development token for every role.
 */
export function tokenSource(token: string | undefined): () => Promise<string> {
  if (token !== undefined) return () => Promise.resolve(token);
  const file = process.env.ENFORCE_TOKEN_FILE;
  if (file) return async () => (await readFile(file, 'utf8')).trim();
  const value = process.env.ENFORCE_TOKEN;
  if (value) return () => Promise.resolve(value);
  let dev: Promise<string> | undefined;
  return () =>
    (dev ??= mintDevToken(DEV_AUTH, {
      subject: 'enforce-cli',
      roles: ['agency', 'supervisor', 'reporting'],
      agencies: ['*'],
    }));
}

/** Call metadata carrying `jwt` as its bearer token. */
export function bearerMetadata(jwt: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${jwt}`);
  return md;
}

/** Call metadata with the token `tokenSource` finds now. */
export async function metadata(token: string | undefined): Promise<Metadata> {
  return bearerMetadata(await tokenSource(token)());
}

/**
 * Plaintext by default; TLS trusting $ENFORCE_TLS_CA when it is set, with the
 * client certificate $ENFORCE_TLS_CERT and key $ENFORCE_TLS_KEY for mTLS.
 */
const channel = () =>
  channelCredentialsFrom({
    ca: process.env.ENFORCE_TLS_CA ?? '-',
    cert: process.env.ENFORCE_TLS_CERT ?? '-',
    key: process.env.ENFORCE_TLS_KEY ?? '-',
  });

// `enforce submit` outlives a service's restart: its channel tries again within seconds.
const options = { ...clientChannelOptions, interceptors: [deadlines] };

export const intakeClient = (address = ADDRESSES.intake) =>
  new intake.CaseIntakeServiceClient(address, channel(), options);
export const scoringClient = (address = ADDRESSES.scoring) =>
  new scoring.ScoringServiceClient(address, channel(), options);
export const reportingClient = (address = ADDRESSES.reporting) =>
  new reporting.ReportingServiceClient(address, channel(), options);

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * One unary call as a promise. On a terminal, a call still waiting after a
 * second shows a spinner on stderr (with the seconds left before --timeout),
 * cleared when it answers.
 */
export function call<T>(f: (cb: (e: ServiceError | null, r: T) => void) => void): Promise<T> {
  const started = Date.now();
  let frame = 0;
  let ticker: NodeJS.Timeout | undefined;
  const show = process.stderr.isTTY
    ? setTimeout(() => {
        ticker = setInterval(() => {
          const left = Math.max(0, Math.ceil((started + callTimeoutMs - Date.now()) / 1000));
          process.stderr.write(
            `\r${FRAMES[frame++ % FRAMES.length]} waiting for an answer (${left} s left)\u001b[K`,
          );
        }, 100);
      }, 1_000)
    : undefined;
  return new Promise<T>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r)))).finally(
    () => {
      clearTimeout(show);
      if (ticker) {
        clearInterval(ticker);
        process.stderr.write('\r\u001b[K');
      }
    },
  );
}
