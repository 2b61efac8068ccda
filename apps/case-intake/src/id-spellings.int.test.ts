import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import fc from 'fast-check';
import type { intake } from '@enforcement/contracts';
import { uniqueName } from '@enforcement/testing';
import { fullLoop, nextMeta } from './test-support/commands.js';
import {
  startIntake,
  submitAll,
  tokenFor,
  unary,
  type TestIntake,
} from './test-support/harness.js';

type Kind = NonNullable<intake.Command['kind']>;

/** How many histories a run tries (`ID_SPELLINGS_RUNS`; 10 in `npm test`). */
const RUNS = Number(process.env.ID_SPELLINGS_RUNS ?? 10);

/** White space a client may leave at an id's ends and intake takes as printable. */
const padding = fc.string({
  unit: fc.constantFrom(' ', '\u3000', '\u00a0', '\u2003'),
  maxLength: 2,
});

/** A case's whole loop, with an inspection, an order answered and a reconsideration, as `spell` writes each id. */
function loopOf(caseId: string, start: Date, spell: (id: string) => string): Kind[] {
  const x = fullLoop(caseId, 'lz-eeb', start);
  const dispatchedAt = x.dispatch.meta.occurredAt ?? new Date();
  const meta = (m: intake.CommandMeta): intake.CommandMeta => ({ ...m, caseId: spell(m.caseId) });
  return [
    {
      $case: 'registerCase',
      value: {
        ...x.register,
        meta: meta(x.register.meta),
        agencyId: spell(x.register.agencyId),
        district: spell(x.register.district),
        violationCode: spell(x.register.violationCode),
      },
    },
    {
      $case: 'dispatchCase',
      value: {
        ...x.dispatch,
        meta: meta(x.dispatch.meta),
        unitId: spell(x.dispatch.unitId),
        officers: x.dispatch.officers.map((o) => ({
          ...o,
          officerId: spell(o.officerId),
          credentialNo: spell(o.credentialNo),
        })),
      },
    },
    {
      $case: 'recordProgress',
      value: {
        meta: meta(nextMeta(caseId, { occurredAt: new Date(dispatchedAt.getTime() + 3_600_000) })),
        step: {
          $case: 'inspection',
          value: { location: '厂区', findings: '超标', officerIds: ['off-2', 'off-1'].map(spell) },
        },
      },
    },
    {
      $case: 'recordProgress',
      value: {
        ...x.evidence,
        meta: meta(x.evidence.meta),
        step: {
          $case: 'evidence',
          value: {
            ...x.evidence.step.value,
            evidenceId: spell(x.evidence.step.value.evidenceId),
            collectedBy: spell(x.evidence.step.value.collectedBy),
          },
        },
      },
    },
    ...(() => {
      const at = (x.evidence.meta.occurredAt ?? new Date()).getTime();
      const orderMeta = (hours: number) =>
        meta(nextMeta(caseId, { occurredAt: new Date(at + hours * 3_600_000) }));
      return [
        {
          $case: 'openSupervisionOrder',
          value: {
            meta: orderMeta(1),
            orderId: spell('o-1'),
            reason: 1,
            note: '请说明',
            responseDueAt: new Date(at + 5 * 86_400_000),
            ruleId: spell('by-hand'),
          },
        },
        {
          $case: 'answerSupervisionOrder',
          value: { meta: orderMeta(2), orderId: spell('o-1'), answer: '已整改' },
        },
      ] satisfies Kind[];
    })(),
    ...(
      [
        ['recordProgress', x.notice],
        [
          'recordProgress',
          {
            ...x.hearing,
            step: {
              $case: 'hearing',
              value: {
                ...x.hearing.step.value,
                presidedBy: spell(x.hearing.step.value.presidedBy),
              },
            },
          },
        ],
        ['recordProgress', x.review],
        ['decidePenalty', { ...x.penalty, violationCode: spell(x.penalty.violationCode) }],
        ['concludeCase', x.conclude],
      ] as const
    ).map(([$case, value]) => ({ $case, value: { ...value, meta: meta(value.meta) } }) as Kind),
    {
      $case: 'fileReconsideration',
      value: {
        meta: meta(nextMeta(`R-${caseId}`)),
        kind: 1,
        enforcementCaseId: spell(caseId),
        respondentAgencyId: spell(x.register.agencyId),
        applicant: '某化工有限公司',
        district: spell(x.register.district),
        domain: x.register.domain,
        claims: '处罚过重',
      },
    },
  ];
}

/**
 * A client may leave white space at the ends of any id it sends. Intake
 * stores every id without it, so whatever the spelling, a case's history is
 * the one the same commands give spelled plainly: the same steps, the same
 * facts, every command accepted, an order answered by the id it was opened
 * with, a reconsideration of the case it names.
 * Until the evening of 2026-12-06 an officer or an item of evidence kept its
 * spelling, a case's commands spelled otherwise left its line, a
 * registration or a reconsideration spelled otherwise was refused, and a
 * new case's first event named its agency as sent (this property found it).
 */
describe('ids with white space at their ends', () => {
  let svc: TestIntake;
  let md: Metadata;
  beforeAll(async () => {
    svc = await startIntake();
    md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
  });
  afterAll(() => svc?.stop());

  const history = async (caseId: string) =>
    (
      await unary<intake.GetCaseResponse>((cb) => svc.client.getCase({ caseId }, md, cb))
    ).history.map((e) => ({ agencyId: e.agencyId, caseType: e.caseType, payload: e.payload }));

  it('give every case the history its plain spelling gives', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(padding, padding), { minLength: 1, maxLength: 40 }),
        async (pads) => {
          const plain = uniqueName('plain');
          const spelled = uniqueName('spelled');
          let n = 0;
          const spell = (id: string) => {
            const [before, after] = pads[n++ % pads.length] ?? ['', ''];
            return `${before}${id}${after}`;
          };
          const start = new Date(Date.now() - 40 * 86_400_000);
          const kinds = [...loopOf(plain, start, (id) => id), ...loopOf(spelled, start, spell)];
          const acks = await submitAll(
            svc.client,
            md,
            kinds.map((kind, i) => ({ sequence: i + 1, command: { kind } })),
          );
          expect(acks.filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`)).toEqual(
            [],
          );
          expect(await history(spelled)).toEqual(await history(plain));
          const [filed] = await history(`R-${spelled}`);
          expect(filed?.agencyId).toBe('lz-eeb');
          const p = filed?.payload;
          expect(p?.$case === 'reconsiderationFiled' && p.value.enforcementCaseId).toBe(spelled);
        },
      ),
      { numRuns: RUNS },
    );
  }, 300_000);
});
