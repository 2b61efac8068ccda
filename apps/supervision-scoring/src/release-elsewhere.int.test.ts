import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { events, intake, type scoring } from '@enforcement/contracts';
import { eventually } from '@enforcement/testing';
import type { CorrectionRequest } from './application/ports.js';
import { MODEL_V1, scoreCase } from './domain/scoring-model.js';
import { caseEvents } from './test-support/events.js';
import {
  caseAppliedBy,
  publish,
  startTwoSharing,
  tokenFor,
  unary,
  type TestScoring,
} from './test-support/harness.js';

/**
 * A release asked of an instance that does not apply the case's partition:
 * the request is left for the instance that does, which applies it; when
 * that instance does not, the asker answers FAILED_PRECONDITION
 * (RELEASE.PENDING) and the request stays until it is applied.
 */
describe('releasing a parked case through another instance', () => {
  let owner: TestScoring;
  let other: TestScoring;
  let supervisor: Metadata;
  // Intake as these instances reach it: down for every case, except that it
  // answers a case whose id starts with `broken` as it does a history it
  // holds and cannot read (tests/scoring/release-fill.int.test.ts has the
  // real intake's answer).
  let intakeServer: Server;
  beforeAll(async () => {
    intakeServer = new Server();
    intakeServer.addService(intake.CaseIntakeServiceService, {
      readStream: (call: ServerWritableStream<intake.ReadStreamRequest, unknown>) => {
        const { caseId, fromVersion } = call.request;
        call.emit(
          'error',
          caseId.startsWith('broken')
            ? {
                code: status.FAILED_PRECONDITION,
                details: `CASE.HISTORY_BROKEN: the history of case ${caseId} cannot be read at version ${fromVersion}`,
                metadata: new Metadata(),
              }
            : { code: status.UNAVAILABLE, details: 'intake is down', metadata: new Metadata() },
        );
      },
    } as never);
    const port = await new Promise<number>((resolve, reject) =>
      intakeServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    [owner, other] = await startTwoSharing('release', { INTAKE_ADDRESS: `127.0.0.1:${port}` });
    supervisor = await tokenFor(['supervisor']);
  }, 90_000);
  afterAll(async () => {
    await other?.stop();
    await owner?.stop();
    intakeServer?.forceShutdown();
  });

  /** A case the owner applies, parked lacking its version 4 (an event of a type added since). */
  async function parkedLackingFour(tag: string): Promise<string> {
    const caseId = caseAppliedBy(owner, tag);
    const x = caseEvents({ caseId });
    const fourth = x[3];
    if (!fourth) throw new Error('the test needs four events');
    const { payload: _unknown, ...unknown } = fourth;
    await publish(owner.topics.caseEvents, [
      ...x.slice(0, 3),
      { key: caseId, raw: Buffer.from(events.CaseEvent.encode(unknown).finish()) },
      ...x.slice(4),
    ]);
    await eventually(
      async () => {
        const d = await other.service.runtime.models.getCase(caseId);
        return d?.parked && d.lacks === 4 ? true : undefined;
      },
      { what: `${caseId} parked, lacking its version 4` },
    );
    return caseId;
  }

  /** A case the owner applies, parked behind a poison event with 5 events held. */
  async function parkedCase(tag: string): Promise<string> {
    const caseId = caseAppliedBy(owner, tag);
    expect(other.service.runtime.consumer.owns(caseId)).toBe(false);
    const x = caseEvents({ caseId });
    await publish(owner.topics.caseEvents, [
      ...x.slice(0, 3),
      { key: caseId, raw: Buffer.from('not protobuf \u00ff\u00fe') },
      ...x.slice(3),
    ]);
    await eventually(
      async () => {
        const d = await other.service.runtime.models.getCase(caseId);
        return d?.parked && d.held.length === 5 ? true : undefined;
      },
      { what: `${caseId} parked with its events held` },
    );
    return caseId;
  }

  const releaseThroughOther = (caseId: string) =>
    unary<scoring.ReleaseParkedCaseResponse>((cb) =>
      other.client.releaseParkedCase({ caseId }, supervisor, cb),
    );
  const requestOf = (caseId: string) =>
    other.service.runtime.models.corrections.findOne({ _id: `release/${caseId}` });

  it('is applied by the instance that owns the partition, and the asker answers with what it released', async () => {
    const caseId = await parkedCase('elsewhere');
    const released = await releaseThroughOther(caseId);
    expect(released.releasedEvents).toBe(5);
    const after = await other.service.runtime.models.getCase(caseId);
    expect(after).toMatchObject({ parked: false, held: [] });
    expect(after && scoreCase(after.view, MODEL_V1)?.score).toBe(100);
    await eventually(async () => ((await requestOf(caseId)) === null ? true : undefined), {
      what: 'the release request removed once applied',
    });
  });

  it('answers RELEASE.PENDING when the owner does not apply it in time, and the request stays until it does', async () => {
    const caseId = await parkedCase('pending');
    // The owner stops taking releases (as one stuck behind a long batch would).
    const models = owner.service.runtime.models;
    const correctionsFor = models.correctionsFor.bind(models);
    models.correctionsFor = async (p: number): Promise<CorrectionRequest[]> =>
      (await correctionsFor(p)).filter((r) => !r.release);
    try {
      await expect(releaseThroughOther(caseId)).rejects.toMatchObject({
        code: status.FAILED_PRECONDITION,
        details: expect.stringContaining('RELEASE.PENDING'),
      });
      expect(await requestOf(caseId)).toMatchObject({ target: caseId, release: true });
      expect(await other.service.runtime.models.getCase(caseId)).toMatchObject({ parked: true });
    } finally {
      models.correctionsFor = correctionsFor;
    }
    // The owner takes releases again: the request left behind is applied.
    const after = await eventually(
      async () => {
        const d = await other.service.runtime.models.getCase(caseId);
        return d && !d.parked ? d : undefined;
      },
      { timeoutMs: 30_000, what: `${caseId} released by its owner` },
    );
    expect(after).toMatchObject({ held: [] });
    expect(scoreCase(after.view, MODEL_V1)?.score).toBe(100);
    // Removed once applied: the owner writes the case, then deletes the request.
    await eventually(async () => ((await requestOf(caseId)) === null ? true : undefined), {
      what: 'the release request removed once applied',
    });
  }, 60_000);

  it("keeps the owner's partition flowing while the release waits on intake's history, and answers RELEASE.PENDING", async () => {
    // Version 4 is of an event type added since: the release must read it
    // from intake, which is down.
    const caseId = await parkedLackingFour('needs-intake');

    await expect(releaseThroughOther(caseId)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('RELEASE.PENDING'),
    });
    expect(await requestOf(caseId)).toMatchObject({ target: caseId, release: true });
    expect(await requestOf(caseId)).not.toHaveProperty('refused');

    // Another case on the same partition is applied meanwhile.
    const partition = owner.service.runtime.consumer.partitionOf(caseId);
    let neighbour = caseAppliedBy(owner, 'neighbour');
    while (owner.service.runtime.consumer.partitionOf(neighbour) !== partition)
      neighbour = caseAppliedBy(owner, 'neighbour');
    const n = caseEvents({ caseId: neighbour });
    await publish(owner.topics.caseEvents, n);
    await eventually(
      async () => {
        const d = await other.service.runtime.models.getCase(neighbour);
        return d?.view.version === n.length ? true : undefined;
      },
      { timeoutMs: 30_000, what: `${neighbour} applied beside the waiting release` },
    );
    // And its offsets are committed: the partition is not stuck retrying a batch.
    await eventually(
      async () => {
        const s = await owner.service.runtime.projectionStatus();
        return s.partitions.find((p) => p.partition === partition)?.lag === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: `partition ${partition} committed to its end` },
    );
    expect(await other.service.runtime.models.getCase(caseId)).toMatchObject({ parked: true });
  }, 90_000);

  it("answers the owner's refusal, naming its rule, and the request goes", async () => {
    const caseId = await parkedCase('refused');
    const models = owner.service.runtime.models;
    const correctionsFor = models.correctionsFor.bind(models);
    // The owner holds the request back, then refuses it as it does when intake cannot read the history.
    models.correctionsFor = async (p: number): Promise<CorrectionRequest[]> =>
      (await correctionsFor(p)).filter((r) => !r.release);
    try {
      const asked = releaseThroughOther(caseId).catch((e: unknown) => e);
      await eventually(async () => ((await requestOf(caseId)) ? true : undefined), {
        what: 'the release request left',
      });
      await models.correctionRefused(`release/${caseId}`, {
        code: 'RELEASE.HISTORY_UNREADABLE',
        message: `intake cannot read the history of case ${caseId}: broken`,
      });
      expect(await asked).toMatchObject({
        code: status.FAILED_PRECONDITION,
        details: `RELEASE.HISTORY_UNREADABLE: intake cannot read the history of case ${caseId}: broken`,
      });
      expect(await requestOf(caseId)).toBeNull();
      expect(await other.service.runtime.models.getCase(caseId)).toMatchObject({ parked: true });
    } finally {
      models.correctionsFor = correctionsFor;
    }
    // Asked again once the cause is mended, it is applied.
    expect((await releaseThroughOther(caseId)).releasedEvents).toBe(5);
  }, 60_000);

  it("refuses, on the owner, a release whose history intake cannot read, and the asker answers with the owner's rule", async () => {
    const caseId = await parkedLackingFour('broken');
    await expect(releaseThroughOther(caseId)).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(
        new RegExp(
          `^RELEASE\\.HISTORY_UNREADABLE: .*CASE\\.HISTORY_BROKEN: the history of case ${caseId} cannot be read at version 4`,
        ),
      ),
    });
    // The asker took the refusal and removed the request; the case waits for the history to be mended.
    expect(await requestOf(caseId)).toBeNull();
    expect(await other.service.runtime.models.getCase(caseId)).toMatchObject({
      parked: true,
      lacks: 4,
    });
    // The owner's partition went on meanwhile: nothing behind the refusal is retried.
    const partition = owner.service.runtime.consumer.partitionOf(caseId);
    await eventually(
      async () => {
        const s = await owner.service.runtime.projectionStatus();
        return s.partitions.find((p) => p.partition === partition)?.lag === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, what: `partition ${partition} committed to its end` },
    );
  }, 60_000);
});
