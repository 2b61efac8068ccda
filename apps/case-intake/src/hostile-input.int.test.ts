import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, credentials, status, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { create, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { events, intake } from '@enforcement/contracts';
import { requestTypeOf } from '@enforcement/grpc-kit';
import { statutoryDueAt } from '@enforcement/reference-data';
import { uniqueName } from '@enforcement/testing';
import { fullLoop, fullTimeliness, nextMeta } from './test-support/commands.js';
import { fingerprintOf } from './application/admission.js';
import {
  startIntake,
  submitAll,
  tokenFor,
  unary,
  withMongo,
  type TestIntake,
} from './test-support/harness.js';

const SERVICE = '/enforcement.intake.v1.CaseIntakeService';
const desc = (method: string): DescMessage => {
  const d = requestTypeOf(`${SERVICE}/${method}`);
  if (!d) throw new Error(`no ${method}`);
  return d;
};
/** Bytes a client in another language could send: built from the descriptors, not by our TypeScript types. */
const raw = (method: string, init: Record<string, unknown>) =>
  Buffer.from(toBinary(desc(method), create(desc(method), init as never)));

const registerInit = (caseId: string, over: Record<string, unknown> = {}) => ({
  meta: { commandId: `${caseId}:1`, caseId, ...((over.meta as object) ?? {}) },
  agencyId: 'lz-eeb',
  district: '柳南区',
  domain: events.Domain.DOMAIN_ENVIRONMENT,
  violationCode: 'ENV-AIR-001',
  legalBasis: '《大气污染防治法》第九十九条',
  source: events.CaseSource.CASE_SOURCE_INSPECTION,
  parties: [
    { kind: events.PartyKind.PARTY_KIND_ORGANIZATION, name: '某公司', identifier: '914502' },
  ],
  title: over.title ?? '超标排放',
  major: false,
});

/**
 * Input nobody here would send: integers beyond 2^53, invalid UTF-8,
 * impossible Timestamps, control characters in ids, reused idempotency keys,
 * oversized fields. Each is refused with INVALID_ARGUMENT (or ALREADY_EXISTS)
 * naming the field; a stream answers it and goes on; nothing accepted before
 * is lost.
 */
describe('hostile input', () => {
  let svc: TestIntake;
  let agency: Metadata;
  let supervisor: Metadata;
  let client: Client;

  beforeAll(async () => {
    svc = await startIntake({ env: { INGRESS_ENABLED: 'false' } });
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
    client = new Client(svc.service.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await svc?.stop();
  });

  const rawUnary = (method: string, bytes: Buffer, md = agency) =>
    new Promise<ServiceError | undefined>((resolve) =>
      client.makeUnaryRequest(
        `${SERVICE}/${method}`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        md,
        (err) => resolve(err ?? undefined),
      ),
    );

  it('answers every item of a stream, the undecodable ones rejected by index, and stores the rest', async () => {
    const items: Buffer[] = [];
    const ids: string[] = [];
    for (let i = 1; i <= 40; i++) {
      const caseId = uniqueName(`stream${i}`);
      ids.push(caseId);
      let init = registerInit(caseId, { title: '@@@' });
      if (i === 20) init = registerInit(caseId, { meta: { expectedVersion: 2n ** 62n } });
      let bytes = raw('SubmitEvents', {
        sequence: BigInt(i),
        command: { kind: { case: 'registerCase', value: init } },
      });
      // A lone UTF-16 surrogate, as a careless encoder writes it: not UTF-8.
      if (i === 30)
        bytes = Buffer.from(bytes.toString('latin1').replace('@@@', '\xed\xa0\x80'), 'latin1');
      items.push(bytes);
    }
    const acks: intake.SubmitEventsResponse[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.makeBidiStreamRequest(
        `${SERVICE}/SubmitEvents`,
        (b: Buffer) => b,
        (b: Buffer) => intake.SubmitEventsResponse.decode(b),
        agency,
      );
      call.on('data', (a: intake.SubmitEventsResponse) => acks.push(a));
      call.on('error', reject);
      call.on('end', () => resolve());
      for (const b of items) call.write(b);
      call.end();
    });
    expect(acks.map((a) => a.index)).toEqual(items.map((_, i) => i + 1));
    const rejected = acks.filter((a) => !a.accepted);
    expect(rejected.map((a) => [a.index, a.errorCode, a.statusCode])).toEqual([
      [20, 'REQUEST.UNDECODABLE', status.INVALID_ARGUMENT],
      [30, 'REQUEST.UNDECODABLE', status.INVALID_ARGUMENT],
    ]);
    expect(rejected[0]?.reason).toContain('command.register_case.meta.expected_version');
    expect(acks.filter((a) => a.accepted)).toHaveLength(38);
    const stored = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId: ids[18] ?? '' }, agency, cb),
    );
    expect(stored.case?.version).toBe(1);
  });

  it.each([
    [
      'expected_version 2^62',
      'RegisterCase',
      () => registerInit(uniqueName('x'), { meta: { expectedVersion: 2n ** 62n } }),
      'meta.expected_version',
    ],
    [
      'fine -2^63',
      'DecidePenalty',
      () => ({ meta: { commandId: 'p', caseId: 'c' }, fineFen: -(2n ** 63n) }),
      'fine_fen',
    ],
    [
      'occurred_at nanos 2e9',
      'RegisterCase',
      () =>
        registerInit(uniqueName('x'), {
          meta: { occurredAt: { seconds: 1_600_000_000n, nanos: 2e9 } },
        }),
      'meta.occurred_at: nanos 2000000000',
    ],
    [
      'occurred_at negative nanos',
      'RegisterCase',
      () =>
        registerInit(uniqueName('x'), {
          meta: { occurredAt: { seconds: 1_600_000_000n, nanos: -1 } },
        }),
      'meta.occurred_at: nanos -1',
    ],
    [
      'occurred_at before year 1',
      'RegisterCase',
      () => registerInit(uniqueName('x'), { meta: { occurredAt: { seconds: -62_135_596_801n } } }),
      'outside the Timestamp range',
    ],
  ])(
    'answers a unary call with %s: INVALID_ARGUMENT naming the field',
    async (_, method, init, field) => {
      const err = await rawUnary(method, raw(method, init()));
      expect(err?.code).toBe(status.INVALID_ARGUMENT);
      expect(err?.details).toContain(field);
    },
  );

  it('answers ReadAll from position 2^62 with INVALID_ARGUMENT, not INTERNAL', async () => {
    const err = await new Promise<ServiceError | undefined>((resolve) => {
      const call = client.makeServerStreamRequest(
        `${SERVICE}/ReadAll`,
        (b: Buffer) => b,
        (b: Buffer) => b,
        raw('ReadAll', { afterPosition: 2n ** 62n }),
        supervisor,
      );
      call.on('error', (e: ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
      call.on('data', () => undefined);
    });
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toContain('after_position');
  });

  const register = (r: intake.RegisterCaseRequest) =>
    unary<intake.CommandResult>((cb) => svc.client.registerCase(r, agency, cb)).then(
      (x) => x,
      (e: ServiceError) => e,
    );

  it.each([
    ['1900', new Date('1900-01-01T00:00:00Z'), 'TIME.OUT_OF_RANGE: meta.occurred_at'],
    ['0001-01-01', new Date('0001-01-01T00:00:00Z'), 'TIME.OUT_OF_RANGE: meta.occurred_at'],
  ])('refuses an occurred_at of %s', async (_, at, message) => {
    const l = fullLoop(uniqueName('t'));
    const e = (await register({
      ...l.register,
      meta: { ...l.register.meta, occurredAt: at },
    })) as ServiceError;
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toContain(message);
  });

  it.each([
    ['a NUL byte', 'case\u0000one', 'meta.case_id'],
    ['a line break', 'case\none', 'meta.case_id'],
    ['200 characters', 'c'.repeat(200), 'meta.case_id'],
  ])('refuses a case id with %s as INVALID_ARGUMENT', async (_, caseId, field) => {
    const l = fullLoop(caseId);
    const e = (await register(l.register)) as ServiceError;
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toContain(`FIELD.INVALID: ${field}`);
  });

  // Each names a row of a ranking, a group of a page, a key of the rules'
  // clock: a district or an officer id of a megabyte made each of them that big.
  it('refuses a field that names something (district, unit, officer) when it is not an id, naming it', async () => {
    const l = fullLoop(uniqueName('names'));
    const long = (await register({ ...l.register, district: '区'.repeat(129) })) as ServiceError;
    expect(long.code).toBe(status.INVALID_ARGUMENT);
    expect(long.details).toContain('FIELD.INVALID: district: has 129 characters; at most 128');
    const broken = (await register({ ...l.register, district: '柳南\t区' })) as ServiceError;
    expect(broken.details).toContain('FIELD.INVALID: district: must be printable');
    expect(await register(l.register)).toMatchObject({ version: 1 });
    const dispatch = (officerId: string, unitId = l.dispatch.unitId) =>
      unary<intake.CommandResult>((cb) =>
        svc.client.dispatchCase(
          {
            ...l.dispatch,
            unitId,
            officers: [{ ...l.dispatch.officers[0], officerId }, l.dispatch.officers[1]],
          } as intake.DispatchCaseRequest,
          agency,
          cb,
        ),
      ).then(
        (x) => x,
        (e: ServiceError) => e,
      );
    expect(((await dispatch('o'.repeat(1_000))) as ServiceError).details).toContain(
      'FIELD.INVALID: officers[0].officer_id: has 1000 characters; at most 128',
    );
    expect(((await dispatch('off-1', 'u\u200b1')) as ServiceError).details).toContain(
      'FIELD.INVALID: unit_id: must be printable',
    );
    // At the limit, and in any script, it is an id.
    expect(await dispatch('警'.repeat(128))).toMatchObject({ version: 2 });
  });

  // Found by the fuzz suite (tests/fuzz): PostgreSQL's jsonb cannot store a NUL, and it came back INTERNAL.
  it('refuses a NUL byte in any text field as INVALID_ARGUMENT naming the field', async () => {
    const l = fullLoop(uniqueName('nul'));
    const e = (await register({ ...l.register, district: '\u0000' })) as ServiceError;
    expect(e.code).toBe(status.INVALID_ARGUMENT);
    expect(e.details).toContain('FIELD.INVALID: district: contains a NUL character');
    const p = (await register({
      ...l.register,
      parties: [{ kind: events.PartyKind.PARTY_KIND_PERSON, name: '张\u0000三', identifier: '' }],
    })) as ServiceError;
    expect(p.details).toContain('parties[0].name');
  });

  it('refuses evidence recorded after the decision but dated at or before it: the decision stays one without evidence', async () => {
    const l = fullLoop(uniqueName('backdated'));
    const caseId = l.register.meta.caseId;
    const decidedAt = l.penalty.meta.occurredAt?.getTime() ?? 0;
    const evidenceAt = (at: number, commandId: string): intake.RecordProgressRequest => ({
      meta: nextMeta(caseId, { commandId, occurredAt: new Date(at) }),
      step: {
        $case: 'evidence',
        value: {
          ...(l.evidence.step?.value as events.EvidenceRecorded),
          collectedAt: new Date(at),
        },
      },
    });
    const acks = await submitAll(
      svc.client,
      agency,
      [
        { $case: 'registerCase', value: l.register },
        { $case: 'dispatchCase', value: l.dispatch },
        { $case: 'recordProgress', value: l.notice },
        { $case: 'recordProgress', value: l.hearing },
        { $case: 'decidePenalty', value: l.penalty },
        // Sent after the decision, dated the day before it.
        {
          $case: 'recordProgress',
          value: evidenceAt(decidedAt - 86_400_000, `${caseId}:backdated`),
        },
        { $case: 'recordProgress', value: evidenceAt(decidedAt, `${caseId}:at-decision`) },
        { $case: 'recordProgress', value: evidenceAt(decidedAt + 60_000, `${caseId}:after`) },
      ].map((kind, i) => ({ sequence: i + 1, command: { kind: kind as intake.Command['kind'] } })),
    );
    expect(acks.map((a) => [a.sequence, a.accepted, a.version, a.statusCode])).toEqual([
      [1, true, 1, 0],
      [2, true, 2, 0],
      [3, true, 3, 0],
      [4, true, 4, 0],
      [5, true, 5, 0],
      [6, false, 0, status.INVALID_ARGUMENT],
      [7, false, 0, status.INVALID_ARGUMENT],
      [8, true, 6, 0],
    ]);
    expect(acks[5]?.errorCode).toBe('TIME.BEFORE_PREVIOUS_STEP');
    expect(acks[5]?.reason).toBe(
      `meta.occurred_at: ${new Date(decidedAt - 86_400_000).toISOString()} is not after the penalty decision (${new Date(decidedAt).toISOString()}), which this evidence is recorded after`,
    );
    expect(acks[6]?.errorCode).toBe('TIME.BEFORE_PREVIOUS_STEP');
    // What the rules and the evidence indicator read: no evidence at or before the decision.
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, agency, cb),
    );
    expect(
      got.history
        .filter((e) => e.payload?.$case === 'evidenceRecorded')
        .map((e) => (e.occurredAt?.getTime() ?? 0) - decidedAt),
    ).toEqual([60_000]);
  });

  it("refuses the supervision rules' ids to every other kind of command, over a stream that goes on; the rules' own kind takes them", async () => {
    const l = fullLoop(uniqueName('kept'));
    const caseId = l.register.meta.caseId;
    const under = <T extends { meta: intake.CommandMeta }>(v: T, commandId: string): T => ({
      ...v,
      meta: { ...v.meta, commandId },
    });
    const commands: intake.Command['kind'][] = [
      { $case: 'registerCase', value: l.register },
      { $case: 'dispatchCase', value: under(l.dispatch, `overdue:${caseId}`) },
      {
        $case: 'dispatchCase',
        value: under(l.dispatch, `evaluate:supervision-score/v1:${caseId}`),
      },
      { $case: 'recordProgress', value: under(l.evidence, `escalate:auto-overdue:${caseId}:1`) },
      // Ids that only look like them are anybody's.
      { $case: 'dispatchCase', value: under(l.dispatch, `Overdue:${caseId}`) },
      { $case: 'recordProgress', value: under(l.evidence, `evidence-${caseId}`) },
    ];
    const acks = await submitAll(
      svc.client,
      agency,
      commands.map((kind, i) => ({ sequence: i + 1, command: { kind } })),
    );
    expect(acks.map((a) => [a.sequence, a.accepted, a.version, a.errorCode, a.statusCode])).toEqual(
      [
        [1, true, 1, '', 0],
        [2, false, 0, 'COMMAND.ID_RESERVED', status.INVALID_ARGUMENT],
        [3, false, 0, 'COMMAND.ID_RESERVED', status.INVALID_ARGUMENT],
        [4, false, 0, 'COMMAND.ID_RESERVED', status.INVALID_ARGUMENT],
        [5, true, 2, '', 0],
        [6, true, 3, '', 0],
      ],
    );
    expect(acks[1]?.reason).toBe(
      `meta.command_id: overdue:${caseId} is an id of the supervision rules, kept for their openSupervisionOrder (docs/scoring.md); choose another`,
    );
    expect(acks[3]?.reason).toContain('kept for their escalateSupervisionOrder');
    // A supervisor's order under a rule's id is the rules' kind: taken.
    const opened = await unary<intake.CommandResult>((cb) =>
      svc.client.openSupervisionOrder(
        {
          meta: nextMeta(caseId, {
            commandId: `overdue:${caseId}`,
            occurredAt: new Date((l.evidence.meta.occurredAt?.getTime() ?? 0) + 86_400_000),
          }),
          orderId: `auto-overdue:${caseId}`,
          reason: events.SupervisionReason.SUPERVISION_REASON_OVERDUE,
          note: '',
          responseDueAt: new Date(Date.now() + 7 * 86_400_000),
          ruleId: `overdue:${caseId}`,
        },
        supervisor,
        cb,
      ),
    );
    expect(opened).toMatchObject({ version: 4, duplicate: false });
  });

  it('refuses a command id reused for another payload, naming the original; an exact retry is still a duplicate', async () => {
    const l = fullLoop(uniqueName('idem'));
    const first = (await register(l.register)) as intake.CommandResult;
    expect(first.version).toBe(1);
    const retry = (await register({
      ...l.register,
      meta: { ...l.register.meta, expectedVersion: 0 },
    })) as intake.CommandResult;
    expect(retry).toMatchObject({ duplicate: true, version: 1 });
    const other = (await register({
      ...l.register,
      district: '城中区',
      title: '另一案',
    })) as ServiceError;
    expect(other.code).toBe(status.ALREADY_EXISTS);
    expect(other.details).toContain(
      `COMMAND.ID_REUSED: meta.command_id: command id ${l.register.meta.commandId} was already used on case ${l.register.meta.caseId}`,
    );
    const onAnotherStep = await unary((cb) =>
      svc.client.dispatchCase(
        { ...l.dispatch, meta: { ...l.dispatch.meta, commandId: l.register.meta.commandId } },
        agency,
        cb,
      ),
    ).catch((e: ServiceError) => e);
    expect((onAnotherStep as ServiceError).code).toBe(status.ALREADY_EXISTS);
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId: l.register.meta.caseId }, agency, cb),
    );
    expect(got.case).toMatchObject({ version: 1, district: '柳南区' });
  });

  // Until 2026-12-07 intake took a case's steps in any time order: a
  // conclusion dated before the decision it concludes (counted in time by
  // the deadline it missed), an answer dated before its order was opened
  // (counted answered on time), an evaluation before the conclusion.
  it('refuses a step dated before the step it follows, naming occurred_at; the stream goes on and the same step dated right is stored', async () => {
    const l = fullLoop(uniqueName('dated'));
    const caseId = l.register.meta.caseId;
    const dayBefore = (d: Date | undefined) => new Date((d?.getTime() ?? 0) - 86_400_000);
    const commands: intake.Command['kind'][] = [
      { $case: 'registerCase', value: l.register },
      { $case: 'dispatchCase', value: l.dispatch },
      { $case: 'recordProgress', value: l.notice },
      { $case: 'recordProgress', value: l.hearing },
      { $case: 'decidePenalty', value: l.penalty },
      {
        $case: 'concludeCase',
        value: {
          ...l.conclude,
          meta: { ...l.conclude.meta, occurredAt: dayBefore(l.penalty.meta.occurredAt) },
        },
      },
      // The same command (its id too), dated right: the refusal used nothing up.
      { $case: 'concludeCase', value: l.conclude },
    ];
    const acks = await submitAll(
      svc.client,
      agency,
      commands.map((kind, i) => ({ sequence: i + 1, command: { kind } })),
    );
    expect(acks.map((a) => [a.sequence, a.accepted, a.version])).toEqual([
      [1, true, 1],
      [2, true, 2],
      [3, true, 3],
      [4, true, 4],
      [5, true, 5],
      [6, false, 0],
      [7, true, 6],
    ]);
    expect(acks[5]).toMatchObject({
      errorCode: 'TIME.BEFORE_PREVIOUS_STEP',
      statusCode: status.INVALID_ARGUMENT,
    });
    expect(acks[5]?.reason).toContain('meta.occurred_at');
    expect(acks[5]?.reason).toContain(
      `is before the penalty decision (${l.penalty.meta.occurredAt?.toISOString()})`,
    );

    // A unary evaluation dated before the conclusion, beyond the five minutes
    // another party's clock may differ by.
    const concludedAt = l.conclude.meta.occurredAt?.getTime() ?? 0;
    const evaluate = (occurredAt: Date) =>
      unary<intake.CommandResult>((cb) =>
        svc.client.recordEvaluation(
          {
            meta: nextMeta(caseId, { occurredAt }),
            score: 90,
            modelVersion: 'v1',
            indicators: fullTimeliness(),
          },
          supervisor,
          cb,
        ),
      );
    const early = await evaluate(new Date(concludedAt - 6 * 60_000)).catch((e: ServiceError) => e);
    expect((early as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    expect((early as ServiceError).details).toContain(
      'TIME.BEFORE_PREVIOUS_STEP: meta.occurred_at:',
    );
    expect(await evaluate(new Date(concludedAt - 4 * 60_000))).toMatchObject({ version: 7 });

    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, agency, cb),
    );
    expect(got.case?.version).toBe(7);
    const concluded = got.history.find((e) => e.payload?.$case === 'caseConcluded');
    expect(concluded?.occurredAt).toEqual(l.conclude.meta.occurredAt);
  });

  it('refuses a deadline extended after it passed, FAILED_PRECONDITION naming the deadline; one granted before it is stored', async () => {
    const start = new Date(Date.now() - 120 * 86_400_000);
    const l = fullLoop(uniqueName('late-ext'), 'lz-eeb', start);
    const caseId = l.register.meta.caseId;
    await unary((cb) => svc.client.registerCase(l.register, agency, cb));
    await unary((cb) => svc.client.dispatchCase(l.dispatch, agency, cb));
    const deadline = statutoryDueAt(start);
    const extend = (days: number) =>
      unary<intake.CommandResult>((cb) =>
        svc.client.recordProgress(
          {
            meta: nextMeta(caseId, { occurredAt: new Date(start.getTime() + days * 86_400_000) }),
            step: {
              $case: 'extension',
              value: {
                newDueAt: new Date(start.getTime() + 150 * 86_400_000),
                reason: '案情复杂',
                approvedBy: '局长',
              },
            },
          },
          agency,
          cb,
        ),
      );
    const late = await extend(95).catch((e: ServiceError) => e);
    expect((late as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((late as ServiceError).details).toContain(
      `DEADLINE.ALREADY_PASSED: meta.occurred_at: the deadline ${deadline.toISOString()} passed before this extension`,
    );
    expect(await extend(89)).toMatchObject({ version: 3 });
  });

  // Intake stores ids without the white space at their ends, so a retry
  // that spells them otherwise asks for what was stored. Until the night of
  // 2026-12-06 it was judged as sent and refused COMMAND.ID_REUSED.
  it('takes a retry whose ids differ only by white space at their ends as a duplicate, and still refuses one that asks for more', async () => {
    const l = fullLoop(uniqueName('respelled'));
    const padded = (s: string) => ` ${s}\u3000`;
    const first = (await register({
      ...l.register,
      meta: { ...l.register.meta, caseId: padded(l.register.meta.caseId) },
      agencyId: padded(l.register.agencyId),
      district: padded(l.register.district),
    })) as intake.CommandResult;
    expect(first).toMatchObject({ duplicate: false, version: 1 });
    const retry = (await register({
      ...l.register,
      meta: { ...l.register.meta, commandId: padded(l.register.meta.commandId) },
    })) as intake.CommandResult;
    expect(retry).toMatchObject({ duplicate: true, version: 1 });
    const other = (await register({ ...l.register, title: '另一案' })) as ServiceError;
    expect(other.code).toBe(status.ALREADY_EXISTS);
    expect(other.details).toContain('COMMAND.ID_REUSED');
  });

  it('still takes an exact retry of a command stored before, whose fingerprint is the command as sent', async () => {
    const l = fullLoop(uniqueName('stored-before'));
    const sent: intake.RegisterCaseRequest = {
      ...l.register,
      meta: { ...l.register.meta, caseId: ` ${l.register.meta.caseId}` },
    };
    expect(await register(sent)).toMatchObject({ duplicate: false, version: 1 });
    // As a commit stored until the night of 2026-12-06 recorded it.
    await withMongo(async (m) => {
      const db = m.db(svc.db);
      const names = (await db.listCollections({}, { nameOnly: true }).toArray())
        .map((c) => c.name)
        .filter((n) => n.startsWith('commits'));
      const changed = await Promise.all(
        names.map((n) =>
          db.collection(n).updateOne(
            { caseId: l.register.meta.caseId, commandId: l.register.meta.commandId },
            {
              $set: {
                fingerprint: fingerprintOf({ kind: { $case: 'registerCase', value: sent } }),
              },
            },
          ),
        ),
      );
      expect(changed.reduce((n, r) => n + r.modifiedCount, 0)).toBe(1);
    });
    // A fresh instance, which reads the fingerprint from the store.
    const next = await startIntake({ db: svc.db, env: { INGRESS_ENABLED: 'false' } });
    try {
      const again = await unary<intake.CommandResult>((cb) =>
        next.client.registerCase(sent, agency, cb),
      );
      expect(again).toMatchObject({ duplicate: true, version: 1 });
      const other = await unary((cb) =>
        next.client.registerCase({ ...sent, title: '另一案' }, agency, cb),
      ).catch((e: ServiceError) => e);
      expect((other as ServiceError).code).toBe(status.ALREADY_EXISTS);
    } finally {
      await next.stop();
    }
  });

  it('refuses a field too large for the topic by name, and a request too large for the server, and keeps publishing', async () => {
    const l = fullLoop(uniqueName('big'));
    const big = (await register({ ...l.register, title: '大'.repeat(400_000) })) as ServiceError;
    expect(big.code).toBe(status.INVALID_ARGUMENT);
    expect(big.details).toMatch(
      /FIELD\.TOO_LARGE: title: has 1200000 bytes; the event would be \d+ bytes and the case-events topic takes at most 1000000/,
    );
    const huge = (await register({
      ...l.register,
      title: 'x'.repeat(5 * 1024 * 1024),
    })) as ServiceError;
    expect(huge.code).toBe(status.RESOURCE_EXHAUSTED);

    const ok = (await register(l.register)) as intake.CommandResult;
    expect(ok.version).toBe(1);
    await svc.service.relay.drain();
    expect(svc.service.relay.backlog).toBe(0);
    expect(svc.service.checkpoints.get(l.register.meta.caseId)?.version).toBe(1);
  });

  it('answers GetCase on a history larger than a client takes with the part that fits, and ReadStream serves the rest', async () => {
    const caseId = uniqueName('long');
    const l = fullLoop(caseId);
    await unary((cb) => svc.client.registerCase(l.register, agency, cb));
    await unary((cb) => svc.client.dispatchCase(l.dispatch, agency, cb));
    // Five pieces of evidence of 900 KB each: every event fits the topic, the history is 4.5 MB.
    const evidence = l.evidence.step.value;
    for (let i = 0; i < 5; i++)
      await unary((cb) =>
        svc.client.recordProgress(
          {
            meta: { ...l.evidence.meta, commandId: `${caseId}:ev${i}` },
            step: {
              $case: 'evidence',
              value: { ...evidence, evidenceId: `ev-${i}`, description: `${i}`.repeat(900_000) },
            },
          },
          agency,
          cb,
        ),
      );
    const read = async (fromVersion: number) => {
      const out: events.CaseEvent[] = [];
      for await (const r of svc.client.readStream(
        { caseId, fromVersion },
        agency,
      ) as AsyncIterable<intake.ReadStreamResponse>)
        if (r.event) out.push(r.event);
      return out;
    };
    const whole = await read(1);
    expect(whole.map((e) => e.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    // A client with grpc-js's default 4 MiB receive limit takes the answer.
    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, agency, cb),
    );
    // 3 MiB hold the registration, the dispatch and three of the five.
    expect(got.history.map((e) => e.version)).toEqual([1, 2, 3, 4, 5]);
    expect(got.historyNextVersion).toBe(6);
    // The view and the integrity check cover the whole history.
    expect(got.case?.version).toBe(7);
    expect(got.integrity).toMatchObject({ valid: true, eventCount: 7 });
    const rest = await read(got.historyNextVersion);
    expect([...got.history, ...rest]).toEqual(whole);

    // A history that fits is whole, and says so.
    const small = uniqueName('short');
    await unary((cb) => svc.client.registerCase(fullLoop(small).register, agency, cb));
    const one = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId: small }, agency, cb),
    );
    expect(one.history).toHaveLength(1);
    expect(one.historyNextVersion).toBe(0);
  });
});

