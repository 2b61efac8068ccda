import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { events, intake } from '@enforcement/contracts';
import { DomainError } from '@enforcement/errors';
import { toServiceError } from '@enforcement/grpc-kit';
import { IntakeClient } from './intake-client.js';

/**
 * How the release's read of intake's history takes intake's answers: a
 * gRPC server in this process answers ReadStream as intake does for the
 * case id asked (intake's own answers are tried on the stack in
 * tests/scoring/release-fill.int.test.ts).
 */
describe("IntakeClient.read, intake's history for a release", () => {
  let server: Server;
  let client: IntakeClient;
  beforeAll(async () => {
    server = new Server();
    server.addService(intake.CaseIntakeServiceService, {
      readStream: (
        call: ServerWritableStream<intake.ReadStreamRequest, intake.ReadStreamResponse>,
      ) => {
        const { caseId, fromVersion } = call.request;
        const fail = (code: status, details: string) =>
          void call.emit('error', { code, details, metadata: new Metadata() });
        if (caseId === 'unknown')
          return fail(status.NOT_FOUND, `CASE.NOT_FOUND: no case ${caseId}`);
        if (caseId === 'broken')
          return fail(
            status.FAILED_PRECONDITION,
            'CASE.HISTORY_BROKEN: the history of case broken cannot be read at version 1',
          );
        if (caseId === 'refused') return fail(status.PERMISSION_DENIED, 'not a supervisor');
        for (let v = fromVersion; v <= 3; v++)
          call.write({ event: events.CaseEvent.fromPartial({ caseId, version: v }) });
        call.end();
      },
    } as never);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    client = new IntakeClient(`127.0.0.1:${port}`, () => Promise.resolve('token'));
  });
  afterAll(() => {
    client?.close();
    server?.forceShutdown();
  });

  it('answers the events from the version asked', async () => {
    expect((await client.read('held', 2)).map((e) => e.version)).toEqual([2, 3]);
  });

  it('answers no events for a case intake does not hold: a forged key has nothing to fill', async () => {
    expect(await client.read('unknown', 1)).toEqual([]);
  });

  it("refuses with RELEASE.HISTORY_UNREADABLE, naming intake's reason, a history intake cannot read", async () => {
    const err = await client.read('broken', 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect(toServiceError(err)).toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(
        /^RELEASE\.HISTORY_UNREADABLE: intake cannot read the history of case broken: CASE\.HISTORY_BROKEN: /,
      ),
    });
  });

  it("keeps intake's refusal of scoring's own token an internal fault (scoring's setup), not the caller's", async () => {
    const err = await client.read('refused', 1).catch((e: unknown) => e);
    expect(toServiceError(err).code).toBe(status.INTERNAL);
  });

  it('is an outage, which callers answer UNAVAILABLE, when intake is down', async () => {
    const down = new IntakeClient('127.0.0.1:1', () => Promise.resolve('token'));
    try {
      const err = await down.read('held', 1).catch((e: unknown) => e);
      expect(toServiceError(err).code).toBe(status.UNAVAILABLE);
    } finally {
      down.close();
    }
  });
});
