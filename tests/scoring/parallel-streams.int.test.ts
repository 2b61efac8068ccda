import { afterEach, describe, expect, it } from 'vitest';
import { credentials, type Metadata } from '@grpc/grpc-js';
import { intake, scoring } from '@enforcement/contracts';
import { generateYear, reconsiderationsOf } from '@enforcement/generator';
import { tokenFor, unary, uniqueName } from '@enforcement/testing';
import { caseOf, expectEndOfLoad } from '../support/end-of-load.js';
import { startSystem, type System } from '../support/services.js';
import { submitAll } from '../support/submit.js';
import { caughtUp, startWholeSystem } from '../support/whole-system.js';

const YEAR = 2021;

/** Sends `commands` over one open SubmitEvents stream; `send` more, then `end` it. */
function openStream(client: intake.CaseIntakeServiceClient, md: Metadata) {
  const call = client.submitEvents(md);
  const acks: intake.SubmitEventsResponse[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  let sequence = 0;
  let failed: Error | undefined;
  call.on('data', (a: intake.SubmitEventsResponse) => {
    acks.push(a);
    for (const w of waiting.filter((x) => acks.length >= x.count)) w.resolve();
  });
  call.on('error', (e: Error) => (failed = e));
  const answered = (count: number) =>
    acks.length >= count
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiting.push({ count, resolve }));
  return {
    acks,
    /** Writes `commands` and resolves once every one so far is answered. */
    async send(commands: readonly intake.Command[]): Promise<void> {
      for (const command of commands)
        if (!call.write({ sequence: ++sequence, command }))
          await new Promise((r) => call.once('drain', r));
      await answered(sequence);
      if (failed) throw failed;
    },
    end: () => call.end(),
    /** Its sender gives it up without ending it (a client cancelled, its process gone). */
    cancel: () => call.cancel(),
  };
}

/**
 * A loader that splits one agency's history by case over two SubmitEvents
 * streams at once, each in time order, one far slower than the other: the
 * fast one's time must not judge the cases the slow one has not sent yet.
 * Until 2026-12-07 each stream's events carried floors of their own, so
 * every agency was judged up to the fast stream's time, and cases the slow
 * stream concluded in time got OVERDUE orders.
 */
/**
 * A generated year split by case over `slowStreams` + 1 streams, each in
 * time order: each agency's cases taken in turn, so each stream sends every
 * agency from early in the year. Slow stream i pauses (i + 1) / (slowStreams
 * + 2) of the way in, once it has sent every agency; the last part is the
 * fast stream's. `before`, `after` and `pausedAt` are the first slow stream's.
 */
function splitYear(seed: string, slowStreams = 1) {
  const commands = [
    ...generateYear({
      seed,
      year: YEAR,
      cases: 150,
      // Enforcement cases only: each stream sends whole cases.
      reconsideration: reconsiderationsOf(0),
      prefix: uniqueName('PS'),
    }).stream(),
  ];
  const agencyOf = new Map(
    commands.flatMap((c) =>
      c.kind?.$case === 'registerCase' ? [[caseOf(c), c.kind.value.agencyId] as const] : [],
    ),
  );
  const turn = new Map<string, number>();
  const partOf = new Map<string, number>();
  for (const c of commands) {
    if (c.kind?.$case !== 'registerCase') continue;
    const agency = c.kind.value.agencyId;
    const n = turn.get(agency) ?? 0;
    turn.set(agency, n + 1);
    partOf.set(caseOf(c), n % (slowStreams + 1));
  }
  const part = (i: number) => commands.filter((c) => partOf.get(caseOf(c)) === i);
  const agenciesIn = (list: readonly intake.Command[]) =>
    new Set(list.map((c) => agencyOf.get(caseOf(c)) ?? ''));
  const slows = Array.from({ length: slowStreams }, (_, i) => {
    const slow = part(i);
    let pause = Math.floor((slow.length * (i + 1)) / (slowStreams + 2));
    while (agenciesIn(slow.slice(0, pause)).size < agenciesIn(commands).size) pause++;
    const before = slow.slice(0, pause);
    return {
      before,
      after: slow.slice(pause),
      pausedAt: Math.max(...before.map((c) => c.kind?.value.meta?.occurredAt?.getTime() ?? 0)),
    };
  });
  const [first] = slows;
  if (!first) throw new Error('splitYear: at least one slow stream');
  return { commands, fast: part(slowStreams), slows, ...first };
}

