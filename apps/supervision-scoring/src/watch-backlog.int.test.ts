import { afterEach, describe, expect, it } from 'vitest';
import { credentials, status, type ClientReadableStream, type Metadata } from '@grpc/grpc-js';
import { scoring } from '@enforcement/contracts';
import { eventually, uniqueName } from '@enforcement/testing';
import { caseEvents } from './test-support/events.js';
import { publish, startScoring, tokenFor, type TestScoring } from './test-support/harness.js';

/** Cases scored while a watcher does not read: far more than its connection holds for it. */
const CASES = 400;

type Ended = Error & { code?: number; details?: string };

/**
 * A watcher that stops reading (a frozen page, a client paused) used to
 * have every update since kept for it in scoring's memory, however many.
 * Now its watch gets no more, and ends RESOURCE_EXHAUSTED after the
 * updates already waiting, once they have waited WATCH_STALL_MS undrained
 * or WATCH_BACKLOG_MAX of them wait; a watcher that reads, given the same
 * bursts, gets every update.
 */
describe('a watcher that does not read', () => {
  const running: TestScoring[] = [];
  const clients: scoring.ScoringServiceClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  /** A scoring with `env`, a supervisor's token, and a watch opened on a connection of its own. */
  const setUp = async (env: Record<string, string>) => {
    const svc = await startScoring({ env });
    running.push(svc);
    const supervisor: Metadata = await tokenFor(['supervisor']);
    const agencyId = uniqueName('backlog-ag');
    const watch = () => {
      // Its own connection, whose window takes a few KiB: what it leaves
      // unread holds up no other watch, and soon waits at scoring.
      const own = new scoring.ScoringServiceClient(
        svc.service.address,
        credentials.createInsecure(),
        { 'grpc.use_local_subchannel_pool': 1, 'grpc-node.flow_control_window': 4_096 },
      );
      clients.push(own);
      const call = own.watchScores({ agencyId, district: '' }, supervisor);
      const got: string[] = [];
      let endedWith: Ended | undefined;
      const ended = new Promise<Ended>((resolve) =>
        call.on('error', (e: Ended) => resolve((endedWith = e))),
      );
      call.on('data', (r: scoring.WatchScoresResponse) => r.score && got.push(r.score.caseId));
      const subscribed = new Promise<void>((resolve) => call.on('metadata', () => resolve()));
      return { call, got, ended, subscribed, endedWith: () => endedWith };
    };
    /** Publishes CASES cases' events, and resolves once scoring has applied (and told) them all. */
    let applied = 0;
    const scoreMany = async (batch = 'a') => {
      const all = Array.from({ length: CASES }, (_, i) => `${agencyId}-${batch}${i}`).flatMap(
        (caseId) => caseEvents({ caseId, agencyId }),
      );
      applied += all.length;
      await publish(svc.topics.caseEvents, all);
      const { stats } = svc.service.runtime.consumer;
      await eventually(() => (stats.applied + stats.duplicates >= applied ? true : undefined), {
        what: `scoring to apply ${applied} events`,
        timeoutMs: 60_000,
      });
    };
    return { svc, watch, scoreMany, agencyId };
  };

  /** Read again: what was waiting, then the end (or, within 30 s, none). */
  const readAgain = async (w: { call: ClientReadableStream<unknown>; ended: Promise<Ended> }) => {
    w.call.resume();
    return Promise.race([
      w.ended,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000)),
    ]);
  };

  it('ends once its updates have waited undrained for WATCH_STALL_MS, while a watcher that reads gets every update', async () => {
    const { watch, scoreMany, agencyId, svc } = await setUp({
      WATCH_STALL_MS: '2000',
    });
    const stuck = watch();
    const reader = watch();
    await Promise.all([stuck.subscribed, reader.subscribed]);
    stuck.call.pause();
    await scoreMany('a');
    // Long past the stall: what comes now is not kept for the paused watcher.
    await new Promise((r) => setTimeout(r, 4_000));
    await scoreMany('b');
    await eventually(() => (new Set(reader.got).size === 2 * CASES ? true : undefined), {
      what: `the reading watcher's updates of all ${2 * CASES} cases`,
      timeoutMs: 60_000,
    });
    // The reader, through the same bursts, is still watched.
    expect(reader.endedWith()).toBeUndefined();

    const end = await readAgain(stuck);
    expect(end).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(
        /^WATCH\.BEHIND: \d+ updates waited for this watch to read them, undrained for 2000 ms; it gets no more\. Watch again/,
      ),
    });
    // What was waiting when it fell behind, each once; nothing after.
    expect(stuck.got.length).toBeGreaterThan(0);
    expect(new Set(stuck.got).size).toBe(stuck.got.length);
    expect(stuck.got.filter((id) => id.startsWith(`${agencyId}-b`))).toEqual([]);

    // Watching again gets what changes from then on.
    const again = watch();
    await again.subscribed;
    const later = `${agencyId}-later`;
    await publish(svc.topics.caseEvents, caseEvents({ caseId: later, agencyId }));
    await eventually(() => (again.got.includes(later) ? true : undefined), {
      what: 'the update on the watch opened again',
    });
  });

  it('ends at once when WATCH_BACKLOG_MAX updates wait, whatever the time', async () => {
    const { watch, scoreMany } = await setUp({
      WATCH_STALL_MS: '600000',
      WATCH_BACKLOG_MAX: '20',
    });
    const stuck = watch();
    await stuck.subscribed;
    stuck.call.pause();
    await scoreMany();
    const end = await readAgain(stuck);
    expect(end).toMatchObject({
      code: status.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(
        /^WATCH\.BEHIND: 20 updates were waiting for this watch to read them; it gets no more/,
      ),
    });
    expect(stuck.got.length).toBeLessThan(CASES);
  });
});
