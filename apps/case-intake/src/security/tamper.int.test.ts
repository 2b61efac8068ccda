import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { type intake } from '@enforcement/contracts';
import { eventually, repoRoot, stack, uniqueName } from '@enforcement/testing';
import { fullLoop, fullTimeliness, nextMeta } from '../test-support/commands.js';
import { startIntake, tokenFor, unary, type TestIntake } from '../test-support/harness.js';
import { outboxDocOf } from '../adapters/mongo/event-store.js';
import { rechain, storedCommits } from './attacker.test-support.js';

const runCli = async (args: string[]) => {
  const cli = join(repoRoot(), 'apps/cli/dist/main.js');
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
};

/**
 * Whoever can write the database edits, deletes, truncates and forges case
 * histories; intake must detect each (VerifyCase, GetCase, the audit) and
 * refuse to append to a broken history. The head cache is off, so every
 * command reads the store as the attacker left it.
 */
describe('tamper evidence against a database writer', () => {
  let svc: TestIntake;
  let agency: Metadata;
  let supervisor: Metadata;

  beforeAll(async () => {
    svc = await startIntake({ env: { HEAD_CACHE_SIZE: '0' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(() => svc?.stop());

  async function walk(caseId: string) {
    const l = fullLoop(caseId);
    const c = svc.client;
    await unary((cb) => c.registerCase(l.register, agency, cb));
    await unary((cb) => c.dispatchCase(l.dispatch, agency, cb));
    await unary((cb) => c.recordProgress(l.evidence, agency, cb));
    await unary((cb) => c.recordProgress(l.notice, agency, cb));
    await unary((cb) => c.recordProgress(l.hearing, agency, cb));
    await unary((cb) => c.recordProgress(l.review, agency, cb));
    await unary((cb) => c.decidePenalty(l.penalty, agency, cb));
    await unary((cb) => c.concludeCase(l.conclude, agency, cb));
    // The relay has published version 8 and its checkpoint.
    await eventually(
      () => (svc.service.checkpoints.get(caseId)?.version === 8 ? true : undefined),
      {
        timeoutMs: 20_000,
        what: `checkpoint of ${caseId}`,
      },
    );
  }

  const verify = (caseId: string) =>
    unary<intake.VerifyCaseResponse>((cb) => svc.client.verifyCase({ caseId }, supervisor, cb));

  const evaluation = (caseId: string): intake.RecordEvaluationRequest => ({
    meta: nextMeta(caseId),
    score: 90,
    modelVersion: 'v1',
    indicators: fullTimeliness(),
  });

  /** `enforce reconcile` of this service's store and topic, as an operator runs it. */
  const reconcile = (...flags: string[]) =>
    runCli([
      'reconcile',
      ...flags,
      '--intake',
      svc.service.address,
      '--brokers',
      stack().kafkaBrokers.join(','),
      '--topic',
      svc.topics.caseEvents,
    ]);

  /** The whole-store audit's findings, by the kind of case (its id's prefix), and its summary. */
  const audit = async () => {
    const items: intake.AuditStoreResponse[] = [];
    for await (const item of svc.client.auditStore(
      {},
      supervisor,
    ) as AsyncIterable<intake.AuditStoreResponse>)
      items.push(item);
    const findings = items.flatMap((i) => (i.item?.$case === 'finding' ? [i.item.value] : []));
    const summary = items.at(-1)?.item;
    expect(summary?.$case).toBe('summary');
    const byCase = new Map(findings.map((f) => [f.caseId.split('-')[0], f]));
    return { findings, summary, byCase };
  };

  /** The evaluation, which a concluded case takes: refused only because its history is broken. */
  const appendRefused = async (caseId: string) => {
    const err = await unary((cb) =>
      svc.client.recordEvaluation(evaluation(caseId), supervisor, cb),
    ).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((err as ServiceError).details).toContain('CASE.HISTORY_BROKEN');
    return err as ServiceError;
  };

  it('does not take a commit stored while a history was being read for a cut history', async () => {
    const caseId = uniqueName('race');
    const l = fullLoop(caseId);
    const c = svc.client;
    await unary((cb) => c.registerCase(l.register, agency, cb));
    await unary((cb) => c.dispatchCase(l.dispatch, agency, cb));
    const checkpointAt = (v: number) =>
      eventually(() => (svc.service.checkpoints.get(caseId)?.version === v ? true : undefined), {
        timeoutMs: 20_000,
        what: `checkpoint ${v} of ${caseId}`,
      });
    await checkpointAt(2);
    // The next reads of this case each finish only after another instance
    // stored a command and it was checkpointed meanwhile: they see the
    // history as it was. (This instance's own commands of a case take turns,
    // so the writer meanwhile is another's, as it would be.)
    const other = await startIntake({ db: svc.db, topics: svc.topics });
    const store = svc.service.store;
    const load = store.load.bind(store);
    const meanwhile = [l.evidence, l.notice];
    store.load = async (id: string, knownVersion?: number) => {
      const stream = await load(id, knownVersion);
      const next = id === caseId ? meanwhile.shift() : undefined;
      if (next) {
        const r = await unary<intake.CommandResult>((cb) =>
          other.client.recordProgress(next, agency, cb),
        );
        await checkpointAt(r.version);
      }
      return stream;
    };
    try {
      // A read: intact, at the version it read.
      expect(await verify(caseId)).toMatchObject({ valid: true, eventCount: 2 });
      // A command: not refused as broken, and stored after the commit made
      // meanwhile (its append conflicts, and it is decided again).
      const review = await unary<intake.CommandResult>((cb) =>
        c.recordProgress(l.review, agency, cb),
      );
      expect(review.version).toBe(5);
    } finally {
      store.load = load;
      await other.stop();
    }
    expect(await verify(caseId)).toMatchObject({ valid: true, eventCount: 5 });
  });

  it('an intact case takes its evaluation (the check below is not refusing everything)', async () => {
    const caseId = uniqueName('ok');
    await walk(caseId);
    const r = await unary<intake.CommandResult>((cb) =>
      svc.client.recordEvaluation(evaluation(caseId), supervisor, cb),
    );
    expect(r.version).toBe(9);
    expect(await verify(caseId)).toMatchObject({ valid: true, eventCount: 9 });
  });

  it('a fine edited by hand, the rest of the chain recomputed with SHA-256: detected at that version', async () => {
    const caseId = uniqueName('edit');
    await walk(caseId);
    const stored = await storedCommits(svc.service.store, caseId);
    const edited = stored.events.map((e) =>
      e.payload?.$case === 'penaltyDecided'
        ? { ...e, payload: { ...e.payload, value: { ...e.payload.value, fineFen: 100 } } }
        : e,
    );
    const position7 = stored.events[6]?.position;
    // Keeping the key ids: the hashes cannot be HMACs without the key.
    await stored.rewrite(rechain(edited, { dropKeyId: false }));
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 1,
      problem: 'content of version 1 does not match its hash',
    });
    // Dropping them to pass as an unkeyed (legacy) chain: refused as unkeyed.
    await stored.rewrite(rechain(edited, { dropKeyId: true }));
    const v = await verify(caseId);
    expect(v).toMatchObject({
      valid: false,
      firstBadVersion: 1,
      firstBadPosition: stored.events[0]?.position,
    });
    expect(v.problem).toContain('unkeyed hash');

    // Only the fine changed, keyed hashes kept: the first bad event is the penalty itself.
    await stored.rewrite(stored.events.map((e, i) => (i === 6 ? (edited[6] ?? e) : e)));
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 7,
      firstBadPosition: position7,
      problem: 'content of version 7 does not match its hash',
    });
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, supervisor, cb),
    );
    expect(got.integrity).toMatchObject({ valid: false, firstBadVersion: 7 });
    expect(got.case?.fineFen).toBe(100);

    expect((await appendRefused(caseId)).details).toContain('fails verification at version 7');
  });

  it('the last commit deleted (truncation): the checkpoint on Kafka shows it, and nothing is appended in its place', async () => {
    const caseId = uniqueName('cut');
    await walk(caseId);
    const stored = await storedCommits(svc.service.store, caseId);
    await stored.remove(8);
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 8,
      checkpointVersion: 8,
      problem: 'history ends at version 7, but version 8 was checkpointed',
    });
    await appendRefused(caseId);
    // A new instance knows nothing but what Kafka kept: it sees the cut too.
    const fresh = await startIntake({
      db: svc.db,
      topics: svc.topics,
      env: { INGRESS_ENABLED: 'false' },
    });
    try {
      const v = await unary<intake.VerifyCaseResponse>((cb) =>
        fresh.client.verifyCase({ caseId }, supervisor, cb),
      );
      expect(v).toMatchObject({ valid: false, firstBadVersion: 8, checkpointVersion: 8 });
    } finally {
      await fresh.stop();
    }
  });

  it('a forged commit appended with a correct SHA-256 hash: detected at the forged version', async () => {
    const caseId = uniqueName('forge');
    await walk(caseId);
    const stored = await storedCommits(svc.service.store, caseId);
    const last = stored.events[7];
    if (!last) throw new Error('no version 8');
    const [forged] = rechain(
      [
        {
          ...last,
          eventId: 'forged',
          version: 9,
          position: last.position + 1000,
          prevHash: last.hash,
          payload: { $case: 'caseArchived', value: { headHash: last.hash, eventCount: 8 } },
        },
      ],
      { dropKeyId: false },
    );
    if (!forged) throw new Error('nothing forged');
    await stored.append(forged);
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 9,
      firstBadPosition: forged.position,
      problem: 'content of version 9 does not match its hash',
    });
  });

  it('a whole case deleted: reported as gone, and its id cannot be registered again', async () => {
    const caseId = uniqueName('gone');
    await walk(caseId);
    await (await storedCommits(svc.service.store, caseId)).removeAll();
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 1,
      problem: 'the case is gone from the store, but version 8 was checkpointed',
    });
    const again = await unary((cb) =>
      svc.client.registerCase(fullLoop(caseId).register, agency, cb),
    ).catch((e: ServiceError) => e);
    expect((again as ServiceError).code).toBe(status.FAILED_PRECONDITION);
  });

  it('the whole-store audit lists every broken history with its first bad position, and leaves intact ones alone', async () => {
    const intact = uniqueName('intact');
    await walk(intact);
    const { findings, summary, byCase } = await audit();
    expect(findings.map((f) => f.caseId)).not.toContain(intact);
    expect(byCase.get('edit')).toMatchObject({ firstBadVersion: 7 });
    expect(byCase.get('cut')).toMatchObject({ firstBadVersion: 8 });
    expect(byCase.get('forge')).toMatchObject({ firstBadVersion: 9 });
    expect(byCase.get('gone')).toMatchObject({ firstBadVersion: 1 });
    expect(findings.every((f) => f.problem.length > 0)).toBe(true);
    // In the store: the intact case, the raced one (intact too), edit, cut and forge.
    if (summary?.$case === 'summary')
      expect(summary.value).toMatchObject({ brokenCases: 4, missingCases: 1, casesChecked: 6 });

    // The same through the command line, as an operator runs it.
    const cli = await runCli(['audit', '--intake', svc.service.address]);
    expect(cli.code).toBe(3);
    expect(cli.stdout).toMatch(
      /^edit-\S+: BROKEN at version 7 \(position \d+\): content of version 7/m,
    );
    expect(cli.stdout).toMatch(/4 broken \(1 gone from the store\)$/m);

    // The store beside the topic: what was cut or deleted is still on Kafka, the forgery never was.
    const rec = await reconcile('--json');
    expect(rec.code).toBe(3);
    const diff = (
      JSON.parse(rec.stdout) as {
        differences: { caseId: string; version: number; problem: string }[];
      }
    ).differences.map((d) => [d.caseId.split('-')[0], d.version, d.problem]);
    expect(diff).toContainEqual(['cut', 8, 'missing in the store']);
    expect(diff).toContainEqual(['forge', 9, 'missing on the topic']);
    expect(diff.filter(([c]) => c === 'gone')).toHaveLength(8);
    expect(diff.filter(([c]) => c === 'intact' || c === 'ok')).toEqual([]);

    const denied = await (async () => {
      for await (const _ of svc.client.auditStore({}, agency)) void _;
    })().catch((e: ServiceError) => e);
    expect((denied as ServiceError).code).toBe(status.PERMISSION_DENIED);
  });

  it('stored bytes that do not decode, or hold too few events: a broken history where they start, never an internal error', async () => {
    const read = async (caseId: string) => {
      await walk(caseId);
      return storedCommits(svc.service.store, caseId);
    };
    // Garbage in place of version 5's events (text is no CaseEventList: wire type 6).
    const garbageId = uniqueName('garbage');
    const garbage = await read(garbageId);
    await garbage.overwrite(5, Buffer.from('not a protobuf at all', 'utf8'));
    // Version 8's bytes cut short, inside its event.
    const truncId = uniqueName('trunc');
    const trunc = await read(truncId);
    const bytes8 = trunc.docs[7]?.body?.buffer;
    if (!bytes8) throw new Error('version 8 holds no bytes');
    await trunc.overwrite(8, bytes8.subarray(0, bytes8.length - 12));
    // Version 1's events replaced by an empty list, which decodes: nothing says whose case it is.
    const emptiedId = uniqueName('emptied');
    const emptied = await read(emptiedId);
    await emptied.overwrite(1, new Uint8Array(0));

    const position = (s: typeof garbage, v: number) =>
      s.docs.find((d) => d.fromVersion === v)?.position;
    const g = await verify(garbageId);
    expect(g).toMatchObject({
      valid: false,
      firstBadVersion: 5,
      firstBadPosition: position(garbage, 5),
      eventCount: 4,
    });
    expect(g.problem).toMatch(/^the stored events of version 5 do not decode: /);
    const t = await verify(truncId);
    expect(t).toMatchObject({
      valid: false,
      firstBadVersion: 8,
      firstBadPosition: position(trunc, 8),
    });
    expect(t.problem).toMatch(/^the stored events of version 8 do not decode: /);
    expect(await verify(emptiedId)).toMatchObject({
      valid: false,
      firstBadVersion: 1,
      firstBadPosition: position(emptied, 1),
      problem: 'the commit of versions 1-1 holds 0 events, not 1',
    });

    // GetCase shows what can be read, and says where it stops.
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId: garbageId }, supervisor, cb),
    );
    expect(got.history.map((e) => e.version)).toEqual([1, 2, 3, 4]);
    expect(got.integrity).toMatchObject({ valid: false, firstBadVersion: 5 });
    // A case whose first commit cannot be read: refused as broken, and only to who may read every case.
    const unreadableCase = await unary((cb) =>
      svc.client.getCase({ caseId: emptiedId }, supervisor, cb),
    ).catch((e: ServiceError) => e);
    expect((unreadableCase as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((unreadableCase as ServiceError).details).toContain(
      `the history of case ${emptiedId} cannot be read at version 1`,
    );
    const notTheirs = await unary((cb) =>
      svc.client.verifyCase({ caseId: emptiedId }, agency, cb),
    ).catch((e: ServiceError) => e);
    expect((notTheirs as ServiceError).code).toBe(status.PERMISSION_DENIED);

    expect((await appendRefused(garbageId)).details).toContain('fails verification at version 5');
    expect((await appendRefused(truncId)).details).toContain('fails verification at version 8');
    expect((await appendRefused(emptiedId)).details).toContain('fails verification at version 1');

    // ReadAll serves the events before the first unreadable commit, then stops and names it.
    const garbageAt = position(garbage, 5) ?? 0;
    for (const fromCommits of [false, true]) {
      const got: number[] = [];
      const err = await (async () => {
        for await (const r of svc.client.readAll(
          { afterPosition: 0, maxCount: 0, recordedUntil: undefined, fromCommits },
          supervisor,
        ) as AsyncIterable<intake.ReadAllResponse>)
          got.push(r.event?.position ?? 0);
      })().catch((e: ServiceError) => e);
      expect((err as ServiceError | undefined)?.code).toBe(status.FAILED_PRECONDITION);
      expect((err as ServiceError).details).toMatch(
        /cannot be read at version (1|5|8) \(position \d+\)/,
      );
      if (!fromCommits) {
        // By position, the garbage comes first: every event before it, none after.
        expect((err as ServiceError).details).toContain(
          `case ${garbageId} cannot be read at version 5`,
        );
        expect(got.length).toBeGreaterThan(0);
        expect(Math.max(...got)).toBeLessThan(garbageAt);
      }
    }

    // The audit reports each as a finding like any other and goes on past them.
    const { byCase, summary } = await audit();
    expect(byCase.get('garbage')).toMatchObject({
      caseId: garbageId,
      firstBadVersion: 5,
      firstBadPosition: position(garbage, 5),
    });
    expect(byCase.get('trunc')).toMatchObject({ firstBadVersion: 8 });
    expect(byCase.get('emptied')).toMatchObject({
      firstBadVersion: 1,
      problem: 'the commit of versions 1-1 holds 0 events, not 1',
    });
    for (const kind of ['edit', 'cut', 'forge', 'gone'])
      expect(byCase.get(kind)?.problem).toBeTruthy();
    // Three more broken cases than the audit above found, and every case checked.
    if (summary?.$case === 'summary')
      expect(summary.value).toMatchObject({ brokenCases: 7, missingCases: 1, casesChecked: 9 });
    // Reconcile cannot compare a store it cannot read to its end: it says where, and what to run.
    const rec = await reconcile();
    expect(rec.code).toBe(1);
    expect(rec.stderr).toMatch(/cannot be read at version (1|5|8) \(position \d+\)/);
    expect(rec.stderr).toContain('enforce audit');

    // The relay meets the garbage when it publishes the commits again (as after a release, or a
    // crash before publishing): it publishes versions 3 and 4, which precede it, parks version 5
    // with the reason and the case's later commits behind it, and publishes the rest. Version 7
    // is garbled too: parked behind 5, its own reason is kept.
    await garbage.overwrite(7, Buffer.from('not a protobuf either', 'utf8'));
    await svc.service.store.outbox.insertOne(
      outboxDocOf(
        garbage.docs.filter((d) => d.fromVersion >= 3),
        new Date(0),
      ),
    );
    const fresh = await startIntake({
      db: svc.db,
      topics: svc.topics,
      env: { INGRESS_ENABLED: 'false' },
    });
    try {
      const parked = await eventually(
        async () => {
          const docs = await fresh.service.store.parked.find({ caseId: garbageId }).toArray();
          return docs.length === 4 ? docs.sort((a, b) => a.fromVersion - b.fromVersion) : undefined;
        },
        { timeoutMs: 20_000, what: `the parked commits of ${garbageId}` },
      );
      expect(parked.map((d) => d.fromVersion)).toEqual([5, 6, 7, 8]);
      expect(parked[0]?.reason).toMatch(/^the stored events of version 5 do not decode: /);
      const behind = 'an earlier event of the case is parked';
      expect(
        parked
          .slice(1)
          .map((d) =>
            d.reason.replace(/^the stored events of version 7 do not decode: .*; /, '<7>; '),
          ),
      ).toEqual([behind, `<7>; ${behind} too`, behind]);
      expect(await fresh.service.store.outbox.countDocuments({})).toBe(0);
    } finally {
      await fresh.stop();
    }
  });

  it('a whole case copied under a new id (its chain verifies on its own): reported at version 1, and never appended to', async () => {
    const sourceId = uniqueName('source');
    await walk(sourceId);
    const before = await audit();
    const cloneId = uniqueName('clone');
    const stored = await storedCommits(svc.service.store, sourceId);
    await svc.service.store.commits
      .for(cloneId)
      .insertMany(
        stored.docs.map((d) => ({ ...d, _id: `${cloneId}:${d.fromVersion}`, caseId: cloneId })),
      );
    expect(await verify(cloneId)).toMatchObject({
      valid: false,
      firstBadVersion: 1,
      problem: `version 1 is an event of case ${sourceId}, not of ${cloneId}`,
    });
    expect(await verify(sourceId)).toMatchObject({ valid: true, eventCount: 8 });
    expect((await appendRefused(cloneId)).details).toContain('fails verification at version 1');

    const after = await audit();
    expect(after.byCase.get('clone')).toMatchObject({ caseId: cloneId, firstBadVersion: 1 });
    expect(after.findings.map((f) => f.caseId)).not.toContain(sourceId);
    if (before.summary?.$case === 'summary' && after.summary?.$case === 'summary') {
      expect(after.summary.value.brokenCases).toBe(before.summary.value.brokenCases + 1);
      expect(after.summary.value.casesChecked).toBe(before.summary.value.casesChecked + 1);
    }
  });

  it("a commit's record edited to name another command (which idempotency reads): reported at that commit, a retry refused", async () => {
    const caseId = uniqueName('renamed');
    await walk(caseId);
    const stored = await storedCommits(svc.service.store, caseId);
    const third = stored.docs.find((d) => d.fromVersion === 3);
    if (!third) throw new Error('no version 3');
    // As if version 3's command had never been seen: a retry of it would be applied again.
    await svc.service.store.commits
      .for(caseId)
      .updateOne({ _id: third._id }, { $set: { commandId: 'someone-else' } });
    expect(await verify(caseId)).toMatchObject({
      valid: false,
      firstBadVersion: 3,
      firstBadPosition: third.position,
      problem: `the commit of versions 3-3 is recorded for command someone-else, but version 3 is an event of command ${third.commandId}`,
    });
    const retry = await unary((cb) =>
      svc.client.recordProgress(fullLoop(caseId).evidence, agency, cb),
    ).catch((e: ServiceError) => e);
    expect((retry as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((retry as ServiceError).details).toContain('fails verification at version 3');
  });
});
