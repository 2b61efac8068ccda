import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import {
  channelCredentialsFrom,
  clientChannelOptions,
  ERROR_CODE_KEY,
  ERROR_FIELD_KEY,
  unaryDeadlines,
} from '@enforcement/grpc-kit';
import { intake, platform, reporting, scoring } from '@enforcement/contracts';
import type { ConsoleConfig } from './config.js';

/** The three services, as the console's backend reaches them: by their gRPC contracts only. */
export interface Services {
  readonly intake: intake.CaseIntakeServiceClient;
  readonly scoring: scoring.ScoringServiceClient;
  readonly reporting: reporting.ReportingServiceClient;
  readonly info: Record<'intake' | 'scoring' | 'reporting', platform.PlatformServiceClient>;
  close(): void;
}

export function connectServices(c: ConsoleConfig): Services {
  const creds = () =>
    channelCredentialsFrom({
      ca: c.CONSOLE_TLS_CA,
      cert: c.CONSOLE_TLS_CERT,
      key: c.CONSOLE_TLS_KEY,
    });
  // Every unary call gets a deadline, unless it brings its own; a service
  // back from a restart is reached again within seconds.
  const o = {
    ...clientChannelOptions,
    interceptors: [unaryDeadlines(() => c.CONSOLE_CALL_TIMEOUT_MS)],
  };
  const s = {
    intake: new intake.CaseIntakeServiceClient(c.INTAKE_ADDRESS, creds(), o),
    scoring: new scoring.ScoringServiceClient(c.SCORING_ADDRESS, creds(), o),
    reporting: new reporting.ReportingServiceClient(c.REPORTING_ADDRESS, creds(), o),
    info: {
      intake: new platform.PlatformServiceClient(c.INTAKE_ADDRESS, creds(), o),
      scoring: new platform.PlatformServiceClient(c.SCORING_ADDRESS, creds(), o),
      reporting: new platform.PlatformServiceClient(c.REPORTING_ADDRESS, creds(), o),
    },
  };
  return {
    ...s,
    close: () => {
      for (const client of [s.intake, s.scoring, s.reporting, ...Object.values(s.info)])
        client.close();
    },
  };
}

/** Call metadata carrying the signed-in person's token. */
export function bearer(token: string): Metadata {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** One unary call as a promise. */
export function unary<T>(f: (cb: (e: ServiceError | null, r: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
}

const HTTP_OF: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.FAILED_PRECONDITION]: 422,
  [status.RESOURCE_EXHAUSTED]: 429,
  [status.UNAVAILABLE]: 503,
  [status.DEADLINE_EXCEEDED]: 504,
};

/** What the page is told when a service refused or failed: the rule's code, the field, the words. */
export interface ApiError {
  readonly status: number;
  readonly body: {
    error: { grpc: string; code: string; field: string; message: string };
  };
}

export function apiErrorOf(e: unknown): ApiError {
  const se = e as Partial<ServiceError>;
  if (typeof se.code !== 'number')
    return {
      status: 500,
      body: { error: { grpc: 'UNKNOWN', code: 'CONSOLE.FAILED', field: '', message: String(e) } },
    };
  const md = se.metadata;
  return {
    status: HTTP_OF[se.code] ?? 502,
    body: {
      error: {
        grpc: status[se.code] ?? String(se.code),
        code: String(md?.get(ERROR_CODE_KEY)[0] ?? ''),
        field: String(md?.get(ERROR_FIELD_KEY)[0] ?? ''),
        message: se.details ?? se.message ?? '',
      },
    },
  };
}
