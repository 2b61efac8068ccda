import { createHash } from 'node:crypto';
import { events } from '@enforcement/contracts';
import { Binary } from 'mongodb';
import type { MongoEventStore } from '../adapters/mongo/event-store.js';

/**
 * What someone who can write the database but holds no chain key can do:
 * decode the stored events with the public proto (a commit's `body` is a
 * `CaseEventList`), change them, and recompute every hash with SHA-256 the
 * way an unkeyed chain would.
 */
export function rechain(evs: events.CaseEvent[], o: { dropKeyId: boolean }): events.CaseEvent[] {
  let prev = evs[0]?.prevHash ?? '';
  return evs.map((e) => {
    const next = { ...e, prevHash: prev, chainKeyId: o.dropKeyId ? '' : e.chainKeyId };
    const canonical = events.CaseEvent.encode({ ...next, hash: '', position: 0 }).finish();
    next.hash = createHash('sha256').update(prev, 'utf8').update(canonical).digest('hex');
    prev = next.hash;
    return next;
  });
}

const encoded = (evs: events.CaseEvent[]) =>
  new Binary(events.CaseEventList.encode({ events: evs }).finish());

/** The stored commit documents of a case, in version order, and a way to write them back. */
export async function storedCommits(store: MongoEventStore, caseId: string) {
  const col = store.commits.for(caseId);
  const docs = (await col.find({ caseId }).toArray()).sort((a, b) => a.fromVersion - b.fromVersion);
  return {
    docs,
    events: docs.flatMap((d) => (d.body ? events.CaseEventList.decode(d.body.buffer).events : [])),
    /** Rewrites every commit from the events given (same split as stored). */
    async rewrite(evs: events.CaseEvent[]) {
      for (const d of docs) {
        const mine = evs.filter((e) => e.version >= d.fromVersion && e.version <= d.toVersion);
        await col.updateOne({ _id: d._id }, { $set: { body: encoded(mine) } });
      }
    },
    /** Puts bytes of the attacker's choosing in place of a commit's events. */
    overwrite: (fromVersion: number, bytes: Uint8Array) =>
      col.updateOne({ _id: `${caseId}:${fromVersion}` }, { $set: { body: new Binary(bytes) } }),
    remove: (fromVersion: number) => col.deleteOne({ _id: `${caseId}:${fromVersion}` }),
    removeAll: () => col.deleteMany({ caseId }),
    async append(e: events.CaseEvent) {
      const last = docs.at(-1);
      if (!last) throw new Error(`no commits of ${caseId} to copy`);
      await col.insertOne({
        ...last,
        _id: `${caseId}:${e.version}`,
        fromVersion: e.version,
        toVersion: e.version,
        position: e.position,
        lastPosition: e.position,
        body: encoded([e]),
      });
    },
  };
}
