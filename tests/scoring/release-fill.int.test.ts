import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { events, type intake, type scoring } from '@enforcement/contracts';
import { MODEL_V1, scoreCase } from '@enforcement/supervision-scoring';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { modelViews } from '../support/score-model.js';
import { tokenFor, unary } from '../support/services.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

const DAY = 86_400_000;

/**
 * A version of a case written by an intake newer than this scoring: an event
 * type added since, whose payload is a oneof member this version's decoder
 * does not know (field 63 here), so it decodes without one.
 */
function ofNewerType(e: events.CaseEvent): Buffer {
  const { payload: _known, ...rest } = e;
  const body = Buffer.from('a newer event type');
  return Buffer.concat([
    Buffer.from(events.CaseEvent.encode(rest).finish()),
    Buffer.from([0xfa, 0x03, body.length]), // field 63, length-delimited
    body,
  ]);
}

/**
 * Scoring's release of a case parked behind one of its own versions, filled
 * from the intake that runs beside it: the upgrade path for an event type
 * intake learned before scoring did (docs/operations.md, "Adding an event
 * type"). Scoring reads a case-events topic the test writes from intake's
 * own histories, so that it sees one version as a newer intake would have
 * written it, while intake holds and serves the version as it is.
 */
describe("a release filled from the running intake's history", () => {
  const reads = `${uniqueName('fill')}.case-events`;
  let sys: WholeSystem;
  let agency: Metadata;
  let supervisor: Metadata;
  let producer: Producer;
  beforeAll(async () => {
    sys = await startWholeSystem({ scoringTopics: { caseEvents: reads } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
    producer = new Kafka({
      clientId: 'release-fill',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  }, 120_000);
  afterAll(async () => {
    await producer?.disconnect();
    await sys?.stop();
  });

  /** A case through the whole loop in intake (8 events), and its history as intake holds it. */
  async function concludedCase(
    tag: string,
  ): Promise<{ caseId: string; history: events.CaseEvent[] }> {
    const caseId = uniqueName(tag);
    const l = loop(caseId, new Date(Date.now() - 40 * DAY));
    const c = sys.intakeClient;
    await unary((cb) => c.registerCase(l.register, agency, cb));
    await unary((cb) => c.dispatchCase(l.dispatch, agency, cb));
    for (const step of l.steps()) await unary((cb) => c.recordProgress(step, agency, cb));
    await unary((cb) => c.decidePenalty(l.penalty(8), agency, cb));
    await unary((cb) => c.concludeCase(l.conclude(30), agency, cb));
    const got = await unary<intake.GetCaseResponse>((cb) => c.getCase({ caseId }, supervisor, cb));
    expect(got.history.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    return { caseId, history: got.history };
  }

  /** Puts the history on scoring's topic, the versions in `newer` as a newer intake wrote them. */
  async function publishFor(history: events.CaseEvent[], newer: number[]): Promise<void> {
    await producer.send({
      topic: reads,
      messages: history.map((e) => ({
        key: e.caseId,
        value: newer.includes(e.version)
          ? ofNewerType(e)
          : Buffer.from(events.CaseEvent.encode(e).finish()),
      })),
    });
  }

  const recordOf = (caseId: string) => sys.scoring.runtime.models.getCase(caseId);

  /** Waits until scoring holds the case parked at `version`, lacking `lacks`, with `held` events held. */
  const parked = (caseId: string, version: number, lacks: number, held: number) =>
    eventually(
      async () => {
        const r = await recordOf(caseId);
        return r?.parked &&
          r.view.version === version &&
          r.lacks === lacks &&
          r.held.length === held
          ? r
          : undefined;
      },
      { timeoutMs: 30_000, what: `${caseId} parked at v${version}, lacking v${lacks}` },
    );

  const release = (caseId: string) =>
    unary<scoring.ReleaseParkedCaseResponse>((cb) =>
      sys.scoringClient.releaseParkedCase({ caseId }, supervisor, cb),
    );

  /** The case's live score, which must be the model's score of its whole history at its last version. */
  async function expectScoredWhole(caseId: string, history: events.CaseEvent[]): Promise<void> {
    const view = modelViews(new Map([[caseId, history]])).get(caseId);
    const want = view && scoreCase(view, MODEL_V1);
    expect(want).toBeDefined();
    const got = await unary<scoring.GetCaseScoreResponse>((cb) =>
      sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
    );
    expect(got.score?.caseVersion).toBe(history.length);
    expect(got.score?.score).toBeCloseTo(want?.score ?? -1, 2);
    expect(await recordOf(caseId)).toMatchObject({ parked: false, held: [], pending: [] });
  }

  it('fills the version scoring could not read and applies the events held behind it', async () => {
    const { caseId, history } = await concludedCase('fill-middle');
    await publishFor(history, [5]);
    await parked(caseId, 4, 5, 3);

    expect((await release(caseId)).releasedEvents).toBe(4);
    await expectScoredWhole(caseId, history);
  }, 60_000);

  it("fills the case's latest version, its conclusion, on which nothing waited", async () => {
    const { caseId, history } = await concludedCase('fill-last');
    await publishFor(history, [8]);
    await parked(caseId, 7, 8, 0);
    // Without the conclusion, the case has no score yet.
    const before = await unary<scoring.GetCaseScoreResponse>((cb) =>
      sys.scoringClient.getCaseScore({ caseId }, supervisor, cb),
    ).catch((e: ServiceError) => e);
    expect('score' in before ? before.score?.caseVersion : undefined).not.toBe(8);

    expect((await release(caseId)).releasedEvents).toBe(1);
    await expectScoredWhole(caseId, history);
  }, 60_000);

  it('releases a forged poison for a case intake never had, moving nothing', async () => {
    const caseId = uniqueName('forged-unknown');
    const forged = events.CaseEvent.fromPartial({ eventId: 'x', caseId, version: 7 });
    await producer.send({ topic: reads, messages: [{ key: caseId, value: ofNewerType(forged) }] });
    await parked(caseId, 0, 7, 0);

    expect((await release(caseId)).releasedEvents).toBe(0);
    expect(await recordOf(caseId)).toMatchObject({ parked: false, held: [] });
  }, 60_000);

  it('releases a forged poison claiming a huge version of a real case, which keeps its score', async () => {
    const { caseId, history } = await concludedCase('forged-huge');
    await publishFor(history, []);
    await eventually(
      async () => ((await recordOf(caseId))?.view.version === 8 ? true : undefined),
      { what: `${caseId} applied whole` },
    );
    const forged = events.CaseEvent.fromPartial({ eventId: 'x', caseId, version: 1_000_000_000 });
    await producer.send({ topic: reads, messages: [{ key: caseId, value: ofNewerType(forged) }] });
    await parked(caseId, 8, 1_000_000_000, 0);

    expect((await release(caseId)).releasedEvents).toBe(0);
    await expectScoredWhole(caseId, history);
  }, 60_000);

  it('answers UNAVAILABLE while intake is down and loses nothing; a release once it is back fills the case', async () => {
    const { caseId, history } = await concludedCase('fill-outage');
    await publishFor(history, [6]);
    await parked(caseId, 5, 6, 2);

    await sys.intake.stop();
    try {
      const refused = await release(caseId).catch((e: ServiceError) => e);
      expect(refused).toMatchObject({ code: status.UNAVAILABLE });
      await parked(caseId, 5, 6, 2);
    } finally {
      await sys.startIntakeAgain();
    }
    // The first calls may find scoring's channel still backing off from the outage.
    const released = await eventually(() => release(caseId).catch(() => undefined), {
      timeoutMs: 30_000,
      what: 'the release once intake is back',
    });
    expect(released.releasedEvents).toBe(3);
    await expectScoredWhole(caseId, history);
  }, 90_000);
});
