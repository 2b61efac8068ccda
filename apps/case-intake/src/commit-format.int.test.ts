import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Binary } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metadata } from '@grpc/grpc-js';
import { events, type intake } from '@enforcement/contracts';
import { repoRoot, stack, uniqueName } from '@enforcement/testing';
import { MongoEventStore } from './adapters/mongo/event-store.js';
import { commitOf } from './adapters/mongo/commits.test-support.js';
import { fullLoop } from './test-support/commands.js';
import {
  startIntake,
  storeAdmin,
  tokenFor,
  unary,
  withMongo,
  type TestIntake,
} from './test-support/harness.js';

interface StoredCommit {
  _id: string;
  caseId: string;
  fromVersion: number;
  body?: unknown;
  events?: unknown[];
}

/**
 * Rolling back below commit format 2: `npm run store -- downgrade-commits`
 * rewrites the commits this version stored as bytes into the JSON a version
 * before it reads (`events`, one document per event), with the same events,
 * so the chain still verifies; and this version, started again, goes on.
 */
describe('downgrading the commit format for a rollback', () => {
  let svc: TestIntake | undefined;
  let agency: Metadata;
  let supervisor: Metadata;
  const db = uniqueName('downgrade').replace(/-/g, '_');
  const caseId = uniqueName('case');
  const l = fullLoop(caseId);

  beforeAll(async () => {
    agency = await tokenFor(['agency'], ['lz-eeb']);
    supervisor = await tokenFor(['supervisor']);
  });
  afterAll(async () => {
    await svc?.stop();
    await withMongo((c) => c.db(db).dropDatabase());
  });

  const commits = () =>
    withMongo(async (c) => {
      const all: StoredCommit[] = [];
      for (const { name } of await c.db(db).listCollections().toArray())
        if (name.startsWith('commits'))
          all.push(...(await c.db(db).collection<StoredCommit>(name).find({}).toArray()));
      return all.sort((a, b) => a.fromVersion - b.fromVersion);
    });
  const format = () =>
    withMongo(
      async (c) =>
        (
          await c
            .db(db)
            .collection<{ _id: string; commitFormat?: number }>('store_meta')
            .findOne({ _id: 'layout' })
        )?.commitFormat,
    );

  it('rewrites format-2 commits as the JSON an earlier version reads, and this version goes on', async () => {
    const s = await startIntake({ db });
    svc = s;
    await unary((cb) => s.client.registerCase(l.register, agency, cb));
    await unary((cb) => s.client.dispatchCase(l.dispatch, agency, cb));
    await unary((cb) => s.client.recordProgress(l.evidence, agency, cb));
    const before = await unary<intake.GetCaseResponse>((cb) =>
      s.client.getCase({ caseId }, supervisor, cb),
    );
    await s.stop();
    svc = undefined;
    expect((await commits()).every((c) => c.body !== undefined && c.events === undefined)).toBe(
      true,
    );
    expect(await format()).toBe(2);

    // A mistyped database is refused and left alone.
    const typo = await storeAdmin(['downgrade-commits', '--db', `${db}_typo`], {});
    expect(typo.code).toBe(65);
    expect(typo.stderr).toContain('not an event store');

    const r = await storeAdmin(['downgrade-commits', '--db', db], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rewrote 3 commits');
    const rewritten = await commits();
    expect(rewritten).toHaveLength(3);
    expect(rewritten.every((c) => c.body === undefined && Array.isArray(c.events))).toBe(true);
    // What a version before format 2 does with a commit: each event from its JSON.
    const read = rewritten.flatMap((c) =>
      (c.events ?? []).map((e) => events.CaseEvent.fromJSON(e)),
    );
    expect(read.map((e) => e.hash)).toEqual(before.history.map((e) => e.hash));
    expect(read.map((e) => e.payload?.$case)).toEqual(before.history.map((e) => e.payload?.$case));
    expect(await format()).toBe(1);
    // Run again, it has nothing left to do.
    expect((await storeAdmin(['downgrade-commits', '--db', db], {})).stdout).toContain(
      'rewrote 0 commits',
    );

    // This version, started again, reads the JSON commits and writes bytes again.
    const again = await startIntake({ db });
    svc = again;
    const verified = await unary<intake.VerifyCaseResponse>((cb) =>
      again.client.verifyCase({ caseId }, supervisor, cb),
    );
    expect(verified.valid).toBe(true);
    const next = await unary<intake.CommandResult>((cb) =>
      again.client.recordProgress(l.notice, agency, cb),
    );
    expect(next.version).toBe(before.history.length + 1);
    expect(await format()).toBe(2);
    const last = (await commits()).at(-1);
    expect(last?.body).toBeDefined();
  });

  it('leaves a commit whose bytes do not decode as it is, names it, and keeps format 2 recorded', async () => {
    await svc?.stop();
    svc = undefined;
    // Version 4, stored as bytes by the test above, overwritten by a database writer.
    const garbled = `${caseId}:4`;
    await withMongo(async (c) => {
      for (const { name } of await c.db(db).listCollections().toArray())
        if (name.startsWith('commits'))
          await c
            .db(db)
            .collection<StoredCommit>(name)
            .updateOne({ _id: garbled }, { $set: { body: new Binary(Buffer.from('garbage')) } });
    });
    const r = await storeAdmin(['downgrade-commits', '--db', db], {});
    expect(r.code).toBe(65);
    expect(r.stderr).toContain(`the stored bytes of 1 do not decode (${garbled})`);
    expect(r.stderr).toContain('stays at commit format 2');
    // An earlier version would fail on it: format 1 is not claimed, and the commit is as it was.
    expect(await format()).toBe(2);
    const after = await commits();
    expect(after.find((c) => c._id === garbled)?.body).toBeDefined();
    expect(after.filter((c) => c._id !== garbled).every((c) => Array.isArray(c.events))).toBe(true);
  });
});

/**
 * An operator's downgrade killed half-way (a lost session, a node drained):
 * what it rewrote stays rewritten, the store still claims format 2, and the
 * next run rewrites the rest and only then claims format 1.
 */
describe('a downgrade stopped half-way', () => {
  const db = uniqueName('halfway').replace(/-/g, '_');
  const cases = Array.from({ length: 300 }, (_, i) => `halfway-${i}`);
  const versions = 10;
  afterAll(() => withMongo((c) => c.db(db).dropDatabase()));

  const stored = () =>
    withMongo(async (c) => {
      let json = 0;
      let bytes = 0;
      for (const { name } of await c.db(db).listCollections().toArray())
        if (name.startsWith('commits')) {
          const col = c.db(db).collection(name);
          json += await col.countDocuments({ events: { $exists: true } });
          bytes += await col.countDocuments({ body: { $exists: true } });
        }
      const layout = await c
        .db(db)
        .collection<{ _id: string; commitFormat?: number }>('store_meta')
        .findOne({ _id: 'layout' });
      return { json, bytes, format: layout?.commitFormat };
    });

  it('keeps what it rewrote, claims format 1 only once a later run has rewritten the rest', async () => {
    await withMongo(async (c) => {
      const store = new MongoEventStore(c.db(db), { buckets: 8, positionBlock: 500 });
      await store.init();
      for (let v = 1; v <= versions; v++)
        await Promise.all(cases.map((id) => store.append(commitOf(id, v, 1))));
    });
    const total = cases.length * versions;
    expect(await stored()).toEqual({ json: 0, bytes: total, format: 2 });

    // Killed once it reports 1,000 commits rewritten.
    const child = spawn(
      process.execPath,
      [join(repoRoot(), 'apps/case-intake/dist/store-admin.js'), 'downgrade-commits', '--db', db],
      { env: { ...process.env, MONGODB_URI: stack().mongoUri }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let progress = '';
    const exit = await new Promise<NodeJS.Signals | number | null>((resolve) => {
      child.stderr.on('data', (b: Buffer) => {
        progress += String(b);
        if (progress.includes('1000 commits rewritten')) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => resolve(signal ?? code));
    });
    expect(exit).toBe('SIGKILL');
    const half = await stored();
    expect(half.json).toBeGreaterThanOrEqual(1_000);
    expect(half.bytes).toBeGreaterThan(0);
    expect(half.json + half.bytes).toBe(total);
    expect(half.format).toBe(2);

    const again = await storeAdmin(['downgrade-commits', '--db', db], {});
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`rewrote ${half.bytes} commits`);
    expect(await stored()).toEqual({ json: total, bytes: 0, format: 1 });

    // Every case reads back whole, the same events as were appended.
    await withMongo(async (c) => {
      const store = new MongoEventStore(c.db(db), { buckets: 8, positionBlock: 500 });
      for (const id of cases.slice(0, 50)) {
        const { events: evs, unreadable } = await store.load(id, versions);
        expect(unreadable).toBeUndefined();
        expect(evs.map((e) => e.eventId)).toEqual(
          Array.from({ length: versions }, (_, v) => commitOf(id, v + 1, 1).events[0]?.eventId),
        );
      }
    });
  });
});
