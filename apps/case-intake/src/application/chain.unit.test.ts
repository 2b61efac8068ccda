import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { events } from '@enforcement/contracts';
import { hashEvent, verifyChain } from './chain.js';
import type { ChainKeys } from './chain-keys.js';

const keys: ChainKeys = {
  current: 'k1',
  keys: new Map([['k1', Buffer.alloc(32, 7)]]),
  acceptUnkeyed: false,
};

/** A case's chain as intake writes it: each event hashed under the key over the one before. */
function chain(caseId: string, fines: readonly number[]): events.CaseEvent[] {
  let prev = '';
  return fines.map((fineFen, i) => {
    const e: events.CaseEvent = {
      ...events.CaseEvent.fromPartial({
        eventId: `${caseId}-${i + 1}`,
        caseId,
        version: i + 1,
        position: 100 + i,
        agencyId: 'lz-eeb',
        chainKeyId: 'k1',
        prevHash: prev,
      }),
      payload: {
        $case: 'penaltyDecided',
        value: events.PenaltyDecided.fromPartial({ fineFen, violationCode: 'v' }),
      },
    };
    e.hash = hashEvent(e, prev, keys);
    prev = e.hash;
    return e;
  });
}

const fines = fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 12 });

describe('verifyChain, over chains of any length', () => {
  it('passes a chain as written, ending at its last hash', () =>
    fc.assert(
      fc.property(fines, (f) => {
        const evs = chain('c-1', f);
        expect(verifyChain({ caseId: 'c-1', events: evs }, keys)).toMatchObject({
          valid: true,
          headHash: evs.at(-1)?.hash,
        });
      }),
    ));

  it('fails a chain copied whole under another case id, at version 1', () =>
    fc.assert(
      fc.property(fines, (f) => {
        const check = verifyChain({ caseId: 'c-2', events: chain('c-1', f) }, keys);
        expect(check).toMatchObject({
          valid: false,
          firstBadVersion: 1,
          problem: 'version 1 is an event of case c-1, not of c-2',
        });
      }),
    ));

  it('fails at the event edited, at its version and position', () =>
    fc.assert(
      fc.property(
        fines.chain((f) => fc.tuple(fc.constant(f), fc.nat({ max: f.length - 1 }))),
        fc.integer({ min: 1, max: 1_000 }),
        ([f, at], delta) => {
          const evs = chain('c-1', f).map((e, i) =>
            i === at && e.payload?.$case === 'penaltyDecided'
              ? {
                  ...e,
                  payload: {
                    ...e.payload,
                    value: { ...e.payload.value, fineFen: e.payload.value.fineFen + delta },
                  },
                }
              : e,
          );
          expect(verifyChain({ caseId: 'c-1', events: evs }, keys)).toMatchObject({
            valid: false,
            firstBadVersion: at + 1,
            firstBadPosition: 100 + at,
          });
        },
      ),
    ));

  it('fails at a commit that cannot be read, after the versions before it verify, and not before an earlier break', () =>
    fc.assert(
      fc.property(
        fines.chain((f) => fc.tuple(fc.constant(f), fc.nat({ max: f.length - 1 }))),
        fc.boolean(),
        ([f, at], earlierEdit) => {
          const evs = chain('c-1', f).slice(0, at);
          const unreadable = {
            caseId: 'c-1',
            version: at + 1,
            position: 100 + at,
            problem: `the stored events of version ${at + 1} do not decode: x`,
          };
          const edited =
            earlierEdit && at > 0
              ? evs.map((e, i) => (i === 0 ? { ...e, agencyId: 'other' } : e))
              : evs;
          const check = verifyChain({ caseId: 'c-1', events: edited, unreadable }, keys);
          expect(check.valid).toBe(false);
          if (earlierEdit && at > 0) expect(check.firstBadVersion).toBe(1);
          else
            expect(check).toMatchObject({
              firstBadVersion: at + 1,
              firstBadPosition: 100 + at,
              problem: unreadable.problem,
              headHash: evs.at(-1)?.hash ?? '',
            });
        },
      ),
    ));
});