describe('GetCase with a history limit below one event', () => {
  let svc: TestIntake;
  beforeAll(async () => {
    svc = await startIntake({
      env: { INGRESS_ENABLED: 'false', GET_CASE_HISTORY_BYTES: '1024' },
    });
  });
  afterAll(() => svc?.stop());

  it('answers the view and the integrity check with no events, names version 1, and ReadStream serves them', async () => {
    const agency = await tokenFor(['agency'], ['lz-eeb']);
    const caseId = uniqueName('wide');
    const l = fullLoop(caseId);
    await unary((cb) =>
      svc.client.registerCase({ ...l.register, title: '标'.repeat(1_000) }, agency, cb),
    );
    await unary((cb) => svc.client.dispatchCase(l.dispatch, agency, cb));

    const got = await unary<intake.GetCaseResponse>((cb) =>
      svc.client.getCase({ caseId }, agency, cb),
    );
    expect(got.history).toEqual([]);
    expect(got.historyNextVersion).toBe(1);
    expect(got.case?.version).toBe(2);
    expect(got.integrity).toMatchObject({ valid: true, eventCount: 2 });
    const streamed: events.CaseEvent[] = [];
    for await (const r of svc.client.readStream(
      { caseId, fromVersion: got.historyNextVersion },
      agency,
    ) as AsyncIterable<intake.ReadStreamResponse>)
      if (r.event) streamed.push(r.event);
    expect(streamed.map((e) => e.version)).toEqual([1, 2]);
  });
});
