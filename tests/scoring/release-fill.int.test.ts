import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import { Binary } from 'mongodb';
import { events, type intake, type scoring } from '@enforcement/contracts';
import { MODEL_V1, scoreCase } from '@enforcement/supervision-scoring';
import { eventually, stack, uniqueName } from '@enforcement/testing';
import { loop } from '../support/loop.js';
import { modelViews } from '../support/score-model.js';
import { tokenFor, unary } from '../support/services.js';
import { startWholeSystem, type WholeSystem } from '../support/whole-system.js';

const DAY = 86_400_000;
/** Scoring's bound on what a case's record holds waiting, here (bytes). */
const WAITING_LIMIT = 8_192;

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
  let consumer: Consumer;
  /** The reasons of scoring's dead letters, by case. */
  const letters = new Map<string, string[]>();
  const lettersFor = async (caseId: string) => letters.get(caseId) ?? [];
  beforeAll(async () => {
    sys = await startWholeSystem({
      scoringTopics: { caseEvents: reads },
      // Room for the few events the other cases hold, not for 40 evidence records.
      scoringEnv: { CASE_WAITING_LIMIT_BYTES: String(WAITING_LIMIT) },
    });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
    const kafka = new Kafka({
      clientId: 'release-fill',
      brokers: stack().kafkaBrokers,
      logLevel: logLevel.NOTHING,
    });
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    consumer = kafka.consumer({ groupId: uniqueName('fill-letters') });
    await consumer.connect();
    await consumer.subscribe({ topic: sys.topics.scoringDeadLetter, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString() ?? '';
        letters.set(key, [...(letters.get(key) ?? []), message.headers?.error?.toString() ?? '']);
      },
    });
  }, 120_000);
  afterAll(async () => {
    await consumer?.disconnect();
    await producer?.disconnect();
    await sys?.stop();
  });

  /**
   * A case through the whole loop in intake (8 events, and `evidence` more
   * records of evidence after its first), and its history as intake holds it.
   */
  async function concludedCase(
    tag: string,
    evidence = 0,
  ): Promise<{ caseId: string; history: events.CaseEvent[] }> {
    const caseId = uniqueName(tag);
    const l = loop(caseId, new Date(Date.now() - 40 * DAY));
    const c = sys.intakeClient;
    await unary((cb) => c.registerCase(l.register, agency, cb));
    await unary((cb) => c.dispatchCase(l.dispatch, agency, cb));
    const [first, ...rest] = l.steps();
    if (first?.step?.$case !== 'evidence') throw new Error('the loop starts with evidence');
    await unary((cb) => c.recordProgress(first, agency, cb));
    for (let i = 0; i < evidence; i++) {
      const more = { ...first.step.value, evidenceId: `ev-more-${i}` };
      await unary((cb) =>
        c.recordProgress({ meta: l.meta(2), step: { $case: 'evidence', value: more } }, agency, cb),
      );
    }
    for (const step of rest) await unary((cb) => c.recordProgress(step, agency, cb));
    await unary((cb) => c.decidePenalty(l.penalty(8), agency, cb));
    await unary((cb) => c.concludeCase(l.conclude(30), agency, cb));
    const got = await unary<intake.GetCaseResponse>((cb) => c.getCase({ caseId }, supervisor, cb));
    expect(got.history.map((e) => e.version)).toEqual(
      Array.from({ length: 8 + evidence }, (_, i) => i + 1),
    );
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

  it('parks a case that waits past its bound for a missing version, its letters sent, and its release fills it', async () => {
    const { caseId, history } = await concludedCase('fill-bound', 40);
    // Version 2 never reaches scoring's topic: the 46 after it wait for it.
    await publishFor(
      history.filter((e) => e.version !== 2),
      [],
    );
    const rec = await eventually(
      async () => {
        const r = await recordOf(caseId);
        return r?.parked ? r : undefined;
      },
      { what: `${caseId} parked` },
    );
    expect(rec.parkReason).toMatch(
      new RegExp(
        `^waiting beyond the case's limit \\(${WAITING_LIMIT} bytes\\) at v\\d+: 0 held, \\d+ waiting for v2$`,
      ),
    );
    expect(rec.view.version).toBe(1);
    expect(JSON.stringify(rec.pending).length).toBeLessThanOrEqual(WAITING_LIMIT);
    // Every event past the bound is on the dead-letter topic with the reason.
    const letters = await eventually(
      async () => {
        const got = await lettersFor(caseId);
        const r = await recordOf(caseId);
        return r && got.length === history.length - 2 - r.pending.length - r.held.length
          ? got
          : undefined;
      },
      { what: `${caseId}'s letters` },
    );
    expect(letters.every((l) => l.startsWith("waiting beyond the case's limit"))).toBe(true);

    expect((await release(caseId)).releasedEvents).toBe(history.length - 1);
    await expectScoredWhole(caseId, history);
  }, 90_000);

  it("refuses RELEASE.HISTORY_UNREADABLE, naming intake's reason, for a case whose history intake cannot read", async () => {
    const { caseId, history } = await concludedCase('fill-broken');
    await publishFor(history, [5]);
    await parked(caseId, 4, 5, 3);
    // A database writer empties the case's first commit in intake's store:
    // nothing there says whose case it is any more.
    await sys.intake.store.commits
      .for(caseId)
      .updateOne({ _id: `${caseId}:1` }, { $set: { body: new Binary(new Uint8Array(0)) } });

    const refused = await release(caseId).catch((e: ServiceError) => e);
    expect(refused).toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringMatching(
        new RegExp(
          `^RELEASE\\.HISTORY_UNREADABLE: intake cannot read the history of case ${caseId}: CASE\\.HISTORY_BROKEN: `,
        ),
      ),
    });
    // Nothing moved: still parked, its events held.
    await parked(caseId, 4, 5, 3);
  }, 60_000);

  it('releases a forged poison for a case intake never had, moving nothing', async () => {
    const caseId = uniqueName('forged-unknown');
    await publishFor([events.CaseEvent.fromPartial({ eventId: 'x', caseId, version: 7 })], [7]);
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
    await publishFor(
      [events.CaseEvent.fromPartial({ eventId: 'x', caseId, version: 1_000_000_000 })],
      [1_000_000_000],
    );
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