describe('one feed over two streams at once, one paused (RULES_CLOCK=events)', () => {
  let sys: System | undefined;
  afterEach(async () => {
    await sys?.stop();
    sys = undefined;
  });

  /**
   * Each slow stream's part up to its pause sent over its client in
   * `slowClients`, left open, and the fast stream's whole over the system's
   * own intake; then the rest, one slow stream at a time: no agency is
   * judged past the earliest stream still paused, and, once all end, every
   * agency is judged
   * up to its latest event with exactly the actions the plan dates before
   * it (none a later fact takes away: the order list flags none).
   */
  const pausedThenResumed = async (
    s: System,
    slowClients: readonly intake.CaseIntakeServiceClient[],
    seed: string,
  ) => {
    const md = await tokenFor(['agency', 'supervisor', 'reporting'], ['*']);
    const { commands, fast, slows } = splitYear(seed, slowClients.length);

    // They all start together.
    const slowStreams = slowClients.map((client) => openStream(client, md));
    const fastDone = submitAll(s.intakeClient, md, fast);
    await Promise.all(slows.map((p, i) => slowStreams[i]?.send(p.before)));
    const fastAcks = await fastDone;
    // The slow streams end one at a time, the earliest paused first: while
    // any is paused, no agency is judged past the earliest of those.
    for (const [k, resumed] of slows.entries()) {
      const paused = Math.min(...slows.slice(k).map((p) => p.pausedAt));
      await caughtUp(s, md, YEAR, new Date());
      // Rule passes run on what the streams stored (every 500 ms).
      await new Promise((r) => setTimeout(r, 3_000));
      const judged = (await s.scoring.runtime.rulesStatus()).agencies;
      expect(judged.length).toBeGreaterThan(5);
      expect(
        judged
          .filter((a) => a.judgedUpTo > paused)
          .map((a) => `${a.agencyId} judged up to ${new Date(a.judgedUpTo).toISOString()}`),
        `${slows.length - k} slow stream(s) paused, the earliest at ${new Date(paused).toISOString()}`,
      ).toEqual([]);
      await slowStreams[k]?.send(resumed.after);
      slowStreams[k]?.end();
    }
    const acks = [...slowStreams.flatMap((t) => t.acks), ...fastAcks];
    expect(acks.filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`)).toEqual([]);
    expect(acks).toHaveLength(commands.length);
    await expectEndOfLoad(s, md, commands);
    const flagged = await unary<scoring.ListSupervisionOrdersResponse>((cb) =>
      s.scoringClient.listSupervisionOrders(
        scoring.ListSupervisionOrdersRequest.fromPartial({ unwarrantedOnly: true }),
        md,
        cb,
      ),
    );
    expect(flagged.orders.map((o) => `${o.orderId}: ${o.unwarrantedActions.join(', ')}`)).toEqual(
      [],
    );
  };

  it('judges no agency past the slow stream while it is open, and takes exactly the actions the plan dates before each agency’s latest event', async () => {
    sys = await startSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' } });
    await pausedThenResumed(sys, [sys.intakeClient], 'parallel-streams');
  }, 300_000);

  it('does so too when the two streams are on two intake instances, which share their streams’ holds', async () => {
    // Until 2026-12-07 each instance held a feed back by its own streams
    // only: the fast stream's instance judged every agency up to its time
    // while the slow one was paused, and the slow stream's conclusions,
    // dated in time, came after OVERDUE and APPROACHING orders (20 orders,
    // 60 actions flagged in this year). Until 2026-12-07 a stream counted
    // for the other instance only once that one had read of it, up to two
    // sharing rounds later, and the fast stream, started with the slow one,
    // ran weeks past it meanwhile.
    sys = await startWholeSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' } });
    const beside = await sys.startIntakeBeside();
    const besideClient = new intake.CaseIntakeServiceClient(
      beside.address,
      credentials.createInsecure(),
    );
    try {
      await pausedThenResumed(sys, [besideClient], 'split-instances');
    } finally {
      besideClient.close();
      await beside.stop();
    }
  }, 300_000);

  it('does so too with three streams on three intake instances, two paused at different points', async () => {
    // Each instance hears of the other two through the store alone: a feed
    // is held by the earlier of the two paused streams, wherever it is.
    sys = await startWholeSystem({ scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' } });
    const beside = [await sys.startIntakeBeside(), await sys.startIntakeBeside()];
    const clients = beside.map(
      (b) => new intake.CaseIntakeServiceClient(b.address, credentials.createInsecure()),
    );
    try {
      await pausedThenResumed(sys, clients, 'three-instances');
    } finally {
      for (const c of clients) c.close();
      await Promise.all(beside.map((b) => b.stop()));
    }
  }, 300_000);

  /**
   * A whole system whose intake has `intakeEnv`: the fast stream's part of
   * a year sent whole, the slow one's up to its pause over a stream left
   * open; every item accepted.
   */
  const pausedLoad = async (seed: string, intakeEnv: Record<string, string>) => {
    sys = await startWholeSystem({
      scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' },
      intakeEnv,
    });
    const s = sys;
    const md = await tokenFor(['agency', 'supervisor', 'reporting'], ['*']);
    const { fast, before } = splitYear(seed);
    const slowStream = openStream(s.intakeClient, md);
    const fastDone = submitAll(s.intakeClient, md, fast);
    await slowStream.send(before);
    const acks = [...slowStream.acks, ...(await fastDone)];
    expect(acks.filter((a) => !a.accepted).map((a) => `${a.errorCode} ${a.reason}`)).toEqual([]);
    return { s, md, slowStream, sent: [...before, ...fast] };
  };

  it('lets the feeds go once the paused stream has sent nothing for STREAM_IDLE_MS, though it stays open: every agency judged up to its latest event', async () => {
    const { s, md, slowStream, sent } = await pausedLoad('parallel-streams-idle', {
      STREAM_IDLE_MS: '2000',
    });
    try {
      // What was sent, judged as far as it goes: the open stream holds nothing back.
      await expectEndOfLoad(s, md, sent);
    } finally {
      slowStream.end();
    }
  }, 300_000);

  it('lets the feeds go once the intake instance of the paused stream dies without a word, its holds let go after STREAM_HOLDS_LEASE_MS', async () => {
    sys = await startWholeSystem({
      scoringEnv: { RULES_CLOCK: 'events', RULES_TICK_MS: '500' },
      intakeEnv: { STREAM_IDLE_MS: '3600000', STREAM_HOLDS_LEASE_MS: '2000' },
    });
    const s = sys;
    const beside = await s.startIntakeBeside();
    const besideClient = new intake.CaseIntakeServiceClient(
      beside.address,
      credentials.createInsecure(),
    );
    try {
      const md = await tokenFor(['agency', 'supervisor', 'reporting'], ['*']);
      const { fast, before, pausedAt } = splitYear('parallel-streams-died');
      // The slow stream first, heard of by the other instance before the fast one starts.
      const slowStream = openStream(besideClient, md);
      await slowStream.send(before);
      await new Promise((r) => setTimeout(r, 3_000));
      await submitAll(s.intakeClient, md, fast);
      await caughtUp(s, md, YEAR, new Date());
      await new Promise((r) => setTimeout(r, 3_000));
      // Held back by the paused stream on the other instance.
      const judged = (await s.scoring.runtime.rulesStatus()).agencies;
      expect(judged.filter((a) => a.judgedUpTo > pausedAt)).toEqual([]);
      // Its instance dies: its record stays, its beat stops.
      await beside.kill();
      await expectEndOfLoad(s, md, [...before, ...fast]);
    } finally {
      besideClient.close();
      await beside.stop().catch(() => undefined);
    }
  }, 300_000);

  it('lets the feeds go once the paused stream is cancelled by its sender: every agency judged up to its latest event', async () => {
    // Far beyond the test: only the cancellation can let the feeds go.
    const { s, md, slowStream, sent } = await pausedLoad('parallel-streams-cancelled', {
      STREAM_IDLE_MS: '3600000',
    });
    slowStream.cancel();
    // What was sent, judged as far as it goes: the cancelled stream holds nothing back.
    await expectEndOfLoad(s, md, sent);
  }, 300_000);
});
