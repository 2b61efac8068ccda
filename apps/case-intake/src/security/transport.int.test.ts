import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, status, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import { listServicesByReflection } from '@enforcement/grpc-kit';
import { uniqueName } from '@enforcement/testing';
import { startIntake, tokenFor, unary, type TestIntake } from '../test-support/harness.js';

/** A throwaway CA, and a server and a client certificate it signed (openssl, as an operator would). */
function makeCertificates(dir: string) {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['server', 'client']) {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      '-extfile',
      'san.ext',
    );
  }
  return (name: string) => join(dir, name);
}

/**
 * TLS and mutual TLS by configuration, and reflection that a deployment can
 * turn off: a client without the CA, or without a client certificate, gets
 * nothing; one with both is served.
 */
describe('transport security', () => {
  let dir: string;
  let path: (name: string) => string;
  let svc: TestIntake;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tls-'));
    path = makeCertificates(dir);
    svc = await startIntake({
      env: {
        GRPC_TLS_CERT: path('server.crt'),
        GRPC_TLS_KEY: path('server.key'),
        GRPC_TLS_CLIENT_CA: path('ca.crt'),
        GRPC_REFLECTION: 'false',
        INGRESS_ENABLED: 'false',
      },
    });
  });
  afterAll(async () => {
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const getCase = async (creds: ChannelCredentials) => {
    const client = new intake.CaseIntakeServiceClient(svc.service.address, creds);
    const md = await tokenFor(['supervisor']);
    try {
      return await unary((cb) =>
        client.getCase({ caseId: uniqueName('none') }, md, { deadline: Date.now() + 5_000 }, cb),
      ).catch((e: ServiceError) => e);
    } finally {
      client.close();
    }
  };
  const file = (name: string) => readFileSync(path(name));

  it('serves a client that trusts its CA and presents a certificate the CA signed', async () => {
    const served = await getCase(
      credentials.createSsl(file('ca.crt'), file('client.key'), file('client.crt')),
    );
    // Authenticated at every layer: the answer is the application's own.
    expect((served as ServiceError).code).toBe(status.NOT_FOUND);
  });

  it('gives nothing to a plaintext client, or to a TLS client without a client certificate', async () => {
    expect(((await getCase(credentials.createInsecure())) as ServiceError).code).toBe(
      status.UNAVAILABLE,
    );
    expect(((await getCase(credentials.createSsl(file('ca.crt')))) as ServiceError).code).toBe(
      status.UNAVAILABLE,
    );
  });

  it('answers no reflection when it is turned off', async () => {
    const plain = await startIntake({
      env: { GRPC_REFLECTION: 'false', INGRESS_ENABLED: 'false' },
    });
    try {
      await expect(listServicesByReflection(plain.service.address, 5_000)).rejects.toMatchObject({
        code: status.UNIMPLEMENTED,
      });
    } finally {
      await plain.stop();
    }
  });
});
