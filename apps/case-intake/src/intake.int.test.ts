import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata } from '@grpc/grpc-js';
import { Binary } from 'mongodb';
import { events, intake } from '@enforcement/contracts';
import { uniqueName } from '@enforcement/testing';
import { fullLoop, fullTimeliness, nextMeta } from './test-support/commands.js';
import {
  startIntake,
  tokenFor,
  unary,
  withMongo,
  type TestIntake,
} from './test-support/harness.js';

describe('case intake on the real stack', () => {
  let it_: TestIntake;
  let agency: Metadata;
  let otherAgency: Metadata;
  let supervisor: Metadata;

  beforeAll(async () => {
    it_ = await startIntake();
    agency = await tokenFor(['agency'], ['lz-eeb']);
    otherAgency = await tokenFor(['agency'], ['lz-psb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => it_?.stop());

  const c = () => it_.client;

  async function walk(caseId: string, steps = 8) {
    const l = fullLoop(caseId);
    const calls: Array<() => Promise<intake.CommandResult>> = [
      () => unary((cb) => c().registerCase(l.register, agency, cb)),
      () => unary((cb) => c().dispatchCase(l.dispatch, agency, cb)),
      () => unary((cb) => c().recordProgress(l.evidence, agency, cb)),
      () => unary((cb) => c().recordProgress(l.notice, agency, cb)),
      () => unary((cb) => c().recordProgress(l.hearing, agency, cb)),
      () => unary((cb) => c().recordProgress(l.review, agency, cb)),
      () => unary((cb) => c().decidePenalty(l.penalty, agency, cb)),
      () => unary((cb) => c().concludeCase(l.conclude, agency, cb)),
    ];
    let last: intake.CommandResult | undefined;
    for (const call of calls.slice(0, steps)) last = await call();
    return last;
  }

  it('runs a case through the loop and shows its state and history', async () => {
    const caseId = uniqueName('case');
    const last = await walk(caseId);
    expect(last?.version).toBe(8);

    const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
    expect(got.case).toMatchObject({
      status: intake.CaseStatus.CASE_STATUS_CONCLUDED,
      version: 8,
      fineFen: 30_000_000,
    });
    expect(got.history.map((e) => e.payload?.$case)).toEqual([
      'caseRegistered',
      'caseDispatched',
      'evidenceRecorded',
      'partyNotified',
      'hearingHeld',
      'legalReviewCompleted',
      'penaltyDecided',
      'caseConcluded',
    ]);
    const verified = await unary<intake.VerifyCaseResponse>((cb) =>
      c().verifyCase({ caseId }, supervisor, cb),
    );
    expect(verified).toMatchObject({ valid: true, eventCount: 8, headHash: got.history[7]?.hash });
  });

  it('closes the loop: evaluated by the supervisor, archived, then immutable', async () => {
    const caseId = uniqueName('case');
    await walk(caseId);
    await unary((cb) =>
      c().recordEvaluation(
        {
          meta: nextMeta(caseId),
          score: 92.5,
          modelVersion: 'v1',
          indicators: fullTimeliness(),
        },
        supervisor,
        cb,
      ),
    );
    const archived = await unary<intake.CommandResult>((cb) =>
      c().archiveCase({ meta: nextMeta(caseId) }, agency, cb),
    );
    const seal = archived.events[0]?.payload;
    expect(seal?.$case).toBe('caseArchived');

    const after = unary((cb) =>
      c().recordEvaluation(
        { meta: nextMeta(caseId), score: 50, modelVersion: 'v1', indicators: [] },
        supervisor,
        cb,
      ),
    );
    await expect(after).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('CASE.ARCHIVED'),
    });
    const verified = await unary<intake.VerifyCaseResponse>((cb) =>
      c().verifyCase({ caseId }, supervisor, cb),
    );
    expect(verified).toMatchObject({ valid: true, archiveSealValid: true, eventCount: 10 });
  });

  it('answers bad input with INVALID_ARGUMENT naming the field, and a broken rule with FAILED_PRECONDITION', async () => {
    const caseId = uniqueName('case');
    const l = fullLoop(caseId);
    await expect(
      unary((cb) => c().registerCase({ ...l.register, district: '' }, agency, cb)),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'FIELD.REQUIRED: district: is required',
    });
    await unary((cb) => c().registerCase(l.register, agency, cb));
    await expect(
      unary((cb) =>
        c().dispatchCase({ ...l.dispatch, officers: l.dispatch.officers.slice(0, 1) }, agency, cb),
      ),
    ).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: expect.stringContaining('DISPATCH.TOO_FEW_OFFICERS'),
    });
    await expect(unary((cb) => c().concludeCase(l.conclude, agency, cb))).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
      details: expect.stringContaining('CONCLUDE.DECISION_REQUIRED'),
    });
    await expect(
      unary((cb) => c().registerCase({ ...l.register, meta: nextMeta(caseId) }, agency, cb)),
    ).rejects.toMatchObject({
      code: status.ALREADY_EXISTS,
    });
    // Nothing that was accepted was lost or changed.
    const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
    expect(got.history).toHaveLength(1);
  });

  it('lets exactly one of two concurrent conflicting commands win; the other gets ABORTED', async () => {
    const caseId = uniqueName('case');
    const l = fullLoop(caseId);
    await unary((cb) => c().registerCase(l.register, agency, cb));
    const at1 = (o: object) => ({
      ...l.dispatch,
      meta: nextMeta(caseId, { expectedVersion: 1, occurredAt: l.dispatch.meta.occurredAt }),
      ...o,
    });
    const results = await Promise.allSettled([
      unary((cb) => c().dispatchCase(at1({ unitId: 'unit-a' }), agency, cb)),
      unary((cb) => c().dispatchCase(at1({ unitId: 'unit-b' }), agency, cb)),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.status === 'rejected' && lost.reason).toMatchObject({ code: status.ABORTED });
    const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
    expect(got.case?.version).toBe(2);
  });

  /** A case registered and dispatched by `agency`, through this instance. */
  async function dispatched() {
    const caseId = uniqueName('case');
    const l = fullLoop(caseId);
    await unary((cb) => c().registerCase(l.register, agency, cb));
    await unary((cb) => c().dispatchCase(l.dispatch, agency, cb));
    return { caseId, l };
  }

  /** A piece of evidence of its own for the case, dated as the loop's. */
  const evidenceOf = (caseId: string, l: ReturnType<typeof fullLoop>, evidenceId: string) => ({
    ...l.evidence,
    step: { ...l.evidence.step, value: { ...l.evidence.step.value, evidenceId } },
    meta: nextMeta(caseId, { occurredAt: l.evidence.meta.occurredAt }),
  });

  const orderOf = (caseId: string, orderId: string): intake.OpenSupervisionOrderRequest => ({
    meta: nextMeta(caseId),
    orderId,
    reason: events.SupervisionReason.SUPERVISION_REASON_MISSING_EVIDENCE,
    note: '',
    responseDueAt: new Date(Date.now() + 864e5),
    ruleId: '',
  });

  /** 'stored', or the refusal's code and rule. */
  const outcome = (call: Promise<unknown>) =>
    call.then(
      () => 'stored',
      (e: { code: number; details: string }) => `${e.code} ${e.details.split(':')[0]}`,
    );

  const versionOf = async (caseId: string) =>
    (await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb))).case
      ?.version;

  it('stores every one of 300 commands sent at once on one case without an expected version, each decided on what the one before it stored', async () => {
    const { caseId, l } = await dispatched();
    // Before commands of a case took turns, 13 of 1,005 sent at once were stored: the rest lost every attempt.
    const RACERS = 300;
    const results = await Promise.all(
      Array.from({ length: RACERS }, (_, i) =>
        outcome(
          unary((cb) => c().recordProgress(evidenceOf(caseId, l, `ev-race-${i}`), agency, cb)),
        ),
      ),
    );
    expect(results.filter((r) => r !== 'stored')).toEqual([]);
    expect(await versionOf(caseId)).toBe(2 + RACERS);
  });

  it("stores a case's own commands while another agency floods the case with more than a line holds", async () => {
    // A second instance, to which the case is new: nothing is cached there
    // when the flood begins, so the intruder's commands take places in the
    // case's line before its head is read.
    const other = await startIntake({ db: it_.db, topics: it_.topics });
    try {
      const { caseId, l } = await dispatched();
      // More than the 1,024 commands one caller may hold in a case's line...
      const FLOOD = 1_100;
      const flood = Array.from({ length: FLOOD }, (_, i) =>
        outcome(
          unary((cb) =>
            other.client.recordProgress(evidenceOf(caseId, l, `ev-psb-${i}`), otherAgency, cb),
          ),
        ),
      );
      // ...then the case's agency sends its own.
      const OWN = 20;
      const own = Array.from({ length: OWN }, (_, i) =>
        outcome(
          unary((cb) =>
            other.client.recordProgress(evidenceOf(caseId, l, `ev-eeb-${i}`), agency, cb),
          ),
        ),
      );
      // Before a line was bounded per caller, the owner's were refused ABORTED
      // while the intruder's filled it.
      expect(await Promise.all(own)).toEqual(Array.from({ length: OWN }, () => 'stored'));
      const refused = await Promise.all(flood);
      // Each is refused as forbidden, or (past its own bound) told to retry.
      expect(new Set(refused)).toSatisfy((codes: Set<string>) =>
        [...codes].every(
          (code) =>
            code === `${status.PERMISSION_DENIED} AUTH.FORBIDDEN` ||
            code === `${status.ABORTED} CASE.VERSION_CONFLICT`,
        ),
      );
      expect(refused).toContain(`${status.PERMISSION_DENIED} AUTH.FORBIDDEN`);
      expect(await versionOf(caseId)).toBe(2 + OWN);
    } finally {
      await other.stop();
    }
  });

  it("takes a supervisor's order on a case whose own agency filled its line", async () => {
    const { caseId, l } = await dispatched();
    const FLOOD = 1_100;
    const flood = Array.from({ length: FLOOD }, (_, i) =>
      outcome(unary((cb) => c().recordProgress(evidenceOf(caseId, l, `ev-own-${i}`), agency, cb))),
    );
    // Sent while the agency's commands fill the line: before a line was
    // bounded per caller, it was refused ABORTED.
    const order = await unary<intake.CommandResult>((cb) =>
      c().openSupervisionOrder(orderOf(caseId, 'o-flooded'), supervisor, cb),
    );
    expect(order.events.map((e) => e.payload?.$case)).toEqual(['supervisionOrderOpened']);
    const outcomes = await Promise.all(flood);
    // The agency's own past its bound are told to retry; the rest are stored
    // (the case records 1,000 pieces of evidence at most).
    const stored = outcomes.filter((o) => o === 'stored').length;
    expect(new Set(outcomes.filter((o) => o !== 'stored'))).toSatisfy((codes: Set<string>) =>
      [...codes].every(
        (code) =>
          code === `${status.ABORTED} CASE.VERSION_CONFLICT` ||
          code === `${status.FAILED_PRECONDITION} EVIDENCE.TOO_MANY`,
      ),
    );
    expect(await versionOf(caseId)).toBe(2 + stored + 1);
  });

  it('stores the 100th order once when two instances race to open it', async () => {
    const other = await startIntake({ db: it_.db, topics: it_.topics });
    try {
      const { caseId } = await dispatched();
      for (let i = 0; i < 98; i++)
        await unary((cb) => c().openSupervisionOrder(orderOf(caseId, `o-${i}`), supervisor, cb));
      // The other instance opens the 99th: this one's cache still holds 98.
      await unary((cb) =>
        other.client.openSupervisionOrder(orderOf(caseId, 'o-98'), supervisor, cb),
      );
      // Each is asked for one more at once: this one decides on its stale
      // head, loses its append and decides again; whichever stores second is
      // decided again on 100 orders.
      const raced = await Promise.all([
        outcome(unary((cb) => c().openSupervisionOrder(orderOf(caseId, 'o-here'), supervisor, cb))),
        outcome(
          unary((cb) =>
            other.client.openSupervisionOrder(orderOf(caseId, 'o-there'), supervisor, cb),
          ),
        ),
      ]);
      expect(raced.sort()).toEqual([`${status.FAILED_PRECONDITION} ORDER.TOO_MANY`, 'stored']);
      expect(await versionOf(caseId)).toBe(2 + 100);
    } finally {
      await other.stop();
    }
  });

  // Two instances behind a load balancer race to append to one case; the
  // loser is decided again on the store's head. One that loses every time
  // must be told so, and lose nothing of the other's.
  it('refuses ABORTED a command that loses every race to another instance: after eight tries, or at once with an expected version', async () => {
    const other = await startIntake({ db: it_.db, topics: it_.topics });
    const store = it_.service.deps.store;
    const append = store.append.bind(store);
    try {
      const { caseId, l } = await dispatched();
      let lost = 0;
      // Before each append of the case here, the other instance stores a piece of evidence on it.
      Object.assign(store, {
        append: async (commit: Parameters<typeof append>[0]) => {
          if (commit.caseId === caseId)
            await unary((cb) =>
              other.client.recordProgress(evidenceOf(caseId, l, `ev-there-${++lost}`), agency, cb),
            );
          return append(commit);
        },
      });
      const refusal = (call: Promise<unknown>) =>
        call.then(
          () => undefined,
          (e: { code: number; details: string }) => [e.code, e.details],
        );
      expect(await refusal(unary((cb) => c().recordProgress(l.notice, agency, cb)))).toEqual([
        status.ABORTED,
        `CASE.VERSION_CONFLICT: case ${caseId} kept changing; retry`,
      ]);
      expect(lost).toBe(8);
      const atVersion = { ...l.notice, meta: { ...l.notice.meta, expectedVersion: 2 + lost } };
      expect(await refusal(unary((cb) => c().recordProgress(atVersion, agency, cb)))).toEqual([
        status.ABORTED,
        `CASE.VERSION_CONFLICT: meta.expected_version: case ${caseId} was changed concurrently`,
      ]);
      expect(lost).toBe(9);
      // Everything the other instance stored is there; nothing of the loser.
      const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
      expect(got.history.map((e) => e.payload?.$case)).toEqual([
        'caseRegistered',
        'caseDispatched',
        ...Array<string>(9).fill('evidenceRecorded'),
      ]);
    } finally {
      Object.assign(store, { append });
      await other.stop();
    }
  });

  it('decides on the store, not on its cache, when a second instance moved the case', async () => {
    const other = await startIntake({ db: it_.db, topics: it_.topics });
    try {
      const caseId = uniqueName('case');
      const l = fullLoop(caseId);
      // This instance caches the case at version 3 (no notice yet)...
      await unary((cb) => c().registerCase(l.register, agency, cb));
      await unary((cb) => c().dispatchCase(l.dispatch, agency, cb));
      await unary((cb) => c().recordProgress(l.evidence, agency, cb));
      // ...the other serves the notice, the hearing and the legal review...
      await unary((cb) => other.client.recordProgress(l.notice, agency, cb));
      await unary((cb) => other.client.recordProgress(l.hearing, agency, cb));
      await unary((cb) => other.client.recordProgress(l.review, agency, cb));
      // ...so the decision is lawful: its cached head (no notice) must not refuse it.
      const decided = await unary<intake.CommandResult>((cb) =>
        c().decidePenalty(l.penalty, agency, cb),
      );
      expect(decided).toMatchObject({ version: 7, duplicate: false });
      // A command the other instance stored is a duplicate here too, answered
      // as it was the first time: at the version it brought the case to (6),
      // not the case's version now (7).
      const again = await unary<intake.CommandResult>((cb) =>
        c().recordProgress(l.review, agency, cb),
      );
      expect(again).toMatchObject({ duplicate: true, version: 6 });
      // A refusal the store's head confirms still stands: the other
      // instance's cache is at version 6, the store at 7, and the case
      // exists either way.
      const twice = await unary((cb) =>
        other.client.registerCase(
          { ...l.register, meta: nextMeta(caseId, { occurredAt: l.register.meta.occurredAt }) },
          agency,
          cb,
        ),
      ).then(
        () => 'accepted',
        (e: { code: number }) => e.code,
      );
      expect(twice).toBe(status.ALREADY_EXISTS);
      const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
      expect(got.history.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await other.stop();
    }
  });

  it('returns the first result for a retried command id and writes nothing new', async () => {
    const caseId = uniqueName('case');
    const l = fullLoop(caseId);
    const first = await unary<intake.CommandResult>((cb) =>
      c().registerCase(l.register, agency, cb),
    );
    const again = await unary<intake.CommandResult>((cb) =>
      c().registerCase(l.register, agency, cb),
    );
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ duplicate: true, version: 1 });
    expect(again.events.map((e) => e.eventId)).toEqual(first.events.map((e) => e.eventId));
    const got = await unary<intake.GetCaseResponse>((cb) => c().getCase({ caseId }, agency, cb));
    expect(got.history).toHaveLength(1);
  });

  it('detects a tampered stored event with VerifyCase', async () => {
    const caseId = uniqueName('case');
    await walk(caseId, 4);
    // The third commit records evidence: its file's digest is changed in the
    // stored bytes (a commit's body is a CaseEventList), hashes left alone.
    const edited = await withMongo(async (client) => {
      let n = 0;
      for (const name of await client.db(it_.db).listCollections().toArray()) {
        const col = client.db(it_.db).collection<{ _id: string; body?: Binary }>(name.name);
        const doc = await col.findOne({ _id: `${caseId}:3` });
        if (!doc?.body) continue;
        const list = events.CaseEventList.decode(doc.body.buffer);
        const p = list.events[0]?.payload;
        if (p?.$case !== 'evidenceRecorded') continue;
        p.value.sha256 = 'f'.repeat(64);
        await col.updateOne(
          { _id: doc._id },
          { $set: { body: new Binary(events.CaseEventList.encode(list).finish()) } },
        );
        n++;
      }
      return n;
    });
    expect(edited).toBe(1);
    const verified = await unary<intake.VerifyCaseResponse>((cb) =>
      c().verifyCase({ caseId }, supervisor, cb),
    );
    expect(verified).toMatchObject({ valid: false, firstBadVersion: 3 });
    expect(verified.problem).toContain('does not match its hash');
  });

  it('refuses an agency registering a case for another agency spelled with white space at its ends', async () => {
    const l = fullLoop(uniqueName('case'));
    await expect(
      unary((cb) =>
        c().registerCase(
          { ...l.register, agencyId: ` ${l.register.agencyId}\u3000` },
          otherAgency,
          cb,
        ),
      ),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
  });

  it('refuses an agency token on another agency case, and a call without a token', async () => {
    const caseId = uniqueName('case');
    await walk(caseId, 1);
    const l = fullLoop(caseId);
    await expect(
      unary((cb) => c().dispatchCase(l.dispatch, otherAgency, cb)),
    ).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    await expect(unary((cb) => c().getCase({ caseId }, otherAgency, cb))).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    await expect(
      unary((cb) =>
        c().openSupervisionOrder(
          {
            meta: nextMeta(caseId),
            orderId: 'o',
            reason: 1,
            note: '',
            responseDueAt: new Date(Date.now() + 864e5),
            ruleId: '',
          },
          agency,
          cb,
        ),
      ),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(
      unary((cb) => c().getCase({ caseId }, new (agency.constructor as typeof Metadata)(), cb)),
    ).rejects.toMatchObject({
      code: status.UNAUTHENTICATED,
    });
  });

  it('reads every event after a position, in position order, for replays', async () => {
    const ids = [uniqueName('case'), uniqueName('case')];
    for (const id of ids) await walk(id, 3);
    const all: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c().readAll(
        { afterPosition: 0, maxCount: 0, recordedUntil: undefined, fromCommits: false },
        supervisor,
      );
      call.on('data', (r: intake.ReadAllResponse) => all.push(r.event?.position ?? -1));
      call.on('end', resolve);
      call.on('error', reject);
    });
    expect(all.length).toBeGreaterThanOrEqual(6);
    expect([...all].sort((a, b) => a - b)).toEqual(all);
    expect(new Set(all).size).toBe(all.length);

    const after = all[2] ?? 0;
    const tail: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c().readAll(
        { afterPosition: after, maxCount: 2, recordedUntil: undefined, fromCommits: false },
        supervisor,
      );
      call.on('data', (r: intake.ReadAllResponse) => tail.push(r.event?.position ?? -1));
      call.on('end', resolve);
      call.on('error', reject);
    });
    expect(tail).toEqual(all.slice(3, 5));
  });
});
