import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { channelCredentialsFrom } from '@enforcement/grpc-kit';
import { DEV_AUTH, mintDevToken } from '@enforcement/auth';
import { intake, reporting, scoring } from '@enforcement/contracts';

export const ADDRESSES = {
  intake: process.env.ENFORCE_INTAKE ?? '127.0.0.1:50051',
  scoring: process.env.ENFORCE_SCORING ?? '127.0.0.1:50052',
  reporting: process.env.ENFORCE_REPORTING ?? '127.0.0.1:50053',
};

/** Call metadata with the given token, $ENFORCE_TOKEN, or a development token for every role. */
export async function metadata(token: string | undefined): Promise<Metadata> {
  const md = new Metadata();
  const jwt =
    token ??
    process.env.ENFORCE_TOKEN ??
    (await mintDevToken(DEV_AUTH, {
      subject: 'enforce-cli',
      roles: ['agency', 'supervisor', 'reporting'],
      agencies: ['*'],
    }));
  md.set('authorization', `Bearer ${jwt}`);
  return md;
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

export const intakeClient = (address = ADDRESSES.intake) =>
  new intake.CaseIntakeServiceClient(address, channel());
export const scoringClient = (address = ADDRESSES.scoring) =>
  new scoring.ScoringServiceClient(address, channel());
export const reportingClient = (address = ADDRESSES.reporting) =>
  new reporting.ReportingServiceClient(address, channel());

export const call = <T>(f: (cb: (e: ServiceError | null, r: T) => void) => void) =>
  new Promise<T>((resolve, reject) => f((e, r) => (e ? reject(e) : resolve(r))));
