import { afterAll, describe, expect, it } from 'vitest';
import { credentials, status } from '@grpc/grpc-js';
import { intake } from '@enforcement/contracts';
import { namespaced } from '@enforcement/messaging';
import { serviceEnv, stack, tokenFor, unary, uniqueName } from '@enforcement/testing';
import { startService, type ServiceProcess } from '../bench/processes.js';
import { ingressFeed, type IngressFeed } from '../support/ingress-feed.js';
import { loop } from '../support/loop.js';

const CASES = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A producer pipelines a case's commands to intake's Kafka ingress. When
 * one is refused ABORTED (written for a version the case is not at), the
 * ingress holds the case in its partition: what was published behind it is
 * refused too, until that command comes again (docs/intake.md). The hold is
 * in the partition's ledger before its receipt goes. Here the intake
 * process that made the holds dies by SIGKILL, as a crash or the OOM killer
 * would end it, in the middle of the stream: batches stored and answered
 * but not committed are read again by the next process, which must meet
 * every hold as the dead one left it, and so must the one after it, killed
 * too. Before, only a graceful stop was tried (`ingress-holds.int.test.ts`).
 */
describe('intake killed -9 while cases are held in its Kafka ingress', () => {
  const run = uniqueName('held-kill');
  const env = {
    ...serviceEnv(run),
    TOPIC_NAMESPACE: run,
    MONGODB_DB: `${run.replace(/-/g, '_')}_intake`,
    INGRESS_ENABLED: 'true',
  };
  const processes: ServiceProcess[] = [];
  let feed: IngressFeed | undefined;
  afterAll(async () => {
    await feed?.close();
    await Promise.all(processes.map((p) => p.kill()));
  });
  const start = async () => {
    const p = await startService('case-intake', env);
    processes.push(p);
    return p;
  };

  /** Each case's commands: four the first time, then the refused evidence sent again and the notice. */
  const cases = Array.from({ length: CASES }, (_, i) => {
    const x = loop(`${run}-c${i}`, new Date(Date.UTC(2026, 2, 1 + (i % 20))));
    const [evidence, notice] = x.steps();
    const progress = (r: intake.RecordProgressRequest | undefined, expectedVersion?: number) =>
      ({
        $case: 'recordProgress',
        value: { ...r, meta: { ...r?.meta, expectedVersion } },
      }) as intake.Command['kind'];
    return {
      caseId: `${run}-c${i}`,
      evidenceId: evidence?.meta?.commandId ?? '',
      register: { $case: 'registerCase', value: x.register } as intake.Command['kind'],
      dispatch: { $case: 'dispatchCase', value: x.dispatch } as intake.Command['kind'],
      // Written for a version the case is not at: refused ABORTED, and the case held.
      staleEvidence: progress(evidence, 7),
      evidence: progress(evidence, 2),
      notice: progress(notice),
    };
  });
  // The list's order is each submission's sequence (from 1); keyed by case, each case keeps it.
  const rounds = [
    cases.flatMap((c) => [c.register, c.dispatch, c.staleEvidence]),
    cases.map((c) => c.notice),
    cases.flatMap((c) => [c.evidence, c.notice]),
  ];
  const commands = rounds.flat().map((kind) => ({ kind }));
  const bounds = rounds.reduce<number[]>((b, r) => [...b, (b.at(-1) ?? 0) + r.length], [0]);
  const [, heldEnd = 0, noticesEnd = 0, allEnd = 0] = bounds;

  const answers = (from: number, to: number) =>
    Array.from({ length: to - from }, (_, i) => {
      const r = feed?.receipts.get(from + i + 1);
      return [from + i + 1, r?.accepted, r?.statusCode];
    });
  const expected = (from: number, to: number, ok: (i: number) => boolean) =>
    Array.from({ length: to - from }, (_, i) => [
      from + i + 1,
      ok(from + i),
      ok(from + i) ? status.OK : status.ABORTED,
    ]);
  /** Waits until some receipt in [from, to) says ABORTED: a hold exists, made by the process reading now. */
  const untilRefused = async (from: number, to: number) => {
    const until = Date.now() + 120_000;
    for (;;) {
      for (let s = from + 1; s <= to; s++)
        if (feed?.receipts.get(s)?.statusCode === status.ABORTED) return;
      if (Date.now() > until) throw new Error(`no submission in ${from + 1}..${to} refused`);
      await sleep(5);
    }
  };
  const historyOf = async (p: ServiceProcess, caseId: string) => {
    const client = new intake.CaseIntakeServiceClient(p.address, credentials.createInsecure());
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    try {
      const r = await unary<intake.GetCaseResponse>((cb) => client.getCase({ caseId }, md, cb));
      return r.history.map((e) => e.payload?.$case);
    } finally {
      client.close();
    }
  };

  it('the next process meets every hold the dead one made: no later submission of a held case runs until the refused one comes again', async () => {
    const md = await tokenFor(['agency', 'supervisor'], ['lz-eeb']);
    const first = await start();
    feed = await ingressFeed({
      brokers: stack().kafkaBrokers,
      topics: namespaced(run),
      commands,
      bearer: String(md.get('authorization')[0]),
      group: `${run}-receipts`,
    });

    // Registrations, dispatches and stale evidence; SIGKILL at the first refusal's receipt.
    await feed.publish(0, heldEnd);
    await untilRefused(0, heldEnd);
    await first.kill();

    // What each case's producer published behind its refused evidence, to a dead intake.
    await feed.publish(heldEnd, noticesEnd);
    const second = await start();
    // The next process answers them (or first what the dead one left uncommitted): killed too.
    await untilRefused(heldEnd, noticesEnd);
    await second.kill();

    const third = await start();
    await feed.answered(noticesEnd, 180_000);
    // A batch read again is answered again as it was the first time: the last receipt is the answer.
    expect(answers(0, noticesEnd)).toEqual(
      expected(0, noticesEnd, (i) => i < heldEnd && i % 3 !== 2),
    );
    // Each notice's refusal names what holds its case: the evidence refused before it.
    cases.forEach((c, i) =>
      expect(feed?.receipts.get(heldEnd + i + 1)?.reason, c.caseId).toContain(c.evidenceId),
    );
    for (const c of cases)
      expect(await historyOf(third, c.caseId), c.caseId).toEqual([
        'caseRegistered',
        'caseDispatched',
      ]);

    // The refused evidence sent again, read right, releases each case: it runs, then what follows it.
    await feed.publish(noticesEnd, allEnd);
    await feed.answered(allEnd, 120_000);
    expect(answers(noticesEnd, allEnd)).toEqual(expected(noticesEnd, allEnd, () => true));
    for (const c of cases)
      expect(await historyOf(third, c.caseId), c.caseId).toEqual([
        'caseRegistered',
        'caseDispatched',
        'evidenceRecorded',
        'partyNotified',
      ]);
  }, 600_000);
});
