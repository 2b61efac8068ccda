import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { events, type intake } from '@enforcement/contracts';
import { uniqueName } from '@enforcement/testing';
import { fullLoop } from '../test-support/commands.js';
import { startIntake, tokenFor, unary, type TestIntake } from '../test-support/harness.js';

const ID_NUMBER = '450202198001011234';
const MASKED = '4502**********1234';

/**
 * Authorization comes before anything that could reveal data: the role
 * before any lookup, the case's agency before the command id is looked up.
 * Party identity numbers reach only the owning agency, and its reads are
 * recorded.
 */
describe('authorization first, personal data minimised', () => {
  let svc: TestIntake;
  let owner: Metadata;
  let foreign: Metadata;
  let reporting: Metadata;
  let supervisor: Metadata;
  const caseId = uniqueName('LZ2021');
  const loop = fullLoop(caseId, 'lz-eeb');
  const register: intake.RegisterCaseRequest = {
    ...loop.register,
    parties: [{ kind: events.PartyKind.PARTY_KIND_PERSON, name: '张三', identifier: ID_NUMBER }],
  };

  beforeAll(async () => {
    svc = await startIntake();
    owner = await tokenFor(['agency'], ['lz-eeb']);
    foreign = await tokenFor(['agency'], ['lz-water']);
    reporting = await tokenFor(['reporting']);
    supervisor = await tokenFor(['supervisor']);
    const c = svc.client;
    await unary((cb) => c.registerCase(register, owner, cb));
    await unary((cb) => c.dispatchCase(loop.dispatch, owner, cb));
    await unary((cb) => c.recordProgress(loop.evidence, owner, cb));
    await unary((cb) => c.recordProgress(loop.notice, owner, cb));
    await unary((cb) => c.recordProgress(loop.hearing, owner, cb));
    await unary((cb) => c.recordProgress(loop.review, owner, cb));
    await unary((cb) => c.decidePenalty(loop.penalty, owner, cb));
  });
  afterAll(() => svc?.stop());

  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: ServiceError) => e,
    );

  it("another agency re-sending the owner's command ids learns nothing: PERMISSION_DENIED, no events, no name", async () => {
    const attempts = [
      // The registration, naming the attacker's own agency, then the owner's.
      refusal(
        unary((cb) => svc.client.registerCase({ ...register, agencyId: 'lz-water' }, foreign, cb)),
      ),
      refusal(unary((cb) => svc.client.registerCase(register, foreign, cb))),
      // The penalty decision's id, on the step that holds the fine.
      refusal(unary((cb) => svc.client.decidePenalty(loop.penalty, foreign, cb))),
    ];
    for (const e of await Promise.all(attempts)) {
      expect(e?.code).toBe(status.PERMISSION_DENIED);
      expect(e?.details).not.toContain('lz-eeb');
      expect(e?.details).not.toContain(ID_NUMBER);
      expect(e?.details).not.toContain('张三');
    }
  });

  it('the reporting role gets PERMISSION_DENIED on every write, a known command id or not', async () => {
    const known = await refusal(unary((cb) => svc.client.registerCase(register, reporting, cb)));
    const fresh = await refusal(
      unary((cb) => svc.client.registerCase(fullLoop(uniqueName('x')).register, reporting, cb)),
    );
    expect(known?.code).toBe(status.PERMISSION_DENIED);
    expect(fresh?.code).toBe(status.PERMISSION_DENIED);
    expect(known?.details).toBe(fresh?.details);
  });

  it('the owner re-sending a command gets the first result back, as before', async () => {
    const again = await unary<intake.CommandResult>((cb) =>
      svc.client.decidePenalty(loop.penalty, owner, cb),
    );
    expect(again).toMatchObject({ duplicate: true, version: 7 });
    expect(again.events[0]?.payload?.$case).toBe('penaltyDecided');
  });

  it('another agency can read nothing of the case and is not told whose it is', async () => {
    for (const e of [
      await refusal(unary((cb) => svc.client.getCase({ caseId }, foreign, cb))),
      await refusal(unary((cb) => svc.client.verifyCase({ caseId }, foreign, cb))),
    ]) {
      expect(e?.code).toBe(status.PERMISSION_DENIED);
      expect(e?.details).not.toContain('lz-eeb');
    }
  });

  const identifierIn = (
    history: readonly { payload?: intake.CommandResult['events'][number]['payload'] }[],
  ) => {
    const reg = history.find((e) => e.payload?.$case === 'caseRegistered')?.payload;
    return reg?.$case === 'caseRegistered' ? reg.value.parties[0]?.identifier : undefined;
  };

  const accessRecords = () => svc.service.accessLog.collection.find({ caseId }).toArray();

  it('masks party identity numbers for supervisors and reporting, and records nothing for them', async () => {
    const bySupervisor = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, supervisor, cb),
    );
    expect(identifierIn(bySupervisor.history)).toBe(MASKED);
    expect(bySupervisor.integrity?.valid).toBe(true);

    const all: intake.ReadAllResponse[] = [];
    for await (const r of svc.client.readAll(
      { afterPosition: 0, maxCount: 0, fromCommits: false },
      reporting,
    ) as AsyncIterable<intake.ReadAllResponse>)
      all.push(r);
    const mine = all.flatMap((r) => (r.event?.caseId === caseId ? [r.event] : []));
    expect(mine).toHaveLength(7);
    expect(identifierIn(mine)).toBe(MASKED);
    expect(await accessRecords()).toEqual([]);
  });

  it('shows them in full to the owning agency, and records who read them, when and how', async () => {
    const before = new Date();
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, owner, cb),
    );
    expect(identifierIn(got.history)).toBe(ID_NUMBER);
    const stream: intake.ReadStreamResponse[] = [];
    for await (const r of svc.client.readStream(
      { caseId, fromVersion: 1 },
      owner,
    ) as AsyncIterable<intake.ReadStreamResponse>)
      stream.push(r);
    expect(identifierIn(stream.flatMap((r) => (r.event ? [r.event] : [])))).toBe(ID_NUMBER);
    const records = await accessRecords();
    expect(records.map((r) => [r.subject, r.call])).toEqual([
      ['test-agency', 'GetCase'],
      ['test-agency', 'ReadStream'],
    ]);
    expect(records.every((r) => r.at.getTime() >= before.getTime() - 1000)).toBe(true);
  });
});
